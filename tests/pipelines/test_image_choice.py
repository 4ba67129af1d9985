"""The components' image is the user's choice: validated, and rewritten into every compiled spec."""

import io

import pytest
import yaml
from labelloop.pipelines import cli, compiling, images

DIGEST = "sha256:" + "0123456789abcdef" * 4
CONFIGURED = f"europe-docker.pkg.dev/my-project/ml/labelloop:1.2.3@{DIGEST}"
GCPC = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"


def compiled_yamls():
    return sorted(compiling.COMPONENTS_DIR.glob("*.yaml")) + sorted(compiling.PIPELINES_DIR.glob("*.yaml"))


def all_images(spec):
    return [e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e]


@pytest.mark.parametrize(
    "image",
    [
        "us-docker.pkg.dev/p/r/labelloop:0.1.0",
        f"us-docker.pkg.dev/p/r/labelloop@{DIGEST}",
        CONFIGURED,
        "localhost:5000/labelloop/components:dev-1",
        "labelloop/components:0.1.0",
    ],
)
def test_valid_references_pass(image):
    assert images.check_image(image) == image


@pytest.mark.parametrize(
    "image, match",
    [
        ("", "is empty"),
        ("us-docker.pkg.dev/p/r/labelloop", "no tag or digest"),
        ("us-docker.pkg.dev/p/R/Labelloop:1", "not a valid image reference"),
        ("us-docker.pkg.dev/p/r/labelloop:1 ", "whitespace"),
        ("us-docker.pkg.dev/p/r/labelloop@sha256:abc", "64 lowercase hex"),
        ("us-docker.pkg.dev/p/r/labelloop@md5:" + "0" * 32, "must be sha256"),
        ("https://us-docker.pkg.dev/p/r/labelloop:1", "not a valid image reference"),
    ],
)
def test_invalid_references_say_what_is_wrong(image, match):
    with pytest.raises(images.ImageError, match=match):
        images.check_image(image)


@pytest.mark.parametrize("path", compiled_yamls(), ids=lambda p: p.name)
def test_every_labelloop_executor_of_every_compiled_yaml_gets_the_configured_image(path):
    spec = yaml.safe_load(path.read_text())
    before = all_images(spec)
    assert set(before) <= {images.DEFAULT_IMAGE, GCPC}, "a component not decorated with BASE_IMAGE"
    rewritten = images.with_image(spec, CONFIGURED)
    assert all_images(rewritten) == [CONFIGURED if i == images.DEFAULT_IMAGE else i for i in before]
    assert images.DEFAULT_IMAGE not in yaml.dump(rewritten)  # custom-job worker pools' image_uri too
    assert all_images(spec) == before  # the input spec is left alone


def test_rewritten_yaml_keeps_everything_but_the_image(tmp_path):
    source = compiling.pipeline_path("train", "vertex")
    path = tmp_path / source.name
    path.write_text(source.read_text())
    images.rewrite_yaml_image(path, CONFIGURED)
    text = path.read_text()
    assert images.DEFAULT_IMAGE not in text and text.startswith("# PIPELINE DEFINITION")
    assert text.replace(CONFIGURED, images.DEFAULT_IMAGE) == source.read_text()


def test_an_executor_with_a_foreign_image_is_an_error():
    spec = {"deploymentSpec": {"executors": {"exec-x": {"container": {"image": "python:3.11", "command": ["x"]}}}}}
    with pytest.raises(images.ImageError, match="exec-x runs 'python:3.11'"):
        images.with_image(spec, CONFIGURED)


def run_cli(*argv, environ):
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), environ=environ, out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """compile_all/stale replaced by recorders of the image they were given (the full compile is tested below)."""
    calls = []
    monkeypatch.setattr(compiling, "compile_all", lambda **kw: calls.append(kw["image"]) or [])
    monkeypatch.setattr(compiling, "stale", lambda **kw: calls.append(kw["image"]) or [])
    return calls


def test_image_precedence_flag_then_environment_then_config_then_default(captured, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('image = "registry.example.com/team/labelloop:from-config"\n')
    env = {"HOME": str(tmp_path)}
    assert run_cli("--config", str(config), "compile", environ=env)[0] == 0
    assert run_cli("--config", str(config), "compile", environ={**env, "LABELLOOP_IMAGE": CONFIGURED})[0] == 0
    assert run_cli("--config", str(config), "compile", "--image", "r.io/a/b:flag", environ=env)[0] == 0
    assert run_cli("compile", "--check", environ=env)[0] == 0
    assert captured == ["registry.example.com/team/labelloop:from-config", CONFIGURED, "r.io/a/b:flag", None]


def test_an_invalid_image_is_a_usage_error_naming_its_source(captured, tmp_path):
    code, _, err = run_cli("compile", environ={"HOME": str(tmp_path), "LABELLOOP_IMAGE": "labelloop"})
    assert code == 2 and captured == []
    assert "'labelloop' has no tag or digest" in err and "$LABELLOOP_IMAGE" in err


@pytest.mark.slow
def test_compile_with_image_writes_it_into_every_compiled_yaml(tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run_cli("compile", "--out", str(out), "--image", CONFIGURED, environ={"HOME": str(tmp_path)})
    assert code == 0, err
    written = sorted(out.rglob("*.yaml"))
    assert sorted(p.name for p in written) == sorted(p.name for p in compiled_yamls())
    for path in written:
        for image in all_images(yaml.safe_load(path.read_text())):
            assert image in (CONFIGURED, GCPC), f"{path.name}: {image}"
        assert images.DEFAULT_IMAGE not in path.read_text(), path.name
    assert f"components run {CONFIGURED}" in stdout
    check = run_cli("compile", "--check", "--out", str(out), "--image", CONFIGURED, environ={"HOME": str(tmp_path)})
    assert check[0] == 0, check[1]


def test_submit_sends_the_configured_image_in_every_labelloop_step(tmp_path, monkeypatch):
    import google.auth
    import google.cloud.aiplatform.utils.resource_manager_utils as resource_manager
    from fake_vertex import FakeVertex
    from google.auth.credentials import AnonymousCredentials

    with FakeVertex() as vertex:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", vertex.url)
        monkeypatch.setattr(resource_manager, "get_project_number", lambda *a, **k: vertex.project_number)
        monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), None))
        config = tmp_path / "config.toml"
        config.write_text(f'image = "{CONFIGURED}"\n')
        environ = {"HOME": str(tmp_path), "LABELLOOP_API_ENDPOINT": vertex.url, "LABELLOOP_CONFIG": str(config)}
        argv = ["submit", "train", "--project", "p", "--location", "us-central1", "--pipeline-root", "gs://b/root"]
        code, _, err = run_cli(*argv, "--param", "dataset_uri=gs://b/items.jsonl", environ=environ)
        assert code == 0, err
        bad = run_cli(*argv, "--param", "dataset_uri=gs://b/x", environ={**environ, "LABELLOOP_IMAGE": "x y"})
    assert bad[0] == 2 and "whitespace" in bad[2]
    [sent] = vertex.matching("POST", r"/pipelineJobs$")
    images_sent = all_images(sent.body["pipelineSpec"])
    assert CONFIGURED in images_sent and set(images_sent) <= {CONFIGURED, GCPC}
    assert images.DEFAULT_IMAGE not in yaml.dump(sent.body)
    assert images.DEFAULT_IMAGE in compiling.pipeline_path("train", "vertex").read_text()  # packaged YAML untouched
