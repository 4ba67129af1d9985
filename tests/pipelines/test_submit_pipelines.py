"""What `labelloop submit` sends for each packaged pipeline, given only what a new user would give.

``labelloop submit PIPELINE --project P --location L --pipeline-root gs://... --param <required>=...``
goes to the local fake Vertex (tests/fake_vertex.py); each test parses the request with the real
``aiplatform_v1`` types and shows where the job runs, the parameters sent, the images, and the
project and location every Vertex step (GCPC ops and labelloop's Vertex components) would get
once the run's parameter values replace the defaults. A step must run in the job's project and
location: the project from the runtime placeholder (or the same project), the location the user
gave (submit sets the pipeline's ``location`` parameter to ``--location`` unless
``--param location=`` says otherwise).
"""

import io
import json
import sys
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from labelloop.components._base import BASE_IMAGE
from labelloop.pipelines import cli, vertex_lint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_vertex import FakeVertex

PROJECT, LOCATION, ROOT = "acme-ml", "europe-west4", "gs://acme-runs/root"

#: Each pipeline's required parameters (no default), with values a user would pass.
REQUIRED = {
    "active-learning": {
        "annotation_store_uri": "gs://acme-data/annotations",
        "labeling_job_spec": "{}",
        "registry_uri": "gs://acme-data/registry",
        "source_uri": "gs://acme-data/raw/items.jsonl",
        "store_uri": "gs://acme-data/store",
    },
    "active-learning-round": {
        "annotation_store_uri": "gs://acme-data/annotations",
        "dataset_name": "flowers",
        "labeling_job_spec": "{}",
        "store_uri": "gs://acme-data/store",
    },
    "curate": {"source_uri": "gs://acme-data/raw/items.jsonl"},
    "retrain": {
        "registry_uri": "gs://acme-data/registry",
        "source_uri": "gs://acme-data/raw/items.jsonl",
        "store_uri": "gs://acme-data/store",
    },
    "train": {"dataset_uri": "gs://acme-data/store/flowers/v1/items.jsonl"},
}


@pytest.fixture
def vertex(monkeypatch):
    import google.auth
    import google.cloud.aiplatform.utils.resource_manager_utils as resource_manager

    with FakeVertex() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        monkeypatch.setattr(resource_manager, "get_project_number", lambda *a, **k: fake.project_number)
        monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), None))
        yield fake


def submitted(vertex, tmp_path, pipeline: str, **extra: str) -> dict:
    """Run the CLI as a new user would; return the one create-job request body."""
    given = {**REQUIRED[pipeline], **extra}
    params = [arg for name, value in given.items() for arg in ("--param", f"{name}={value}")]
    argv = ["submit", pipeline, "--project", PROJECT, "--location", LOCATION, "--pipeline-root", ROOT, *params]
    environ = {"HOME": str(tmp_path), "LABELLOOP_API_ENDPOINT": vertex.url}
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(argv, environ=environ, out=out, err=err) == 0, err.getvalue()
    [sent] = vertex.matching("POST", rf"^/v1/projects/{PROJECT}/locations/{LOCATION}/pipelineJobs$")
    aiplatform_v1.PipelineJob.from_json(json.dumps(sent.body))  # strict: a field Vertex would refuse fails
    return sent.body


def images(spec: dict) -> set[str]:
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e}


@pytest.mark.parametrize("pipeline", sorted(REQUIRED))
def test_submit_sends_the_job_to_the_given_project_location_and_root(vertex, tmp_path, pipeline):
    body = submitted(vertex, tmp_path, pipeline)

    assert body["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    # the required parameters, and the pipeline's location set to the job's region
    assert body["runtimeConfig"]["parameterValues"] == {**REQUIRED[pipeline], "location": LOCATION}
    assert body["labels"]["labelloop-pipeline"] == pipeline
    ours = {image for image in images(body["pipelineSpec"]) if not image.startswith(vertex_lint.GCPC_IMAGE_PREFIX)}
    assert ours == {BASE_IMAGE}


def _where_steps_run(pipeline: str, body: dict) -> dict[tuple[str, str], object]:
    """(task, project|location) → the value that reaches it (a placeholder stays a placeholder)."""
    bindings = vertex_lint.input_bindings(
        body["pipelineSpec"], ["project", "location"], parameter_values=body["runtimeConfig"]["parameterValues"]
    )
    return {
        (path, name): binding.value if binding.kind != "upstream" else "upstream" for path, name, binding in bindings
    }


@pytest.mark.parametrize("pipeline", sorted(REQUIRED))
def test_every_vertex_step_runs_in_the_jobs_project_and_location(vertex, tmp_path, pipeline):
    body = submitted(vertex, tmp_path, pipeline)
    reached = _where_steps_run(pipeline, body)
    assert reached, f"{pipeline} has no Vertex step"
    allowed = {
        "project": {vertex_lint.PROJECT_PLACEHOLDER, PROJECT},
        "location": {vertex_lint.LOCATION_PLACEHOLDER, LOCATION},
    }
    wrong = {key: value for key, value in reached.items() if value not in allowed[key[1]]}
    assert wrong == {}, "\n".join(f"{task}: {name} = {value!r}" for (task, name), value in wrong.items())


def test_an_explicit_location_parameter_wins(vertex, tmp_path):
    body = submitted(vertex, tmp_path, "curate", location="europe-west1")
    assert body["runtimeConfig"]["parameterValues"]["location"] == "europe-west1"
