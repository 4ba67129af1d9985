"""Vertex submission and schedules: the exact requests the aiplatform and KFP clients send.

The real SDKs talk REST to local fakes (tests/fake_vertex.py); request bodies are parsed back into
the real ``google.cloud.aiplatform_v1`` request types, so a field the API would not accept fails.
"""

import json
import sys
from pathlib import Path

import pytest
import yaml
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from kfp import compiler, dsl
from labelloop.pipelines import submit
from labelloop.pipelines.config import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_vertex import FakeKfp, FakeVertex

PROJECT, LOCATION, ROOT, SA = "proj-1", "europe-west4", "gs://bkt/root", "runner@proj-1.iam.gserviceaccount.com"


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def _repeat(word: str, times: int) -> str:
    return word * times


@dsl.pipeline(name="tiny-flow")
def _tiny(word: str, times: int = 2, ratio: float = 0.5, tags: list = []):
    _repeat(word=word, times=times)


@pytest.fixture
def template(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    compiler.Compiler().compile(_tiny, str(path))
    return path


@pytest.fixture
def vertex(monkeypatch):
    """A fake Vertex + Cloud Storage endpoint; the SDK's project-number lookup (gRPC) answers locally."""
    import google.cloud.aiplatform.utils.resource_manager_utils as resource_manager

    with FakeVertex() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        monkeypatch.setattr(resource_manager, "get_project_number", lambda *a, **k: fake.project_number)
        yield fake


def target(fake: FakeVertex, **overrides) -> submit.VertexTarget:
    fields = dict(
        project=PROJECT,
        location=LOCATION,
        pipeline_root=ROOT,
        service_account=SA,
        api_endpoint=fake.url,
        credentials=AnonymousCredentials(),
    )
    return submit.VertexTarget(**{**fields, **overrides})


def request(template: Path, **overrides) -> submit.RunRequest:
    fields = dict(
        template_path=str(template),
        display_name="tiny nightly",
        parameters={"word": "ab", "times": 3},
        labels={"team": "vision", "labelloop-pipeline": "tiny"},
        enable_caching=False,
    )
    return submit.RunRequest(**{**fields, **overrides})


def caching_of(spec: dict) -> dict[str, bool]:
    return {
        name: task.get("cachingOptions", {}).get("enableCache", False)
        for name, task in spec["root"]["dag"]["tasks"].items()
    }


def test_submit_sends_one_create_request_with_every_setting(vertex, template):
    status = submit.submit_run(target(vertex), request(template))

    [sent] = vertex.matching("POST", r"/v1/projects/proj-1/locations/europe-west4/pipelineJobs$")
    job = aiplatform_v1.PipelineJob.from_json(json.dumps(sent.body))  # strict: unknown fields fail
    assert job.display_name == "tiny nightly"
    assert dict(job.labels) == {"team": "vision", "labelloop-pipeline": "tiny"}
    assert job.service_account == SA
    assert job.runtime_config.gcs_output_directory == ROOT
    assert sent.body["runtimeConfig"]["parameterValues"] == {"word": "ab", "times": 3}
    assert sent.query["pipelineJobId"][0].startswith("tiny-flow-")

    compiled = yaml.safe_load(template.read_text())
    assert caching_of(compiled) == {"repeat": True}
    assert caching_of(sent.body["pipelineSpec"]) == {"repeat": False}
    assert {k: v for k, v in sent.body["pipelineSpec"].items() if k != "root"} == {
        k: v for k, v in compiled.items() if k != "root"
    }

    assert status.state == "PIPELINE_STATE_PENDING"
    assert status.name == f"projects/{PROJECT}/locations/{LOCATION}/pipelineJobs/{sent.query['pipelineJobId'][0]}"
    assert status.console_url.endswith(f"/runs/{sent.query['pipelineJobId'][0]}?project={PROJECT}")
    assert vertex.matching("GET", r"^/storage/v1/b/bkt$"), "the SDK checks the pipeline root bucket first"


def test_submit_without_forced_caching_keeps_the_compiled_settings(vertex, template):
    submit.submit_run(target(vertex, service_account=None), request(template, enable_caching=None, labels={}))

    [sent] = vertex.matching("POST", r"/pipelineJobs$")
    assert sent.body["pipelineSpec"] == yaml.safe_load(template.read_text())
    assert "serviceAccount" not in sent.body
    assert "labels" not in sent.body


def test_schedule_sends_cron_limits_window_and_the_run_to_create(vertex, template):
    spec = submit.ScheduleSpec(
        "TZ=Europe/Berlin 0 3 * * 1",
        "weekly relabel",
        max_concurrent=1,
        max_runs=12,
        start="2030-01-06T00:00:00+01:00",
        end="2030-07-01T00:00:00Z",
        allow_queueing=True,
    )
    created = submit.schedule_on_vertex(target(vertex), request(template), spec)

    [sent] = vertex.matching("POST", r"/v1/projects/proj-1/locations/europe-west4/schedules$")
    schedule = aiplatform_v1.Schedule.from_json(json.dumps(sent.body))
    assert schedule.display_name == "weekly relabel"
    assert schedule.cron == "TZ=Europe/Berlin 0 3 * * 1"
    assert (schedule.max_concurrent_run_count, schedule.max_run_count, schedule.allow_queueing) == (1, 12, True)
    assert sent.body["startTime"] == "2030-01-05T23:00:00Z"
    assert sent.body["endTime"] == "2030-07-01T00:00:00Z"

    create = schedule.create_pipeline_job_request
    assert create.parent == f"projects/{PROJECT}/locations/{LOCATION}"
    assert create.pipeline_job.service_account == SA
    assert dict(create.pipeline_job.labels) == {"team": "vision", "labelloop-pipeline": "tiny"}
    assert create.pipeline_job.runtime_config.gcs_output_directory == ROOT
    assert sent.body["createPipelineJobRequest"]["pipelineJob"]["runtimeConfig"]["parameterValues"] == {
        "word": "ab",
        "times": 3,
    }
    assert caching_of(sent.body["createPipelineJobRequest"]["pipelineJob"]["pipelineSpec"]) == {"repeat": False}

    assert (created.name, created.cron, created.state) == (schedule.name or created.name, spec.cron, "ACTIVE")
    assert created.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/schedules/")
    assert not vertex.matching("POST", r"/pipelineJobs$"), "a schedule must not also start a run now"


def test_schedule_without_limits_sends_none(vertex, template):
    submit.schedule_on_vertex(target(vertex), request(template), submit.ScheduleSpec("*/30 * * * *", "often"))
    [sent] = vertex.matching("POST", r"/schedules$")
    assert sent.body["maxConcurrentRunCount"] == "1"
    assert {"maxRunCount", "startTime", "endTime", "allowQueueing"}.isdisjoint(sent.body)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cron": "0 3 * *"}, "not a 5-field cron"),
        ({"cron": "0 0 3 * * 1"}, "not a 5-field cron"),
        ({"cron": "0 3 * * 1; rm -rf"}, "not a 5-field cron"),
        ({"max_concurrent": 0}, "--max-concurrent must be at least 1"),
        ({"max_runs": 0}, "--max-runs must be at least 1"),
        ({"start": "2030-01-01T00:00:00"}, "--start .* has no time zone"),
        ({"end": "next tuesday"}, "--end .* is not an ISO 8601 time"),
        ({"start": "2030-02-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "--end .* must be after --start"),
    ],
)
def test_bad_schedules_are_refused_before_anything_is_sent(vertex, template, changes, message):
    spec = submit.ScheduleSpec(**{"cron": "0 3 * * 1", "display_name": "s", **changes})
    with pytest.raises(ConfigError, match=message):
        submit.schedule_on_vertex(target(vertex), request(template), spec)
    assert vertex.requests == []


def test_get_and_list_runs_report_state_and_errors(vertex, template):
    first = submit.submit_run(target(vertex), request(template, job_id="run-one"))
    submit.submit_run(target(vertex), request(template, job_id="run-two"))
    vertex.set_state(first.name, aiplatform_v1.PipelineState.PIPELINE_STATE_FAILED, error="step repeat failed")

    status = submit.get_run(target(vertex), "run-one")
    assert (status.state, status.error) == ("PIPELINE_STATE_FAILED", "step repeat failed")
    assert vertex.matching("GET", r"/pipelineJobs/run-one$")

    runs = submit.list_runs(target(vertex), pipeline="tiny", limit=1)
    [listed] = vertex.matching("GET", r"/pipelineJobs$")
    assert listed.query["filter"] == ['labels.labelloop-pipeline="tiny"']
    assert [run.name.rsplit("/", 1)[-1] for run in runs] == ["run-two"]  # newest first, then the limit


def test_unknown_run_raises_not_found(vertex):
    with pytest.raises(api_exceptions.NotFound, match="no-such-run"):
        submit.get_run(target(vertex), "no-such-run")


def test_kfp_recurring_run_request(template):
    spec = submit.ScheduleSpec("0 3 * * 1", "weekly on kfp", max_concurrent=2, start="2030-01-01T00:00:00Z")
    with FakeKfp() as fake:
        created = submit.schedule_on_kfp(
            fake.url,
            "relabel",
            request(template, enable_caching=True),
            spec,
            pipeline_root="gs://kfp-root",
            service_account="pipeline-runner",
        )
        [experiment] = fake.matching("POST", r"^/apis/v2beta1/experiments$")
        [sent] = fake.matching("POST", r"^/apis/v2beta1/recurringruns$")

    assert experiment.body["display_name"] == "relabel"
    body = sent.body
    assert body["experiment_id"] == "exp-1"
    assert body["display_name"] == "weekly on kfp"
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * 1", "start_time": "2030-01-01T00:00:00Z"}}
    assert int(body["max_concurrency"]) == 2
    assert body["mode"] == "ENABLE"
    assert body["service_account"] == "pipeline-runner"
    assert body["runtime_config"] == {"parameters": {"word": "ab", "times": 3}, "pipeline_root": "gs://kfp-root"}
    assert body["pipeline_spec"]["pipelineInfo"] == {"name": "tiny-flow"}
    assert caching_of(body["pipeline_spec"]) == {"repeat": True}
    assert (created.name, created.cron, created.state) == ("rr-1", "0 0 3 * * 1", "ENABLED")


def test_kfp_reuses_an_existing_experiment(template):
    with FakeKfp() as fake:
        fake.experiments["exp-9"] = {"experiment_id": "exp-9", "display_name": "relabel"}
        submit.schedule_on_kfp(fake.url, "relabel", request(template), submit.ScheduleSpec("0 3 * * 1", "w"))
        assert not fake.matching("POST", r"/experiments$")
        [sent] = fake.matching("POST", r"/recurringruns$")
    assert sent.body["experiment_id"] == "exp-9"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (submit.ScheduleSpec("0 3 * * 1", "w", max_runs=3), "--max-runs is not supported by KFP"),
        (submit.ScheduleSpec("TZ=UTC 0 3 * * 1", "w"), "KFP recurring runs take no TZ= prefix"),
    ],
)
def test_kfp_refuses_what_it_cannot_do(template, spec, message):
    with pytest.raises(ConfigError, match=message):
        submit.schedule_on_kfp("http://127.0.0.1:9", "e", request(template), spec)


def test_explicit_template_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="--template .*nope.yaml does not exist"):
        submit.compiled_template("tiny", "vertex", str(tmp_path / "nope.yaml"), str(tmp_path))


def test_load_template_refuses_what_is_not_a_pipeline(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("just: text\n")
    with pytest.raises(ConfigError, match="is not a compiled pipeline"):
        submit.load_template(path)
    path.write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match="is not a compiled pipeline YAML"):
        submit.load_template(path)
