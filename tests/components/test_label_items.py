"""label_items on a simulated crowd: outputs, budget, resume without re-buying, bad inputs, a kfp.local run."""

import json

import numpy as np
import pytest
from kfp import dsl
from labelloop.components.core import manifest as m
from labelloop.components.core import simulated_crowd as sc
from labelloop.components.core.annotation_store import AnnotationStore, review_store_uri
from labelloop.components.label_items import label_items

CLASSES = ["cat", "dog", "bird"]
SCHEMA = "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/image_classification_1.0.0.yaml"


def job(**labelloop):
    return json.dumps(
        {
            "displayName": "pets",
            "labelerCount": 3,
            "instructionUri": "gs://b/instructions.pdf",
            "inputsSchemaUri": SCHEMA,
            "inputs": {"annotationSpecs": [{"displayName": c} for c in CLASSES]},
            "annotationLabels": {"team": "vision"},
            "labelloop": labelloop,
        }
    )


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    records, truth = [], {}
    for k in range(120):
        item_id = m.content_id(f"image-{k}")
        records.append(
            {
                "imageGcsUri": f"gs://b/{k}.jpg",
                "dataItemResourceLabels": {"labelloop_id": item_id},
                "custom": {"keep": k},
            }
        )
        truth[item_id] = CLASSES[rng.integers(3)]
    m.write_jsonl(str(tmp_path / "items.jsonl"), records)
    sc.write_ground_truth(str(tmp_path / "truth.jsonl"), truth)
    return tmp_path, records, truth


def run(tmp_path, name, spec, **kwargs):
    out = tmp_path / name
    artifacts = {
        "labeled": dsl.Dataset(name="labeled", uri=str(out / "labeled.jsonl"), metadata={}),
        "annotations": dsl.Dataset(name="annotations", uri=str(out / "annotations.jsonl"), metadata={}),
        "rejects": dsl.Dataset(name="rejects", uri=str(out / "rejects.jsonl"), metadata={}),
        "report": dsl.HTML(name="report", uri=str(out / "report.html"), metadata={}),
        "metrics": dsl.Metrics(name="metrics", uri=str(out / "metrics.json"), metadata={}),
    }
    kwargs.setdefault("backend", "simulated")
    kwargs.setdefault("items", dsl.Dataset(name="items", uri=str(tmp_path / "items.jsonl"), metadata={}))
    kwargs.setdefault("ground_truth_uri", str(tmp_path / "truth.jsonl"))
    kwargs.setdefault("annotation_store_uri", str(tmp_path / "store"))
    kwargs.setdefault("simulated_crowd", json.dumps({"nLabelers": 5, "seed": 1}))
    label_items.python_func(job_spec=spec, **artifacts, **kwargs)
    return artifacts


def test_labels_every_item_with_consensus_confidence_and_quality(data):
    tmp_path, records, truth = data
    # a crowd of 90 % labelers: the default rule learns that two of them agreeing settle an item
    out = run(
        tmp_path,
        "run1",
        job(),
        simulated_crowd=json.dumps({"nLabelers": 5, "seed": 1, "accuracy": 0.9, "accuracySpread": 0.08}),
    )
    labeled = list(m.read_jsonl(out["labeled"].path))
    assert [m.item_id(r) for r in labeled] == [m.item_id(r) for r in records]
    assert all(r["custom"] == s["custom"] for r, s in zip(labeled, records))  # unknown fields carried through
    assert all(m.label_source_of(r) == "human" and 0 < m.extra_of(r)["label_confidence"] <= 1 for r in labeled)
    assert all(r["classificationAnnotation"]["annotationResourceLabels"]["team"] == "vision" for r in labeled)
    assert all("label" not in r and "ground_truth" not in json.dumps(r) for r in labeled)  # truth never leaks
    accuracy = np.mean([m.label_of(r) == truth[m.item_id(r)] for r in labeled])
    assert accuracy > 0.8
    metrics = out["metrics"].metadata
    assert metrics["labeling_progress"] == 100 and metrics["items_labeled"] == 120
    assert 1.0 < metrics["mean_labels_per_item"] < 3.0  # adaptive: not every item needed three
    assert metrics["current_spend_usd"] == pytest.approx(metrics["labels_bought_this_run"] * 0.05)
    assert 0 < metrics["fleiss_kappa"] < 1
    job_resource = out["labeled"].metadata["labelingJob"]
    assert job_resource["state"] == "JOB_STATE_SUCCEEDED" and job_resource["labelingProgress"] == 100
    raw = list(m.read_jsonl(out["annotations"].path))
    assert len(raw) == metrics["labels_total"] and {"item_id", "labeler_id", "value", "cost_usd"} <= set(raw[0])
    report = (tmp_path / "run1" / "report.html").read_text()
    assert "Labelers&#x27; answers vs consensus" in report and "sim-0" in report


def test_rerun_after_finishing_buys_nothing_and_gives_the_same_labels(data):
    tmp_path, _, _ = data
    first = run(tmp_path, "run1", job())
    second = run(tmp_path, "run2", job())
    assert second["metrics"].metadata["labels_bought_this_run"] == 0
    assert second["metrics"].metadata["current_spend_usd"] == first["metrics"].metadata["current_spend_usd"]
    labels = lambda out: [m.label_of(r) for r in m.read_jsonl(out["labeled"].path)]  # noqa: E731
    assert labels(first) == labels(second)


def test_budget_is_never_exceeded_and_unlabeled_items_are_kept_and_counted(data):
    tmp_path, records, _ = data
    out = run(tmp_path, "run1", job(budget={"maxSpendUsd": 2.0}))
    metrics = out["metrics"].metadata
    assert metrics["current_spend_usd"] <= 2.0 + 1e-9 and metrics["labels_bought_this_run"] == 40
    labeled = list(m.read_jsonl(out["labeled"].path))
    assert len(labeled) == len(records)
    unlabeled = [r for r in labeled if not m.labels_of(r)]
    assert len(unlabeled) == metrics["items_unlabeled_over_budget"] == 80
    assert all(m.extra_of(r)["labeling_status"] == "over_budget" for r in unlabeled)
    assert out["labeled"].metadata["labelingJob"]["state"] == "JOB_STATE_PARTIALLY_SUCCEEDED"
    # a bigger budget on re-run continues where the first stopped, without re-buying
    more = run(tmp_path, "run2", job(budget={"maxSpendUsd": 100.0}))
    assert more["metrics"].metadata["items_labeled"] == 120
    assert more["metrics"].metadata["current_spend_usd"] == pytest.approx(
        2.0 + more["metrics"].metadata["spend_this_run_usd"]
    )


def test_max_items_limits_how_many_items_go_to_humans(data):
    tmp_path, _, _ = data
    out = run(tmp_path, "run1", job(), max_items=10)
    assert out["metrics"].metadata["items_labeled"] == 10


def test_fixed_redundancy_buys_labeler_count_labels_per_item(data):
    tmp_path, _, _ = data
    out = run(tmp_path, "run1", job(adaptive={"enabled": False}, consensus="majority_vote"))
    assert out["metrics"].metadata["labels_bought_this_run"] == 360


def test_confident_model_predictions_save_labels(data):
    tmp_path, _, truth = data
    predictions = tmp_path / "predictions.jsonl"
    m.write_jsonl(
        str(predictions),
        ({"id": i, "probabilities": {c: (0.96 if c == t else 0.02) for c in CLASSES}} for i, t in truth.items()),
    )
    with_model = run(
        tmp_path,
        "with",
        job(),
        predictions=dsl.Dataset(name="p", uri=str(predictions), metadata={}),
        annotation_store_uri=str(tmp_path / "store-with"),
    )
    without = run(tmp_path, "without", job(), annotation_store_uri=str(tmp_path / "store-without"))
    assert (
        with_model["metrics"].metadata["labels_bought_this_run"] < without["metrics"].metadata["labels_bought_this_run"]
    )


def test_bad_items_go_to_rejects_with_a_reason(tmp_path, data):
    tmp_path, records, _ = data
    bad = [{"imageGcsUri": "gs://b/no-id.jpg"}, {"textContent": "hi", "dataItemResourceLabels": {"labelloop_id": "t1"}}]
    m.write_jsonl(str(tmp_path / "mixed.jsonl"), records[:5] + bad)
    out = run(tmp_path, "run1", job(), items=dsl.Dataset(name="x", uri=str(tmp_path / "mixed.jsonl"), metadata={}))
    rejects = list(m.read_jsonl(out["rejects"].path))
    assert [(r["line"], r["reason_code"]) for r in rejects] == [(6, "no_id"), (7, "wrong_content")]
    assert {r["step"] for r in rejects} == {"label_items"}
    assert rejects[0]["record"] == bad[0] and "import_dataset" in rejects[0]["reason"]
    assert len(list(m.read_jsonl(out["labeled"].path))) == 5


def test_bad_spec_ground_truth_and_backend_are_clear_errors(data):
    tmp_path, _, _ = data
    with pytest.raises(ValueError, match="labelerCount must be a positive integer"):
        run(tmp_path, "a", job().replace('"labelerCount": 3', '"labelerCount": 0'))
    with pytest.raises(ValueError, match="needs ground_truth_uri"):
        run(tmp_path, "b", job(), ground_truth_uri="")
    with pytest.raises(ValueError, match="backend must be 'simulated' or 'label_studio'"):
        run(tmp_path, "c", job(), backend="mturk")
    (tmp_path / "partial-truth.jsonl").write_text('{"id": "nope", "label": "cat"}\n')
    with pytest.raises(KeyError, match="have no ground truth"):
        run(tmp_path, "d", job(), ground_truth_uri=str(tmp_path / "partial-truth.jsonl"))
    assert not (tmp_path / "d" / "labeled.jsonl").exists()  # nothing half-written


def test_label_studio_backend_without_environment_is_a_clear_error(data, monkeypatch):
    tmp_path, _, _ = data
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    with pytest.raises(RuntimeError, match="LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"):
        run(tmp_path, "a", job(), backend="label_studio")


def test_runs_in_a_local_pipeline(data):
    from kfp import local

    tmp_path, _, _ = data
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))

    @dsl.pipeline
    def labeling(items_uri: str, truth_uri: str, store_uri: str, spec: str):
        items = dsl.importer(artifact_uri=items_uri, artifact_class=dsl.Dataset)
        label_items(
            items=items.output,
            job_spec=spec,
            annotation_store_uri=store_uri,
            backend="simulated",
            ground_truth_uri=truth_uri,
            simulated_crowd=json.dumps({"nLabelers": 5}),
        )

    labeling(
        items_uri=str(tmp_path / "items.jsonl"),
        truth_uri=str(tmp_path / "truth.jsonl"),
        store_uri=str(tmp_path / "store"),
        spec=job(),
    )
    stored = list((tmp_path / "store" / "annotations").glob("part-*.jsonl"))
    assert stored


def test_table_rows_are_labeled_by_the_simulated_crowd(tmp_path):
    rng = np.random.default_rng(1)
    records, truth = [], {}
    for k in range(40):
        row = {"alcohol": round(float(rng.normal(13, 1)), 2), "estate": f"estate_{k % 4}", "hue": None}
        item_id = m.content_id(json.dumps(row))
        records.append({"tableRow": row, "dataItemResourceLabels": {"labelloop_id": item_id}})
        truth[item_id] = CLASSES[rng.integers(3)]
    m.write_jsonl(str(tmp_path / "items.jsonl"), records)
    sc.write_ground_truth(str(tmp_path / "truth.jsonl"), truth)
    spec = json.loads(job(taskType="tabular_classification"))
    del spec["inputsSchemaUri"]  # Vertex has no labeling schema for table rows
    crowd = json.dumps({"nLabelers": 5, "seed": 1, "accuracy": 0.9, "accuracySpread": 0.08})
    out = run(tmp_path, "rows", json.dumps(spec), simulated_crowd=crowd)
    labeled = list(m.read_jsonl(out["labeled"].path))
    assert [r["tableRow"] for r in labeled] == [r["tableRow"] for r in records]  # the row travels untouched
    assert all(m.label_source_of(r) == "human" for r in labeled) and len(labeled) == 40
    assert np.mean([m.label_of(r) == truth[m.item_id(r)] for r in labeled]) > 0.8
    assert out["metrics"].metadata["items_labeled"] == 40


def test_a_text_item_in_a_table_job_is_rejected_with_the_reason(tmp_path, data):
    tmp_path, _, _ = data
    spec = json.loads(job(taskType="tabular_classification"))
    del spec["inputsSchemaUri"]
    out = run(tmp_path, "wrong", json.dumps(spec))
    rejects = list(m.read_jsonl(out["rejects"].path))
    assert len(rejects) == 120 and "tableRow" in rejects[0]["reason"]


def test_a_dispute_review_asks_its_own_reviewers_and_pays_from_its_own_store(data):
    tmp_path, records, truth = data
    reviewer = {"nLabelers": 1, "accuracy": 1.0, "accuracySpread": 0.0, "seed": 9}
    crowd = {"nLabelers": 5, "seed": 1, "reviewers": reviewer}
    run(tmp_path, "crowd", job(), simulated_crowd=json.dumps(crowd))
    crowd_store = AnnotationStore(str(tmp_path / "store"))
    bought = len(crowd_store.load_annotations())
    disputed = tmp_path / "disputes.jsonl"
    m.write_jsonl(str(disputed), records[:10])
    spec = job(disputeReview={"labelerCount": 1, "pricePerLabelUsd": 0.25})
    out = run(
        tmp_path,
        "review",
        spec,
        items=dsl.Dataset(name="items", uri=str(disputed), metadata={}),
        simulated_crowd=json.dumps(crowd),
        review=True,
    )
    labeled = list(m.read_jsonl(out["labeled"].path))
    # the crowd answered these items already; the reviewer still answers each once, and is right
    assert [m.label_of(r) for r in labeled] == [truth[m.item_id(r)] for r in records[:10]]
    assert all(m.extra_of(r)["human_labels"] == 1 for r in labeled)
    review_store = AnnotationStore(review_store_uri(str(tmp_path / "store")))
    assert len(review_store.load_annotations()) == 10 and review_store.spent_usd() == pytest.approx(2.5)
    assert len(crowd_store.load_annotations()) == bought  # the crowd's store is untouched


def test_a_dispute_review_without_review_settings_or_items_buys_nothing(data):
    tmp_path, records, truth = data
    out = run(tmp_path, "review", job(), review=True)
    assert (
        list(m.read_jsonl(out["labeled"].path)) == []
        and "no labelloop.disputeReview" in open(out["report"].path).read()
    )
    assert not (tmp_path / "store" / "review").exists()
