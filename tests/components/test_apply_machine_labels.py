"""apply_machine_labels through .python_func on a real data set (digits) and on bad inputs."""

import numpy as np
import pytest
from kfp import dsl
from labelloop.components.apply_machine_labels import apply_machine_labels
from labelloop.components.core import manifest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression


def artifact(tmp_path, name, cls=dsl.Dataset):
    return cls(name=name, uri=str(tmp_path / name), metadata={})


def digits_setup(tmp_path):
    """Train on 600 digits; validation 500, test 400, pool 297 (labels hidden) with predictions for all."""
    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))  # i.i.d. splits
    x, y = bunch.data[order], bunch.target.astype(str)[order]
    model = LogisticRegression(max_iter=2000).fit(x[:600], y[:600])
    ids = [f"d{i}" for i in range(len(y))]
    labeled, pool = [], []
    for i in range(600, len(y)):
        record = {"textContent": f"digit {i}", "dataItemResourceLabels": {manifest.ID_KEY: ids[i]}}
        if i < 1500:
            split = "validation" if i < 1100 else "test"
            labeled.append(manifest.with_label(manifest.with_ml_use(record, split), y[i], source="human"))
        else:
            pool.append(record)
    manifest.write_jsonl(str(tmp_path / "labeled"), labeled)
    manifest.write_jsonl(str(tmp_path / "pool"), pool)
    folder = tmp_path / "pred"
    folder.mkdir()
    np.save(folder / "probabilities.npy", model.predict_proba(x).astype(np.float32))
    (folder / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (folder / "classes.txt").write_text("".join(f"{c}\n" for c in model.classes_))
    return y


def run(tmp_path, **overrides):
    outputs = {
        "machine_labeled": artifact(tmp_path, "machine"),
        "remaining": artifact(tmp_path, "rest"),
        "metrics": artifact(tmp_path, "report", dsl.Metrics),
    }
    apply_machine_labels.python_func(
        pool=artifact(tmp_path, "pool"),
        labeled=artifact(tmp_path, "labeled"),
        predictions=artifact(tmp_path, "pred"),
        model_version=overrides.pop("model_version", "digits-lr-1"),
        target_precision=overrides.pop("target_precision", 0.98),
        confidence_level=0.95,
        **outputs,
    )
    return outputs


def test_confident_items_get_marked_machine_labels_with_measured_precision(tmp_path):
    truth = digits_setup(tmp_path)
    out = run(tmp_path)
    metrics = out["metrics"].metadata
    machine = list(manifest.read_jsonl(out["machine_labeled"].path))
    rest = list(manifest.read_jsonl(out["remaining"].path))
    assert len(machine) + len(rest) == 297 and len(machine) > 150  # most of the pool, not all of it
    assert all(
        manifest.label_source_of(r) == "machine" and manifest.extra_of(r)["model_version"] == "digits-lr-1"
        for r in machine
    )
    assert all(manifest.extra_of(r)["label_confidence"] >= metrics["threshold"] for r in machine)
    assert not any(manifest.labels_of(r) for r in rest)
    correct = np.mean([manifest.label_of(r) == truth[int(manifest.item_id(r)[1:])] for r in machine])
    assert correct >= 0.97
    assert metrics["validation_precision_lower_bound"] >= 0.98 and metrics["test_precision"] >= 0.97
    assert metrics["machine_labeled_items"] == len(machine)


def test_an_unreachable_target_labels_nothing(tmp_path):
    digits_setup(tmp_path)
    out = run(tmp_path, target_precision=0.9999)
    assert out["metrics"].metadata["machine_labeled_items"] == 0
    assert len(list(manifest.read_jsonl(out["remaining"].path))) == 297


def test_missing_class_names_and_predictions_are_errors(tmp_path):
    digits_setup(tmp_path)
    (tmp_path / "pred" / "classes.txt").unlink()
    with pytest.raises(ValueError, match="classes.txt"):
        run(tmp_path)
    digits_setup_again = tmp_path / "again"
    digits_setup_again.mkdir()
    digits_setup(digits_setup_again)
    ids = (digits_setup_again / "pred" / "ids.txt").read_text().splitlines()
    ids[1650] = "renamed"
    (digits_setup_again / "pred" / "ids.txt").write_text("\n".join(ids) + "\n")
    with pytest.raises(KeyError, match="pool item d1650 .* has no prediction"):
        run(digits_setup_again)
    assert not (digits_setup_again / "machine").exists()
