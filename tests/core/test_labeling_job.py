"""The DataLabelingJob-shaped spec: validation, prices, states, progress and the resource."""

import json

import pytest
from labelloop.components.core import labeling_job as lj

SCHEMA = "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/"


def spec_dict(**overrides):
    spec = {
        "displayName": "pets round 1",
        "labelerCount": 3,
        "instructionUri": "gs://bucket/instructions.pdf",
        "inputsSchemaUri": SCHEMA + "image_classification_1.0.0.yaml",
        "inputs": {"annotationSpecs": [{"displayName": "cat"}, {"displayName": "dog"}]},
        "annotationLabels": {"team": "vision"},
        "labels": {"env": "prod"},
    }
    spec.update(overrides)
    return spec


def test_parses_a_datalabelingjob_with_defaults():
    spec = lj.parse_job_spec(json.dumps(spec_dict()))
    assert spec.task_type is lj.TaskType.IMAGE_CLASSIFICATION
    assert spec.annotation_specs == ("cat", "dog")
    assert spec.labeler_count == 3
    assert spec.price_per_label_usd == pytest.approx(0.05)  # low end of $0.05–0.08
    assert spec.budget == lj.Budget()
    assert spec.adaptive.enabled and spec.consensus_method == "dawid_skene"


@pytest.mark.parametrize(
    ("schema", "multi", "task_type", "price"),
    [
        ("text_classification", False, lj.TaskType.TEXT_CLASSIFICATION, 0.01),
        ("image_classification", True, lj.TaskType.IMAGE_MULTI_LABEL, 0.05),
        ("image_bounding_box", False, lj.TaskType.IMAGE_BOUNDING_BOX, 0.10),
        ("text_extraction", False, lj.TaskType.TEXT_ENTITY_SPANS, 0.03),
    ],
)
def test_task_type_and_default_price_follow_the_inputs_schema(schema, multi, task_type, price):
    spec = lj.parse_job_spec(
        spec_dict(
            inputsSchemaUri=f"{SCHEMA}{schema}_1.0.0.yaml",
            inputs={"annotationSpecs": [{"displayName": "a"}], "multiLabel": multi},
        )
    )
    assert spec.task_type is task_type
    assert spec.price_per_label_usd == pytest.approx(price)


def test_specialist_pools_multiply_the_price():
    spec = lj.parse_job_spec(
        spec_dict(
            specialistPools=["projects/p/locations/l/specialistPools/radiology"],
            labelloop={"pricePerLabelUsd": 0.08, "specialistMultiplier": 5},
        )
    )
    assert spec.price_per_label_usd == pytest.approx(0.40)


def test_budget_takes_the_tighter_of_budget_and_active_learning_config():
    spec = lj.parse_job_spec(
        spec_dict(
            activeLearningConfig={"maxDataItemCount": "300"},
            labelloop={"budget": {"maxItems": 500, "maxSpendUsd": 12.5}},
        )
    )
    assert spec.budget == lj.Budget(300, 12.5)
    assert spec.budget.tightened(100) == lj.Budget(100, 12.5)
    assert spec.budget.tightened(None) == spec.budget


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"displayName": "x" * 129}, "displayName is 129 characters long"),
        ({"displayName": ""}, "displayName is required"),
        ({"labelerCount": 0}, "labelerCount must be a positive integer"),
        ({"labelerCount": "three"}, "labelerCount must be a positive integer"),
        ({"instructionUri": "instructions.pdf"}, "instructionUri 'instructions.pdf'"),
        ({"inputs": {"annotationSpecs": []}}, "annotationSpecs is empty"),
        ({"inputs": {"annotationSpecs": [{"displayName": "cat"}, {"displayName": "cat"}]}}, "'cat' appears twice"),
        ({"inputsSchemaUri": SCHEMA + "video_1.0.0.yaml"}, "not a supported labeling task"),
        ({"labels": {"Team": "x"}}, "key 'Team' must be at most 64 lowercase"),
        ({"labels": {"team": "a" * 65}}, "must be at most 64 lowercase"),
        ({"annotationLabels": {"aiplatform.googleapis.com/x": "y"}}, "reserved prefix"),
        ({"state": "JOB_STATE_SUCCEEDED"}, "state is output only"),
        ({"labelerCnt": 3}, "unknown field labelerCnt"),
        ({"labelloop": {"budget": {"maxSpendUsd": -1}}}, "maxSpendUsd must be a number ≥ 0"),
        ({"labelloop": {"budjet": {}}}, "unknown field labelloop.budjet"),
        ({"labelloop": {"consensus": "vote"}}, "labelloop.consensus must be one of"),
        ({"labelloop": {"reviewThreshold": 1.5}}, "reviewThreshold must be a number between 0 and 1"),
        ({"labelloop": {"specialistMultiplier": 0.5}}, "at least 1"),
        (
            {
                "labelloop": {"taskType": "image_classification"},
                "inputsSchemaUri": SCHEMA + "text_classification_1.0.0.yaml",
            },
            "does not match task type",
        ),
    ],
)
def test_invalid_specs_name_the_field(change, message):
    with pytest.raises(lj.LabelingJobSpecError, match=message.replace("(", r"\(").replace("[", r"\[")):
        lj.parse_job_spec(spec_dict(**change))


def test_not_json_is_a_clear_error():
    with pytest.raises(lj.LabelingJobSpecError, match="not valid JSON"):
        lj.parse_job_spec("{displayName: pets}")


def test_progress_and_money():
    assert lj.labeling_progress(0, 10) == 0
    assert lj.labeling_progress(7, 9) == 77
    assert lj.labeling_progress(9, 9) == 100
    assert lj.labeling_progress(0, 0) == 100
    assert lj.money(12.34) == {"currencyCode": "USD", "units": "12", "nanos": 340000000}


def test_job_resource_has_the_output_only_fields():
    spec = lj.parse_job_spec(spec_dict())
    status = lj.JobStatus(lj.JobState.RUNNING, 40, 1.5, 10, 4)
    resource = lj.job_resource(spec, status, create_time="2025-01-01T00:00:00Z", update_time="2025-01-01T01:00:00Z")
    assert resource["state"] == "JOB_STATE_RUNNING"
    assert resource["labelingProgress"] == 40
    assert resource["currentSpend"] == {"currencyCode": "USD", "units": "1", "nanos": 500000000}
    assert resource["inputsSchemaUri"] == SCHEMA + "image_classification_1.0.0.yaml"
    assert resource["labels"]["aiplatform.googleapis.com/schema"] == "image_classification"
    # the resource parses back once its output-only fields are removed
    for key in lj.OUTPUT_ONLY_FIELDS:
        resource.pop(key, None)
    resource["labels"].pop("aiplatform.googleapis.com/schema")
    assert lj.parse_job_spec(resource).annotation_specs == spec.annotation_specs


def test_report_escapes_html():
    page = lj.render_report_html("<job>", [lj.ReportSection("t", "a & b", ("k", "v"), (("<x>", 1.23456),))])
    assert "&lt;job&gt;" in page and "a &amp; b" in page and "<td>1.235</td>" in page and "<x>" not in page


def test_adaptive_posterior_settings_parse_and_bad_values_are_named():
    raw = spec_dict(labelloop={"adaptive": {"stopProbability": 0.95, "labelerAccuracy": 0.8, "modelInConsensus": True}})
    adaptive = lj.parse_job_spec(json.dumps(raw)).adaptive
    assert (adaptive.stop_probability, adaptive.labeler_accuracy, adaptive.model_in_consensus) == (0.95, 0.8, True)
    assert adaptive.rule == "posterior"  # stopProbability alone still asks for the fixed-accuracy posterior
    default = lj.parse_job_spec(json.dumps(spec_dict())).adaptive
    assert (default.rule, default.stop_probability, default.model_in_consensus) == ("estimated", 0.98, True)
    assert default == lj.AdaptiveSettings()  # the parser and the dataclass agree on every default
    off = lj.parse_job_spec(json.dumps(spec_dict(labelloop={"adaptive": {"minGainPerLabel": 0}}))).adaptive
    assert (default.min_gain_per_label, off.min_gain_per_label) == (lj.DEFAULT_MIN_GAIN_PER_LABEL, 0.0)
    votes = lj.parse_job_spec(json.dumps(spec_dict(labelloop={"adaptive": {"rule": "votes"}}))).adaptive
    assert not votes.model_in_consensus
    for bad in (
        {"stopProbability": 1.0},
        {"labelerAccuracy": 0},
        {"modelInConsensus": "yes"},
        {"rule": "posterior"},
        {"rule": "guess"},
        {"priorStrength": 0},
        {"modelTrust": 1},
        {"minGainPerLabel": 1},
        {"minGainPerLabel": -0.01},
        {"minGainPerLabel": True},
    ):
        with pytest.raises(lj.LabelingJobSpecError, match="labelloop.adaptive"):
            lj.parse_job_spec(json.dumps(spec_dict(labelloop={"adaptive": bad})))


def test_dispute_review_is_off_unless_asked_and_its_job_has_its_own_reviewers_price_and_budget():
    assert lj.parse_job_spec(spec_dict()).dispute_review is None
    with pytest.raises(lj.LabelingJobSpecError, match="disputeReview"):
        lj.review_job_spec(lj.parse_job_spec(spec_dict()))
    spec = lj.parse_job_spec(
        spec_dict(labelloop={"pricePerLabelUsd": 0.06, "disputeReview": {"labelerCount": 2, "maxItems": 30}})
    )
    assert spec.dispute_review == lj.DisputeReview(2, 0.06, 0.5, 30, None)  # the job's price unless given
    review = lj.review_job_spec(spec)
    assert review.display_name == "pets round 1 (review)" and review.labeler_count == 2
    assert review.budget == lj.Budget(30, None) and review.price_per_label_usd == pytest.approx(0.06)
    # every reviewer at once, by majority, and the model (the other side of the dispute) never votes
    assert not review.adaptive.enabled and not review.adaptive.model_in_consensus
    assert review.consensus_method == "majority_vote" and review.dispute_review is None
    assert review.annotation_specs == spec.annotation_specs and review.task_type is spec.task_type


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ({"labelerCount": 0}, "disputeReview.labelerCount must be a positive integer"),
        ({"minConfidence": 2}, "disputeReview.minConfidence must be a number between 0 and 1"),
        ({"pricePerLabelUsd": -1}, "disputeReview.pricePerLabelUsd must be a number"),
        ({"reviewers": 3}, "unknown field labelloop.disputeReview.reviewers"),
        ("yes", "disputeReview must be an object"),
    ],
)
def test_a_bad_dispute_review_names_the_field(review, message):
    with pytest.raises(lj.LabelingJobSpecError, match=message):
        lj.parse_job_spec(spec_dict(labelloop={"disputeReview": review}))
