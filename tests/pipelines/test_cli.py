"""The ``labelloop`` console script: help, config precedence, run --local, submit/schedule/status, versions."""

import io
import json
import re
import sys
import textwrap
from pathlib import Path

import labelloop.pipelines
import pytest
import yaml
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from labelloop.components.core import versions
from labelloop.components.core.manifest import content_id, with_id, with_label, write_jsonl
from labelloop.pipelines import cli, compiling
from labelloop.pipelines.config import ConfigError, load_settings, parse_pairs, require, typed_parameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_vertex import FakeKfp, FakeVertex

TINY = '''
"""Tiny test pipeline: repeats a word into a text file.

Used only by the CLI tests.
"""
from kfp import dsl


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def repeat(word: str, times: int, shout: bool, out: dsl.Output[dsl.Artifact]):
    if word == "boom":
        raise ValueError("boom requested")
    text = word * times
    with open(out.path, "w") as handle:
        handle.write(text.upper() if shout else text)


def build_pipeline(target):
    @dsl.pipeline(name="cli-tiny")
    def cli_tiny(word: str, times: int = 2, shout: bool = False) -> dsl.Artifact:
        return repeat(word=word, times=times, shout=shout).outputs["out"]

    return cli_tiny
'''


def run_cli(*argv, environ=None):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), environ=environ if environ is not None else {}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def env(tmp_path) -> dict:
    """An environment with its own HOME, so no real config file is read."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home)}


def _add_pipeline_module(monkeypatch, folder: Path, name: str, source: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.setattr(labelloop.pipelines, "__path__", [*labelloop.pipelines.__path__, str(folder)])
    monkeypatch.delitem(sys.modules, f"labelloop.pipelines.{name}", raising=False)


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """Registers the test-only pipeline ``cli-tiny`` (module ``cli_tiny``) in labelloop.pipelines."""
    _add_pipeline_module(monkeypatch, tmp_path / "extra_pipelines", "cli_tiny", TINY)
    yield "cli-tiny"
    sys.modules.pop("labelloop.pipelines.cli_tiny", None)


# ---------------------------------------------------------------------------------------------
# help and usage


@pytest.mark.parametrize(
    "command", [[], ["compile"], ["run"], ["submit"], ["schedule"], ["list"], ["status"], ["versions"]]
)
def test_every_command_has_help(command, capsys):
    code, _, _ = run_cli(*command, "--help")
    assert code == 0
    assert "usage: labelloop" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys):
    assert run_cli()[0] == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_run_needs_local(tiny, capsys):
    assert run_cli("run", tiny)[0] == 2
    assert "--local" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# configuration


def test_flags_beat_env_beat_config_file_beat_defaults(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        'project = "from-file"\nlocation = "file-region"\npipeline_root = "gs://file"\n'
        'service_account = "file-sa"\n[labels]\nteam = "file"\nowner = "ana"\n'
    )
    environ = {"LABELLOOP_PROJECT": "from-env", "GOOGLE_CLOUD_PROJECT": "gcp-env", "LABELLOOP_LOCATION": "env-region"}
    settings = load_settings({"project": "from-flag"}, environ, config_file=str(config), flag_labels={"team": "flag"})

    assert settings.values["project"] == "from-flag"
    assert settings.values["location"] == "env-region"
    assert settings.values["pipeline_root"] == "gs://file"
    assert settings.values["kfp_experiment"] == "labelloop"
    assert settings.labels == {"team": "flag", "owner": "ana"}
    assert settings.sources["location"] == "$LABELLOOP_LOCATION"
    assert settings.sources["pipeline_root"] == f"{config} (pipeline_root)"


def test_google_cloud_project_is_the_fallback_and_the_default_file_is_read(tmp_path):
    default = tmp_path / "xdg" / "labelloop" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text('location = "asia-east1"\n')
    settings = load_settings({}, {"GOOGLE_CLOUD_PROJECT": "gcp-env", "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert (settings.values["project"], settings.values["location"]) == ("gcp-env", "asia-east1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('projct = "x"\n', r"unknown key\(s\) projct; known keys:"),
        ('project = "x"\nlocation = = 1\n', r"c\.toml: Invalid value \(at line 2"),
        ("project = 3\n", "project must be a string"),
        ('labels = "x"\n', r"labels must be a table"),
        ('[labels]\nTeam = "x"\n', "label Team=x is not a valid Vertex AI label"),
    ],
)
def test_bad_config_files_name_the_file_and_the_problem(tmp_path, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings({}, {}, config_file=str(config))


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file .*nope.toml does not exist"):
        load_settings({}, {}, config_file=str(tmp_path / "nope.toml"))


def test_missing_project_and_region_name_flag_env_and_key():
    with pytest.raises(ConfigError) as raised:
        require(load_settings({}, {"HOME": "/nonexistent"}), "project", "location")
    message = str(raised.value)
    for hint in (
        "--project",
        "$LABELLOOP_PROJECT",
        "$GOOGLE_CLOUD_PROJECT",
        'project = "..."',
        "--location",
        "$LABELLOOP_LOCATION",
        'location = "..."',
    ):
        assert hint in message


@pytest.mark.parametrize(
    ("pairs", "message"),
    [(["a"], "'a' is not KEY=VALUE"), (["=1"], "is not KEY=VALUE"), (["a=1", "a=2"], "a is given twice")],
)
def test_bad_key_values_are_refused(pairs, message):
    with pytest.raises(ConfigError, match=message):
        parse_pairs(pairs, "--param")
    assert parse_pairs(["a=b=c", "x="], "--param") == {"a": "b=c", "x": ""}


def test_parameters_are_typed_from_the_pipeline_spec():
    spec = {
        "n": {"parameterType": "NUMBER_INTEGER"},
        "r": {"parameterType": "NUMBER_DOUBLE", "isOptional": True},
        "b": {"parameterType": "BOOLEAN", "isOptional": True},
        "l": {"parameterType": "LIST", "isOptional": True},
        "d": {"parameterType": "STRUCT", "isOptional": True},
        "s": {"parameterType": "STRING", "isOptional": True},
    }
    raw = {"n": "3", "r": "0.5", "b": "yes", "l": '["a", 1]', "d": '{"k": 2}', "s": "007"}
    assert typed_parameters(raw, spec, "p") == {"n": 3, "r": 0.5, "b": True, "l": ["a", 1], "d": {"k": 2}, "s": "007"}
    with pytest.raises(ConfigError, match=r"--param n=three: expected integer"):
        typed_parameters({"n": "three"}, spec, "p")
    with pytest.raises(ConfigError, match=r"--param l=\{\}: expected list \(give a JSON array\)"):
        typed_parameters({"n": "1", "l": "{}"}, spec, "p")
    with pytest.raises(ConfigError, match=r"--param b=maybe: expected boolean"):
        typed_parameters({"n": "1", "b": "maybe"}, spec, "p")
    with pytest.raises(ConfigError, match="pipeline p has no parameter.* zz; its parameters: b, d, l, n, r, s"):
        typed_parameters({"zz": "1"}, spec, "p")
    with pytest.raises(ConfigError, match=r"pipeline p needs --param n=\.\.\."):
        typed_parameters({}, spec, "p")


# ---------------------------------------------------------------------------------------------
# list / run --local / compile


def test_list_shows_pipelines_with_their_summaries(tiny, env):
    code, out, _ = run_cli("list", environ=env)
    assert code == 0
    assert re.search(r"^cli-tiny +Tiny test pipeline: repeats a word into a text file\.$", out, re.M)


def test_list_reports_a_broken_pipeline_instead_of_hiding_it(monkeypatch, tmp_path, env):
    _add_pipeline_module(monkeypatch, tmp_path / "broken", "cli_broken", "def build_pipeline(target):\n  return (\n")
    code, out, _ = run_cli("list", environ=env)
    assert code == 0
    assert "cli-broken" in out and "cannot load:" in out and "cli_broken.py:" in out


def test_run_local_runs_the_pipeline_and_prints_where_outputs_are(tiny, tmp_path, env):
    root = tmp_path / "outputs"
    code, out, err = run_cli(
        "run",
        tiny,
        "--local",
        "--param",
        "word=ab",
        "--param",
        "times=3",
        "--param",
        "shout=true",
        "--pipeline-root",
        str(root),
        environ=env,
    )
    assert (code, err) == (0, "")
    assert f"running cli-tiny locally; outputs under {root}" in out
    assert "cli-tiny finished in" in out
    [output_line] = [line for line in out.splitlines() if line.startswith("  Output:")]
    assert Path(output_line.split(": ", 1)[1]).read_text() == "ABABAB"
    [run_dir] = root.iterdir()
    assert f"run folder: {run_dir}" in out


def test_run_local_uses_the_local_root_from_the_environment(tiny, tmp_path, env):
    root = tmp_path / "env-root"
    code, out, _ = run_cli(
        "run", tiny, "--local", "--param", "word=x", environ={**env, "LABELLOOP_LOCAL_ROOT": str(root)}
    )
    assert code == 0
    assert any(root.iterdir())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["times=2"], r"pipeline cli-tiny needs --param word=\.\.\."),
        (["word=a", "times=two"], "--param times=two: expected integer"),
        (["word=a", "colour=red"], "has no parameter.* colour; its parameters: shout, times, word"),
        (["word"], "--param 'word' is not KEY=VALUE"),
    ],
)
def test_run_local_bad_parameters_are_usage_errors(tiny, tmp_path, env, params, message):
    argv = ["run", tiny, "--local", "--pipeline-root", str(tmp_path / "o")]
    for param in params:
        argv += ["--param", param]
    code, out, err = run_cli(*argv, environ=env)
    assert code == 2
    assert err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists(), "nothing runs when the parameters are wrong"


def test_unknown_pipeline_lists_the_known_ones(tiny, env):
    code, _, err = run_cli("run", "nope", "--local", environ=env)
    assert code == 2
    assert "no pipeline named 'nope'; known pipelines:" in err and "cli-tiny" in err


def test_failing_local_run_exits_1_with_one_line_and_a_traceback_only_when_verbose(tiny, tmp_path, env):
    argv = ["run", tiny, "--local", "--param", "word=boom", "--pipeline-root", str(tmp_path / "o")]
    code, _, err = run_cli(*argv, environ=env)
    assert code == 1
    assert err.startswith("labelloop run: error: RuntimeError: Pipeline 'cli-tiny' finished with status FAILURE")
    assert "Inner task failed: 'repeat'" in err
    assert "outputs and logs so far:" in err
    assert "Traceback" not in err

    code, _, err = run_cli("--verbose", *argv, environ=env)
    assert code == 1
    assert "Traceback" in err


def test_compile_writes_yamls_and_check_reports_staleness(tiny, tmp_path, env, monkeypatch):
    from labelloop.components.version_dataset import version_dataset

    monkeypatch.setattr(compiling, "discover_components", lambda: {"version_dataset": version_dataset})
    monkeypatch.setattr(
        compiling,
        "discover_pipelines",
        lambda: {"cli-tiny": sys.modules.get("labelloop.pipelines.cli_tiny") or _import("cli_tiny")},
    )
    out_dir = tmp_path / "compiled"
    code, out, _ = run_cli("compile", "--out", str(out_dir), environ=env)
    assert code == 0
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.yaml")) == [
        "components/version_dataset.yaml",
        "pipelines/cli-tiny.local.yaml",
        "pipelines/cli-tiny.vertex.yaml",
    ]
    assert "compiled 3 file(s)" in out
    # the Vertex lint runs on the compiled vertex YAML and reports (without failing) the tiny step's own image
    assert "cli-tiny.vertex.yaml: executor exec-repeat: [foreign-image] runs 'python:3.11'" in out
    assert "vertex lint: 1 finding(s)" in out

    assert run_cli("compile", "--check", "--out", str(out_dir), environ=env)[:2] == (0, "compiled YAMLs are current\n")
    stale_yaml = out_dir / "pipelines" / "cli-tiny.vertex.yaml"
    stale_yaml.write_text(stale_yaml.read_text().replace("times", "count"))
    code, out, _ = run_cli("compile", "--check", "--out", str(out_dir), environ=env)
    assert code == 1
    assert "cli-tiny.vertex.yaml: stale" in out


def _import(name):
    import importlib

    return importlib.import_module(f"labelloop.pipelines.{name}")


# ---------------------------------------------------------------------------------------------
# submit / schedule / status / list --runs against a fake Vertex endpoint


@pytest.fixture
def vertex(monkeypatch):
    import google.auth
    import google.cloud.aiplatform.utils.resource_manager_utils as resource_manager

    with FakeVertex() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        monkeypatch.setattr(resource_manager, "get_project_number", lambda *a, **k: fake.project_number)
        monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), None))
        yield fake


@pytest.fixture
def vertex_env(env, vertex, tmp_path) -> dict:
    config = tmp_path / "labelloop.toml"
    config.write_text('pipeline_root = "gs://cfg-bucket/root"\nlocation = "us-east1"\n[labels]\nteam = "vision"\n')
    return {
        **env,
        "LABELLOOP_PROJECT": "env-proj",
        "LABELLOOP_LOCATION": "europe-west4",
        "LABELLOOP_API_ENDPOINT": vertex.url,
        "LABELLOOP_CONFIG": str(config),
    }


def test_submit_builds_the_job_from_flags_env_and_config(tiny, vertex, vertex_env):
    code, out, err = run_cli(
        "submit",
        tiny,
        "--param",
        "word=hi",
        "--param",
        "times=4",
        "--label",
        "run=nightly",
        "--no-cache",
        "--service-account",
        "sa@env-proj.iam.gserviceaccount.com",
        "--display-name",
        "tiny nightly",
        environ=vertex_env,
    )
    assert (code, err) == (0, "")

    [sent] = vertex.matching("POST", r"^/v1/projects/env-proj/locations/europe-west4/pipelineJobs$")
    job = aiplatform_v1.PipelineJob.from_json(json.dumps(sent.body))
    assert job.display_name == "tiny nightly"
    assert dict(job.labels) == {"labelloop-pipeline": "cli-tiny", "team": "vision", "run": "nightly"}
    assert job.service_account == "sa@env-proj.iam.gserviceaccount.com"
    assert job.runtime_config.gcs_output_directory == "gs://cfg-bucket/root"
    assert sent.body["runtimeConfig"]["parameterValues"] == {"word": "hi", "times": 4}
    assert sent.body["pipelineSpec"]["root"]["dag"]["tasks"]["repeat"]["cachingOptions"] == {"enableCache": False}
    assert sent.body["pipelineSpec"]["pipelineInfo"]["name"] == "cli-tiny"
    assert "run: projects/env-proj/locations/europe-west4/pipelineJobs/cli-tiny-" in out
    assert "state: PIPELINE_STATE_PENDING" in out


def test_submit_uses_an_explicit_template(vertex, vertex_env, tiny, tmp_path):
    from kfp import compiler

    path = tmp_path / "t.yaml"
    compiler.Compiler().compile(_import("cli_tiny").build_pipeline("vertex"), str(path))
    spec = yaml.safe_load(path.read_text())
    spec["pipelineInfo"]["description"] = "hand-edited"
    path.write_text(yaml.safe_dump(spec))
    assert run_cli("submit", tiny, "--template", str(path), "--param", "word=x", environ=vertex_env)[0] == 0
    [sent] = vertex.matching("POST", r"/pipelineJobs$")
    assert sent.body["pipelineSpec"]["pipelineInfo"]["description"] == "hand-edited"


def test_submit_without_project_or_region_exits_2_and_sends_nothing(tiny, vertex, env):
    code, out, err = run_cli("submit", tiny, "--param", "word=x", environ={**env, "LABELLOOP_API_ENDPOINT": vertex.url})
    assert code == 2
    assert err.startswith("labelloop submit: error: missing project: pass --project, set $LABELLOOP_PROJECT")
    assert "location: pass --location" in err and "pipeline root: pass --pipeline-root" in err
    assert vertex.requests == []


def test_submit_without_credentials_says_how_to_log_in(tiny, vertex, vertex_env, monkeypatch):
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_credentials(*args, **kwargs):
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    code, _, err = run_cli("submit", tiny, "--param", "word=x", environ=vertex_env)
    assert code == 2
    assert "no Google Cloud credentials found; run `gcloud auth application-default login`" in err
    assert not vertex.matching("POST", r"/pipelineJobs$")


def test_schedule_on_vertex_from_the_cli(tiny, vertex, vertex_env):
    code, out, err = run_cli(
        "schedule",
        tiny,
        "--cron",
        "0 3 * * 1",
        "--max-concurrent",
        "1",
        "--max-runs",
        "10",
        "--start",
        "2030-01-01T00:00:00Z",
        "--end",
        "2030-06-01T00:00:00Z",
        "--param",
        "word=w",
        "--display-name",
        "weekly",
        environ=vertex_env,
    )
    assert (code, err) == (0, "")
    [sent] = vertex.matching("POST", r"^/v1/projects/env-proj/locations/europe-west4/schedules$")
    schedule = aiplatform_v1.Schedule.from_json(json.dumps(sent.body))
    assert (schedule.display_name, schedule.cron, schedule.max_concurrent_run_count, schedule.max_run_count) == (
        "weekly",
        "0 3 * * 1",
        1,
        10,
    )
    assert (sent.body["startTime"], sent.body["endTime"]) == ("2030-01-01T00:00:00Z", "2030-06-01T00:00:00Z")
    assert schedule.create_pipeline_job_request.pipeline_job.labels["labelloop-pipeline"] == "cli-tiny"
    assert "cron: 0 3 * * 1" in out and "state: ACTIVE" in out


def test_schedule_on_kfp_from_the_cli(tiny, env):
    with FakeKfp() as fake:
        code, out, err = run_cli(
            "schedule",
            tiny,
            "--cron",
            "30 2 * * *",
            "--kfp-host",
            fake.url,
            "--kfp-experiment",
            "nightly",
            "--param",
            "word=w",
            environ=env,
        )
        [sent] = fake.matching("POST", r"/recurringruns$")
    assert (code, err) == (0, "")
    assert sent.body["trigger"]["cron_schedule"]["cron"] == "0 30 2 * * *"
    assert sent.body["runtime_config"]["parameters"] == {"word": "w"}
    assert "schedule: rr-1" in out


def test_bad_cron_is_a_usage_error(tiny, vertex, vertex_env):
    code, _, err = run_cli("schedule", tiny, "--cron", "daily", "--param", "word=w", environ=vertex_env)
    assert code == 2
    assert "--cron 'daily' is not a 5-field cron expression" in err
    assert vertex.requests == []


def test_status_and_list_runs(tiny, vertex, vertex_env):
    run_cli("submit", tiny, "--param", "word=x", environ=vertex_env)
    [job_name] = vertex.jobs
    run_id = job_name.rsplit("/", 1)[-1]

    code, out, _ = run_cli("status", run_id, environ=vertex_env)
    assert code == 0 and "state: PIPELINE_STATE_PENDING" in out

    vertex.set_state(job_name, aiplatform_v1.PipelineState.PIPELINE_STATE_FAILED, error="repeat exited 1")
    code, out, _ = run_cli("status", job_name, environ=vertex_env)
    assert code == 1
    assert "state: PIPELINE_STATE_FAILED" in out and "error: repeat exited 1" in out

    code, out, _ = run_cli("list", "--runs", environ=vertex_env)
    assert code == 0
    assert out.startswith(f"{run_id}  FAILED")


def test_status_of_an_unknown_run_is_a_runtime_error(vertex, vertex_env):
    code, _, err = run_cli("status", "missing-run", environ=vertex_env)
    assert code == 1
    assert "Vertex AI refused the request: 404" in err


# ---------------------------------------------------------------------------------------------
# versions


def test_versions_list_show_and_restore(tmp_path, env):
    store = str(tmp_path / "store")
    records = [with_label(with_id({"textContent": t}, content_id(t)), "pos", source="human") for t in "ab"]
    write_jsonl(str(tmp_path / "m1.jsonl"), records[:1])
    write_jsonl(str(tmp_path / "m2.jsonl"), records)
    one = versions.create_version(store, "reviews", str(tmp_path / "m1.jsonl"), description="first").version
    two = versions.create_version(store, "reviews", str(tmp_path / "m2.jsonl"), description="second").version
    versions.record_model(store, "reviews", two.version_id, "gs://models/m1", pipeline_run="run-5")
    environ = {**env, "LABELLOOP_STORE": store}

    code, out, _ = run_cli("versions", "reviews", environ=environ)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"  {one.version_id}") and lines[0].endswith("first")
    assert lines[1].startswith(f"* {two.version_id}") and f"parent {one.version_id}" in lines[1]

    target = tmp_path / "restored.jsonl"
    code, out, _ = run_cli("versions", "reviews", one.version_id, "--restore-to", str(target), environ=environ)
    assert code == 0
    assert target.read_bytes() == (tmp_path / "m1.jsonl").read_bytes()
    assert f"version: {one.version_id}" in out and "items: 1" in out

    code, out, _ = run_cli("versions", "reviews", "latest", environ=environ)
    assert "model: gs://models/m1 (recorded" in out and "run run-5" in out


def test_versions_errors(tmp_path, env):
    code, _, err = run_cli("versions", "reviews", environ=env)
    assert code == 2 and "missing store: pass --store, set $LABELLOOP_STORE" in err
    code, _, err = run_cli("versions", "--store", str(tmp_path), "reviews", "latest", environ=env)
    assert code == 1 and "dataset 'reviews' has no versions" in err


def test_run_the_real_curate_pipeline_locally(tmp_path, env):
    """`labelloop run curate --local` end to end on a small text dataset (needs the curate components)."""
    for module in ("import_dataset", "prefilter_images", "split_dataset"):
        pytest.importorskip(f"labelloop.components.{module}")
    source = tmp_path / "reviews.jsonl"
    rows = [
        {
            "textContent": f"review number {i} is {'great' if i % 2 else 'awful'}",
            "classificationAnnotation": {"displayName": "pos" if i % 2 else "neg"},
        }
        for i in range(30)
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    root = tmp_path / "outputs"

    code, out, err = run_cli(
        "run",
        "curate",
        "--local",
        "--param",
        f"source_uri={source}",
        "--param",
        "data_type=text",
        "--param",
        "source_format=jsonl",
        "--pipeline-root",
        str(root),
        environ=env,
    )

    assert (code, err) == (0, ""), err
    assert "curate finished in" in out
    [split] = [p for p in root.rglob("split") if p.is_file()]
    ids = [line["dataItemResourceLabels"]["labelloop_id"] for line in map(json.loads, split.read_text().splitlines())]
    assert len(ids) == len(set(ids)) == 30
