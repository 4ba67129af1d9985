"""predict component: streamed JSONL, float32 scores in manifest order, rejects for bad items."""

import json
import os

import numpy as np
from kfp import dsl
from labelloop.components.core import manifest
from labelloop.components.predict import predict


def test_predict_writes_aligned_outputs_and_rejects_unreadable(tmp_path, trained_model):
    dataset, model = trained_model(tmp_path)
    records = list(manifest.read_jsonl(dataset.path))[:40]
    broken = manifest.with_id({"imageGcsUri": str(tmp_path / "missing.png")}, "f" * 32)
    pool = str(tmp_path / "pool.jsonl")
    manifest.write_jsonl(pool, records[:20] + [broken] + records[20:])
    out = {k: dsl.Dataset(name=k, uri=str(tmp_path / k), metadata={}) for k in ("predictions", "rejects")}
    scores = dsl.Artifact(name="scores", uri=str(tmp_path / "scores"), metadata={})
    stats = dsl.Metrics(name="metrics", uri=str(tmp_path / "stats"), metadata={})
    predict.python_func(
        model=model,
        items=dsl.Dataset(name="p", uri=pool, metadata={}),
        predictions=out["predictions"],
        scores=scores,
        rejects=out["rejects"],
        metrics=stats,
        chunk_size=7,
    )
    lines = list(manifest.read_jsonl(out["predictions"].path))
    matrix = np.load(os.path.join(scores.path, "scores.npy"))
    ids = open(os.path.join(scores.path, "ids.txt")).read().split()
    assert len(lines) == 40 and matrix.shape == (40, 10) and matrix.dtype == np.float32
    assert ids == [manifest.item_id(r) for r in records] == [line["id"] for line in lines]
    assert np.allclose(
        matrix[3], [lines[3]["probabilities"][k] for k in json.load(open(os.path.join(scores.path, "labels.json")))]
    )
    assert lines[0]["label"] == max(lines[0]["probabilities"], key=lines[0]["probabilities"].get)
    rejected = list(manifest.read_jsonl(out["rejects"].path))
    assert len(rejected) == 1 and rejected[0]["line"] == 21 and "missing.png" in rejected[0]["reason"]
    assert stats.metadata == {"predicted_items": 40, "rejected_items": 1}
