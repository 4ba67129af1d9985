"""find_label_issues through .python_func: planted wrong labels come out as ranked, unlabeled suspects."""

import numpy as np
import pytest
from kfp import dsl
from labelloop.components.core import manifest, sample_data
from labelloop.components.find_label_issues import find_label_issues


def artifact(tmp_path, name, cls=dsl.Dataset):
    return cls(name=name, uri=str(tmp_path / name), metadata={})


def run(tmp_path, items, **params):
    outputs = {
        "suspects": artifact(tmp_path, "suspects"),
        "metrics": artifact(tmp_path, "metrics", dsl.Metrics),
        "report": artifact(tmp_path, "report", dsl.HTML),
    }
    find_label_issues.python_func(items=dsl.Dataset(name="items", uri=items, metadata={}), **outputs, **params)
    return outputs


def test_planted_wrong_digit_labels_become_suspects_within_the_budget(tmp_path):
    data = sample_data.load_digits_images()
    n = 360
    labels = list(data.labels[:n])
    wrong = [3, 40, 77, 150, 222, 301]
    for i in wrong:
        labels[i] = "0" if labels[i] != "0" else "1"
    labels[359] = None  # unlabeled: counted, not scored
    items = sample_data.write_image_manifest(data.images[:n], labels, str(tmp_path / "data"))
    out = run(tmp_path, items, max_suspects=20, folds=3)
    suspects = list(manifest.read_jsonl(out["suspects"].path))
    metrics = out["metrics"].metadata
    assert metrics["labeled_items"] == n - 1 and metrics["skipped_unlabeled_items"] == 1
    assert metrics["suspects"] == len(suspects) <= 20
    ids = [manifest.item_id(r) for r in manifest.read_jsonl(items)]
    found = {ids.index(manifest.item_id(r)) for r in suspects}
    assert len(found & set(wrong)) >= 4
    assert all(not manifest.labels_of(r) for r in suspects)
    assert out["suspects"].metadata["item_count"] == len(suspects)
    with open(out["report"].path, encoding="utf-8") as handle:
        assert "suspects sent for verification" in handle.read()


def test_text_items_are_scored_and_an_unknown_task_is_refused(tmp_path):
    texts = sample_data.load_bbc_news()
    rows = np.random.default_rng(0).choice(len(texts.texts), size=600, replace=False)  # the corpus is sorted by class
    labels = [texts.labels[i] for i in rows]
    wrong = set(range(0, 600, 30))
    for i in wrong:
        labels[i] = next(label for label in sorted(set(labels)) if label != labels[i])
    items = sample_data.write_text_manifest([texts.texts[i] for i in rows], labels, str(tmp_path / "data.jsonl"))
    out = run(tmp_path, items, task="text_classification", folds=3)
    suspects = list(manifest.read_jsonl(out["suspects"].path))
    ids = [manifest.item_id(r) for r in manifest.read_jsonl(items)]
    assert len(wrong & {ids.index(manifest.item_id(r)) for r in suspects}) >= len(wrong) // 2
    with pytest.raises(ValueError, match="single-label"):
        run(tmp_path, items, task="tabular_regression")
