"""find_disputes: the evaluation items the model contradicts, only when the job spec asks for a review."""

import json

from kfp import dsl
from labelloop.components.core import manifest as m
from labelloop.components.find_disputes import find_disputes


def spec(**labelloop):
    return json.dumps(
        {
            "displayName": "pets",
            "labelerCount": 3,
            "instructionUri": "gs://b/instructions.pdf",
            "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/image_classification_1.0.0.yaml",
            "inputs": {"annotationSpecs": [{"displayName": "cat"}, {"displayName": "dog"}]},
            "labelloop": labelloop,
        }
    )


def run(tmp_path, job_spec):
    records, predictions = [], []
    for k, (split, cat) in enumerate([("test", 0.9), ("test", 0.1), ("validation", 0.2), ("training", 0.0)]):
        record = {"imageGcsUri": f"gs://b/{k}.png", "dataItemResourceLabels": {"labelloop_id": f"i{k}"}}
        records.append(m.with_label(m.with_ml_use(record, split), "cat", source="human"))
        predictions.append({"id": f"i{k}", "probabilities": {"cat": cat, "dog": 1 - cat}})
    m.write_jsonl(str(tmp_path / "items.jsonl"), records)
    m.write_jsonl(str(tmp_path / "predictions.jsonl"), predictions)
    suspects = dsl.Dataset(name="suspects", uri=str(tmp_path / "out" / "suspects.jsonl"), metadata={})
    metrics = dsl.Metrics(name="metrics", uri=str(tmp_path / "out" / "metrics.json"), metadata={})
    find_disputes.python_func(
        items=dsl.Dataset(name="items", uri=str(tmp_path / "items.jsonl"), metadata={}),
        predictions=dsl.Dataset(name="p", uri=str(tmp_path / "predictions.jsonl"), metadata={}),
        suspects=suspects,
        metrics=metrics,
        job_spec=job_spec,
    )
    return [m.item_id(r) for r in m.read_jsonl(suspects.path)], metrics.metadata


def test_sends_the_confidently_disputed_evaluation_items_when_a_review_is_configured(tmp_path):
    sent, metrics = run(tmp_path, spec(disputeReview={"minConfidence": 0.7}))
    assert sent == ["i1", "i2"]  # dog at 0.9 and 0.8; the training item is not an evaluation label
    assert metrics["review_enabled"] == 1 and metrics["disputed_test_items"] == 1 and metrics["sent_for_review"] == 2


def test_sends_nothing_without_a_review(tmp_path):
    sent, metrics = run(tmp_path, spec())
    assert sent == [] and metrics["review_enabled"] == 0 and metrics["sent_for_review"] == 0


def test_sends_nothing_for_multi_label_jobs(tmp_path):
    multi = json.loads(spec(disputeReview={}))
    multi["inputs"]["multiLabel"] = True
    sent, metrics = run(tmp_path, json.dumps(multi))
    assert sent == [] and metrics["review_enabled"] == 0
