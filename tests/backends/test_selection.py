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
