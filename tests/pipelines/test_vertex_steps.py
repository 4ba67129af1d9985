"""The Vertex pipeline pieces compile into specs that pass the Vertex lint and wire split, gate and deploy right."""

import json

import pytest
import yaml
from kfp import compiler, dsl
from labelloop.components._base import BASE_IMAGE
from labelloop.pipelines import vertex_lint, vertex_steps

SPLIT = {
    "training_filter_split": "labels.aiplatform.googleapis.com/ml_use=training",
    "validation_filter_split": "labels.aiplatform.googleapis.com/ml_use=validation",
    "test_filter_split": "labels.aiplatform.googleapis.com/ml_use=test",
}


def compiled(pipeline, tmp_path) -> dict:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return yaml.safe_load(path.read_text())


def tasks(spec: dict) -> dict[str, tuple[dict, str]]:
    """Every task by name: (task, the component whose DAG holds it)."""
    found = {}
    for owner, component in {"root": spec["root"], **spec["components"]}.items():
        for name, task in component.get("dag", {}).get("tasks", {}).items():
            found[name] = (task, owner)
    return found


def constants(task: dict) -> dict:
    return {
        name: bound["runtimeValue"]["constant"]
        for name, bound in task.get("inputs", {}).get("parameters", {}).items()
        if "runtimeValue" in bound
    }


@pytest.fixture
def image_spec(tmp_path):
    from google_cloud_pipeline_components.v1.dataset import GetVertexDatasetOp

    @dsl.pipeline(name="gated-image")
    def gated(dataset_resource: str, location: str = "europe-west4", model_name: str = "flowers"):
        dataset = GetVertexDatasetOp(dataset_resource_name=dataset_resource)
        vertex_steps.add_gated_automl_image(
            dataset=dataset.outputs["dataset"],
            location=location,
            model_name=model_name,
            task="image_classification",
            multi_label=False,
        )

    return compiled(gated, tmp_path)


def test_gated_image_path_passes_the_vertex_lint(image_spec):
    assert vertex_lint.lint_spec(image_spec, expected_image=BASE_IMAGE) == []


def test_both_training_branches_honour_the_split_and_take_project_and_location(image_spec):
    found = tasks(image_spec)
    first, _ = found["automl-image-training-job-2"]
    versioned, _ = found["automl-image-training-job"]
    for training in (first, versioned):
        assert constants(training) | SPLIT == constants(training)
        assert constants(training)["project"] == vertex_steps.PROJECT_PLACEHOLDER
        assert training["inputs"]["parameters"]["location"] == {"componentInputParameter": "pipelinechannel--location"}
    assert versioned["inputs"]["artifacts"]["parent_model"]["componentInputArtifact"].endswith("parent_model")
    assert "parent_model" not in first["inputs"].get("artifacts", {})


def test_deploy_runs_only_when_blessed_and_no_gcpc_endpoint_ops_remain(image_spec):
    found = tasks(image_spec)
    _, deploy_owner = found["deploy-vertex-model"]
    condition = image_spec["root"]["dag"]["tasks"]["condition-4"]
    assert condition["componentRef"]["name"] == deploy_owner
    assert "gate-vertex-model" in condition["triggerPolicy"]["condition"]
    assert "== true" in condition["triggerPolicy"]["condition"]
    assert not {"endpoint-create", "model-deploy"} & set(found)
    gate, _ = found["gate-vertex-model"]
    model_input = gate["inputs"]["artifacts"]["model"]["taskOutputArtifact"]
    assert model_input["producerTask"] == "condition-branches-1"  # the OneOf of the two training branches
    assert "oneof" in model_input["outputArtifactKey"]


def test_tabular_path_uses_the_split_column_and_the_parent_by_name(tmp_path):
    from google_cloud_pipeline_components.v1.dataset import GetVertexDatasetOp

    @dsl.pipeline(name="gated-table")
    def gated(dataset_resource: str, target_column: str, location: str = "europe-west4"):
        dataset = GetVertexDatasetOp(dataset_resource_name=dataset_resource)
        vertex_steps.add_gated_automl_tabular(
            dataset=dataset.outputs["dataset"],
            location=location,
            model_name="prices",
            task="tabular_regression",
            target_column=target_column,
            regression=True,
        )

    spec = compiled(gated, tmp_path)
    assert vertex_lint.lint_spec(spec, expected_image=BASE_IMAGE) == []
    training, _ = tasks(spec)["automl-tabular-training-job"]
    assert constants(training)["predefined_split_column_name"] == "ml_use"
    assert training["inputs"]["parameters"]["parent_model"]["taskOutputParameter"] == {
        "outputParameterKey": "resource_name",
        "producerTask": "find-vertex-model",
    }


def test_an_empty_literal_target_column_is_refused_at_build_time():
    with pytest.raises(ValueError, match="target_column is empty"):
        vertex_steps.automl_tabular_training_inputs(
            location="l", dataset=None, display_name="m", target_column="", regression=True
        )


def test_managed_dataset_step_passes_the_lint(tmp_path):
    @dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
    def items(items: dsl.Output[dsl.Dataset]):
        pass

    @dsl.pipeline(name="curated")
    def curated(location: str = "europe-west4", display_name: str = "flowers"):
        vertex_steps.add_managed_dataset(
            items=items().outputs["items"],
            location=location,
            display_name=display_name,
            data_type="image",
            import_schema_uri="gs://google-cloud-aiplatform/schema/dataset/ioformat/x.yaml",
        )

    spec = compiled(curated, tmp_path)
    assert vertex_lint.lint_spec(spec, expected_image=BASE_IMAGE) == []
    ensure, _ = tasks(spec)["ensure-vertex-dataset"]
    assert json.dumps(ensure).count("pipelinechannel") == 0  # bound straight to the root parameters
