"""backends.selection: the labeling backend choice label_items used to make inline."""

import json

import pytest
from labelloop.components.backends import selection
from labelloop.components.backends.labeler import SimulatedCrowdLabeler
from labelloop.components.core import labeling_job
from labelloop.components.core.annotation_store import AnnotationStore
from labelloop.components.core.simulated_crowd import write_ground_truth

SPEC = json.dumps(
    {
        "displayName": "t",
        "labelerCount": 1,
        "instructionUri": "gs://b/i.pdf",
        "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/image_classification_1.0.0.yaml",
        "inputs": {"annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}]},
    }
)


def test_simulated_label_studio_and_unknown(tmp_path, monkeypatch):
    spec, store = labeling_job.parse_job_spec(SPEC), AnnotationStore(str(tmp_path / "store"))
    write_ground_truth(str(tmp_path / "truth.jsonl"), {"x": "a"})
    made = selection.make_labeler(
        "simulated", spec, store, ground_truth_uri=str(tmp_path / "truth.jsonl"), simulated_crowd="{}", model_version=""
    )
    assert isinstance(made, SimulatedCrowdLabeler)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(Exception, match="LABEL_STUDIO_URL"):
        selection.make_labeler("label_studio", spec, store, ground_truth_uri="", simulated_crowd="{}", model_version="")
    with pytest.raises(ValueError, match="backend must be 'simulated' or 'label_studio', got 'mturk'"):
        selection.make_labeler("mturk", spec, store, ground_truth_uri="", simulated_crowd="{}", model_version="")


def test_label_studio_url_and_token_secret_reach_the_backend(monkeypatch):
    from labelloop.components.backends import label_studio, selection

    seen = {}
    monkeypatch.setattr(
        label_studio.LabelStudioLabeler, "from_env", classmethod(lambda cls, spec, store, **kw: seen.update(kw))
    )
    selection.make_labeler(
        "label_studio",
        None,
        None,
        ground_truth_uri="",
        simulated_crowd="{}",
        model_version="m1",
        label_studio_url="https://labels.example.com",
        label_studio_token_secret="projects/p/secrets/ls-token/versions/latest",
    )
    assert seen == {
        "model_version": "m1",
        "url": "https://labels.example.com",
        "token_secret": "projects/p/secrets/ls-token/versions/latest",
    }


def test_every_labeling_pipeline_takes_the_label_studio_url_and_token_secret():
    import yaml
    from labelloop.pipelines import compiling

    for name in ("active-learning", "active-learning-round", "retrain"):
        spec = yaml.safe_load(open(compiling.pipeline_path(name, "vertex")))
        parameters = spec["root"]["inputDefinitions"]["parameters"]
        assert {"label_studio_url", "label_studio_token_secret"} <= set(parameters), name
