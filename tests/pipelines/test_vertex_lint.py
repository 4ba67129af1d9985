"""The Vertex lint: small compiled and hand-written specs for each rule, then every committed vertex YAML."""

import os
from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl
from labelloop.components import _base
from labelloop.pipelines import vertex_lint

IMAGE = "europe-docker.pkg.dev/acme/ml/labelloop:1.2.3"
GCPC_IMAGE = vertex_lint.GCPC_IMAGE_PREFIX + "2.22.0"
COMPILED = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"


def compiled(pipeline, tmp_path) -> dict:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return yaml.safe_load(path.read_text())


def rules(findings) -> list[tuple[str, str]]:
    return sorted((f.task, f.rule) for f in findings)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def _task_name() -> str:
    return "image"


def _image_training_pipeline(project_default, location_default="europe-west4"):
    from google_cloud_pipeline_components.v1.automl.training_job import AutoMLImageTrainingJobRunOp
    from google_cloud_pipeline_components.v1.dataset import GetVertexDatasetOp

    @dsl.pipeline(name="tiny-automl")
    def tiny(dataset_resource: str, project: str = project_default, location: str = location_default):
        kind = _task_name()
        with dsl.If(kind.output == "image"):
            dataset = GetVertexDatasetOp(dataset_resource_name=dataset_resource)
            AutoMLImageTrainingJobRunOp(
                project=project, location=location, display_name="m", dataset=dataset.outputs["dataset"]
            )

    return tiny


def test_empty_project_is_followed_through_the_condition_to_the_root_default(tmp_path):
    spec = compiled(_image_training_pipeline(""), tmp_path)
    findings = vertex_lint.lint_spec(spec, expected_image=IMAGE)
    assert rules(findings) == [("root/condition-1/automl-image-training-job", "required-input")]
    [finding] = findings
    assert "'project'" in finding.message and "root-default ''" in finding.message
    assert "via pipeline parameter project" in finding.message


@pytest.mark.parametrize("project", [vertex_lint.PROJECT_PLACEHOLDER, "acme-ml"])
def test_placeholder_or_constant_project_passes(tmp_path, project):
    spec = compiled(_image_training_pipeline(project), tmp_path)
    assert vertex_lint.lint_spec(spec, expected_image=IMAGE) == []


def test_a_required_pipeline_parameter_counts_as_bound(tmp_path):
    from google_cloud_pipeline_components.v1.dataset import GetVertexDatasetOp

    @dsl.pipeline(name="given")
    def given(project: str, location: str, dataset_resource: str):
        GetVertexDatasetOp(dataset_resource_name=dataset_resource)

    assert vertex_lint.lint_spec(compiled(given, tmp_path), expected_image=IMAGE) == []


def test_hard_coded_and_defaulted_location_is_reported(tmp_path):
    from google_cloud_pipeline_components.v1.model import ModelGetOp

    @dsl.pipeline(name="regions")
    def regions(location: str = "europe-west4"):
        ModelGetOp(model_name="m", location="us-central1")
        ModelGetOp(model_name="m", location=location).set_display_name("ok")

    findings = vertex_lint.lint_spec(compiled(regions, tmp_path), expected_image=IMAGE)
    assert rules(findings) == [("root/model-get", "hard-coded-location")]
    assert "'us-central1'" in findings[0].message


def test_endpoint_per_run_and_ungated_deploys_are_reported(tmp_path):
    from google_cloud_pipeline_components.v1.endpoint import EndpointCreateOp, ModelDeployOp
    from google_cloud_pipeline_components.v1.model import ModelGetOp

    @dsl.pipeline(name="deploys")
    def deploys(location: str = "europe-west4"):
        endpoint = EndpointCreateOp(display_name="e", location=location)
        model = ModelGetOp(model_name="m", location=location)
        ModelDeployOp(model=model.outputs["model"], endpoint=endpoint.outputs["endpoint"])

    findings = vertex_lint.lint_spec(compiled(deploys, tmp_path), expected_image=IMAGE)
    assert rules(findings) == [("root/endpoint-create", "ungated-deploy"), ("root/model-deploy", "ungated-deploy")]


def _hand_spec(task_inputs: dict, *, root_parameters=None, image=GCPC_IMAGE, component_inputs=None) -> dict:
    """A one-task spec around the GCPC ``model-get`` op (required: model_name)."""
    return {
        "pipelineInfo": {"name": "hand"},
        "root": {
            "inputDefinitions": {"parameters": root_parameters or {}},
            "dag": {"tasks": {"model-get": {"componentRef": {"name": "comp-model-get"}, "inputs": task_inputs}}},
        },
        "components": {
            "comp-model-get": {
                "executorLabel": "exec-model-get",
                "inputDefinitions": {"parameters": component_inputs or {"model_name": {"parameterType": "STRING"}}},
            }
        },
        "deploymentSpec": {"executors": {"exec-model-get": {"container": {"image": image}}}},
    }


def test_required_input_unbound_or_null_constant_is_reported():
    assert rules(vertex_lint.lint_spec(_hand_spec({}), expected_image=IMAGE)) == [("root/model-get", "required-input")]
    null = {"parameters": {"model_name": {"runtimeValue": {"constant": None}}}}
    assert rules(vertex_lint.lint_spec(_hand_spec(null), expected_image=IMAGE)) == [
        ("root/model-get", "required-input")
    ]


def test_upstream_outputs_count_as_bound():
    upstream = {"parameters": {"model_name": {"taskOutputParameter": {"producerTask": "x", "outputParameterKey": "o"}}}}
    assert vertex_lint.lint_spec(_hand_spec(upstream), expected_image=IMAGE) == []


def test_required_inputs_come_from_the_installed_gcpc_spec():
    ops = vertex_lint.gcpc_op_inputs()
    assert {"project", "display_name", "dataset"} <= ops["automl-image-training-job"].required
    assert "training_filter_split" not in ops["automl-image-training-job"].required
    assert "target_column" in ops["automl-tabular-training-job"].required


def test_foreign_images_in_containers_and_custom_job_pools_are_reported():
    spec = _hand_spec({"parameters": {"model_name": {"runtimeValue": {"constant": "e"}}}})
    for name, image in (
        ("ours", "us-docker.pkg.dev/labelloop/x:0.1"),
        ("fine", IMAGE),
        ("get-vertex-dataset", "python:3.8"),
    ):
        spec["components"][f"comp-{name}"] = {"executorLabel": f"exec-{name}"}
        spec["deploymentSpec"]["executors"][f"exec-{name}"] = {"container": {"image": image}}
    spec["components"]["comp-model-get"]["inputDefinitions"]["parameters"]["worker_pool_specs"] = {
        "parameterType": "LIST",
        "defaultValue": [{"container_spec": {"image_uri": "python:3.11", "command": ["/bin/sh"]}}],
    }
    found = rules(vertex_lint.lint_spec(spec, expected_image=IMAGE))
    assert found == [("comp-model-get default", "foreign-image"), ("executor exec-ours", "foreign-image")]


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("source_uri", "file:///home/me/data.jsonl", "file-scheme"),
        ("source_uri", "/home/me/data.jsonl", "local-path"),
        ("store_uri", "./store", "local-path"),
        ("label_studio_api_key", "0123abcd", "credential"),
        ("note", "-----BEGIN PRIVATE KEY-----\nMII", "credential"),
    ],
)
def test_local_paths_file_uris_and_credentials_are_reported(name, value, rule):
    parameters = {name: {"parameterType": "STRING", "defaultValue": value}}
    spec = _hand_spec({"parameters": {"model_name": {"runtimeValue": {"constant": "e"}}}}, root_parameters=parameters)
    assert rules(vertex_lint.lint_spec(spec, expected_image=IMAGE)) == [(f"pipeline parameter {name}", rule)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("source_uri", "gs://bucket/items.jsonl"),
        ("source_uri", "/gcs/bucket/items.jsonl"),
        ("label_studio_token_secret", "projects/acme/secrets/ls-token/versions/latest"),
        ("label_studio_api_key", ""),
    ],
)
def test_cloud_uris_and_secret_names_pass(name, value):
    parameters = {name: {"parameterType": "STRING", "defaultValue": value}}
    spec = _hand_spec({"parameters": {"model_name": {"runtimeValue": {"constant": "e"}}}}, root_parameters=parameters)
    assert vertex_lint.lint_spec(spec, expected_image=IMAGE) == []


def test_empty_registry_passed_to_any_step_is_reported():
    spec = _hand_spec(
        {
            "parameters": {
                "model_name": {"runtimeValue": {"constant": "e"}},
                "registry_uri": {"componentInputParameter": "reg"},
            }
        },
        root_parameters={"reg": {"parameterType": "STRING", "defaultValue": ""}},
        component_inputs={"model_name": {"parameterType": "STRING"}, "registry_uri": {"parameterType": "STRING"}},
    )
    assert rules(vertex_lint.lint_spec(spec, expected_image=IMAGE)) == [("root/model-get", "empty-resource-input")]


def test_a_file_that_is_not_a_pipeline_is_refused(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    with pytest.raises(ValueError, match="x.yaml is not a compiled pipeline spec"):
        vertex_lint.lint_file(path, expected_image=IMAGE)


def configured_image() -> str:
    return os.environ.get("LABELLOOP_IMAGE") or _base.BASE_IMAGE


def test_every_compiled_vertex_yaml_is_linted():
    from labelloop.pipelines import discovery

    linted = {path.name.removesuffix(".vertex.yaml") for path in COMPILED.glob("*.vertex.yaml")}
    assert linted == set(discovery.discover()) and len(linted) >= 8  # every pipeline, verify-labels (issue 17) too


@pytest.mark.parametrize("path", sorted(COMPILED.glob("*.vertex.yaml")), ids=lambda p: p.name)
def test_committed_vertex_yamls_pass_the_lint(path):
    findings = vertex_lint.lint_file(path, expected_image=configured_image())
    assert findings == [], "\n".join(map(str, findings))
