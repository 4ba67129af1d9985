"""The components' image: its tag, its install step, and every local pipeline's steps run inside it.

The in-image tests (marked ``container``) need podman and the image `.ci/container.sh` builds (`make test`
runs it); they are skipped where podman is absent or ``LABELLOOP_CONTAINER=skip``.
"""

import contextlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from labelloop.components import __version__
from labelloop.components._base import BASE_IMAGE

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_image_tag_is_the_package_version():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == declared
    assert BASE_IMAGE.endswith(f":{declared}")


def test_dockerfile_runs_the_tested_install_script():
    dockerfile = (ROOT / "containers" / "Dockerfile").read_text()
    assert re.search(r"^RUN bash containers/install\.sh ", dockerfile, re.M)
    copied = re.findall(r"^COPY (\S+)", dockerfile, re.M)
    assert {"pyproject.toml", "components", "pipelines"} <= set(copied)
    assert re.search(r"^ARG BASE=python:3\.11-slim$", dockerfile, re.M) and "FROM ${BASE}" in dockerfile


@pytest.mark.slow
def test_install_step_works_in_a_fresh_virtual_environment(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        ["bash", str(ROOT / "containers" / "install.sh"), str(venv / "bin" / "python")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"labelloop {__version__}" in result.stdout
    # The installed (non-editable) package ships the compiled YAMLs and runs a component's code.
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import labelloop.pipelines.compiling as c, labelloop.components.split_dataset as s;"
            "print(sorted(p.name for p in c.COMPONENTS_DIR.glob('*.yaml'))[:3]); print(s.split_dataset.name)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert "split-dataset" in check.stdout


# ---------------------------------------------------------------------------------------------
# Every local pipeline's steps inside the built image (podman; `make test` builds it with .ci/container.sh)

IMAGE = os.environ.get("LABELLOOP_TEST_IMAGE") or f"localhost/labelloop/components:{__version__}"
LOCAL_PIPELINES = ("curate", "train", "active-learning", "active-learning-round", "retrain")


def _podman_ready() -> str | None:
    """Why the container tests cannot run here, or None when they can."""
    if os.environ.get("LABELLOOP_CONTAINER") == "skip":
        return "LABELLOOP_CONTAINER=skip"
    if shutil.which("podman") is None:
        return "podman is not installed (bash .ci/container.sh installs it and builds the image)"
    return None


requires_podman = pytest.mark.skipif(_podman_ready() is not None, reason=str(_podman_ready()))


@pytest.fixture(scope="module")
def image():
    """The built image; absent means the build step did not run, which is a failure where podman is present."""
    if subprocess.run(["podman", "image", "exists", IMAGE]).returncode != 0:
        pytest.fail(f"image {IMAGE} is not built; run `bash .ci/container.sh` (make test runs it)")
    if _built_from(IMAGE) != _checkout_digest():  # built from other sources: rebuild (cached layers, seconds)
        subprocess.run(["bash", str(ROOT / ".ci" / "container.sh")], check=True, capture_output=True)
    assert _built_from(IMAGE) == _checkout_digest(), "the image does not hold this checkout's code"
    return IMAGE


def _built_from(image: str) -> str:
    labels = subprocess.run(
        ["podman", "image", "inspect", "--format", '{{index .Labels "org.labelloop.source"}}', image],
        capture_output=True,
        text=True,
    )
    return labels.stdout.strip()


def _checkout_digest() -> str:
    return subprocess.run(
        [sys.executable, "containers/source_digest.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def executed():
    """Every TaskRun of this module's container tests, for the coverage check at the end."""
    return {}


def in_image(name: str, image: str, folder: pathlib.Path, *, max_rounds: int | None = None):
    """The ``name`` pipeline's local YAML (the packaged one; active-learning freshly unrolled to ``max_rounds``),
    rewritten to run ``image`` as `labelloop compile --image` does, loaded back as a component."""
    from kfp import compiler
    from kfp.components import load_component_from_file
    from labelloop.pipelines import compiling, images

    path = folder / f"{name}.local.yaml"
    if max_rounds is None:
        shutil.copy(compiling.pipeline_path(name, "local"), path)
    else:
        from labelloop.pipelines.active_learning import build_pipeline

        compiler.Compiler().compile(build_pipeline("local", max_rounds=max_rounds), str(path))
    images.rewrite_yaml_image(path, image)
    return load_component_from_file(str(path))


@contextlib.contextmanager
def container_run(tmp_path, image, executed, name):
    """kfp.local with every task in ``image`` via podman; records the runs under ``name``."""
    from container_runner import podman_tasks
    from kfp import local

    with podman_tasks(image=image, mounts=[str(tmp_path)]) as runs:
        local.init(runner=local.DockerRunner(), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
        try:
            yield runs
        finally:
            executed[name] = list(runs)
    assert runs and all(r.exit_code == 0 and r.image == image for r in runs), [(r.function, r.exit_code) for r in runs]


def functions_in(name: str) -> set[str]:
    """The component functions the packaged ``name`` local YAML runs."""
    import yaml
    from container_runner import function_of
    from labelloop.pipelines import compiling

    spec = yaml.safe_load(compiling.pipeline_path(name, "local").read_text())
    executors = spec["deploymentSpec"]["executors"].values()
    return {function_of(e["container"]["args"]) for e in executors if "container" in e}


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_a_failing_step_inside_the_container_is_reported_as_a_failure(tmp_path, image):
    from container_runner import podman_tasks
    from kfp import local
    from kfp.components import load_component_from_file
    from labelloop.pipelines import compiling, images

    path = tmp_path / "import_dataset.yaml"
    shutil.copy(compiling.component_path("import_dataset"), path)
    images.rewrite_yaml_image(path, image)
    import_dataset = load_component_from_file(str(path))
    missing = tmp_path / "no-such-folder"
    with podman_tasks(image=image, mounts=[str(tmp_path)]) as runs:
        local.init(runner=local.DockerRunner(), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
        with pytest.raises(RuntimeError, match="import-dataset.*FAILURE"):
            import_dataset(
                source_uri=str(missing), source_format="auto", data_type="image", allowed_uri_schemes=["file"]
            )
        local.init(runner=local.DockerRunner(), pipeline_root=str(tmp_path / "root"), raise_on_error=False)
        task = import_dataset(
            source_uri=str(missing), source_format="auto", data_type="image", allowed_uri_schemes=["file"]
        )
    assert task.outputs == {}  # kfp.local hands back no outputs for a failed task
    assert [r.function for r in runs] == ["import_dataset", "import_dataset"]
    for run in runs:
        assert run.exit_code == 1 and run.image == image, run
        assert "no-such-folder" in run.output and "Traceback" in run.output  # the component's own error
    # a task compiled with another image is refused, not run with it
    with podman_tasks(image="localhost/labelloop/some-other:1", mounts=[str(tmp_path)]) as other:
        local.init(runner=local.DockerRunner(), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
        with pytest.raises(RuntimeError, match="FAILURE"):
            import_dataset(
                source_uri=str(missing), source_format="auto", data_type="image", allowed_uri_schemes=["file"]
            )
    assert other[0].exit_code == -1 and "not the configured" in other[0].output


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_the_image_runs_with_no_network_and_holds_the_package(image):
    result = subprocess.run(
        [
            *("podman", "run", "--rm", "--pull=never", "--network=none", image, "python", "-W", "error", "-c"),
            "import labelloop.components as c, labelloop.pipelines.compiling, kfp, google_cloud_pipeline_components,"
            " google.cloud.secretmanager, sklearn, cv2; print(c.__version__)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == __version__


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_the_build_time_ca_bundle_and_pip_config_are_not_baked_in(image):
    """.ci/container.sh mounts this machine's CA bundle and a pip.conf for the build only: podman leaves
    empty mount points behind, never their content, and the image trusts only Debian's own CAs."""
    script = "cat /etc/pip.conf /run/labelloop-build/ca.crt 2>/dev/null | wc -c; cat /etc/ssl/certs/ca-certificates.crt"
    result = subprocess.run(
        ["podman", "run", "--rm", "--pull=never", "--network=none", image, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    size, bundle = result.stdout.split("\n", 1)
    assert size.strip() == "0"
    local_cas = sorted(pathlib.Path("/usr/local/share/ca-certificates").glob("*.crt"))
    for ca in local_cas:  # certificates this machine added to its trust store
        body = "".join(line for line in ca.read_text().splitlines() if line and not line.startswith("-----"))
        assert body[:200] not in bundle.replace("\n", ""), f"{ca.name} is baked into the image"


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_curate_in_the_image(tmp_path, image, executed):
    from labelloop.components.core.demo_data import make_demo_data

    data = make_demo_data(str(tmp_path / "data"), limit=40, near_duplicates=4, blurred=2)
    curate = in_image("curate", image, tmp_path)
    with container_run(tmp_path, image, executed, "curate") as runs:
        curate(source_uri=data.images_dir, hamming_threshold=4)
        curate(source_uri=data.images_dir, hamming_threshold=4, sharded=True, shard_count=2)  # issue 18's fan-out
    assert {"import_dataset", "prefilter_images", "split_dataset"} <= {r.function for r in runs}
    assert {"shard_items", "prefilter_shard", "merge_prefilter_shards"} <= {r.function for r in runs}
    splits = sorted((tmp_path / "root").rglob("split-dataset*/split"))
    assert len(splits) == 2 and splits[0].read_bytes() == splits[1].read_bytes()  # sharded or not: the same split


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_train_in_the_image_registers_a_blessed_model(tmp_path, image, executed):
    from labelloop.components.core import sample_data
    from labelloop.components.core.registry import ModelRegistry

    data = sample_data.load_digits_images()
    path = sample_data.write_image_manifest(
        data.images[:120], list(data.labels[:120]), str(tmp_path / "data"), ml_uses=sample_data.assign_ml_uses(120)
    )
    train = in_image("train", image, tmp_path)
    with container_run(tmp_path, image, executed, "train"):
        train(
            dataset_uri=path,
            task="image_classification",
            budget_seconds=2,
            registry_uri=str(tmp_path / "reg"),
            model_name="digits",
            dataset_version="dv1",
        )
    assert ModelRegistry(str(tmp_path / "reg")).alias("digits", "champion") == "1"


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_active_learning_then_one_more_round_in_the_image(tmp_path, image, executed):
    from labelloop.components.core import active_learning, versions
    from labelloop.components.core.demo_data import make_demo_data
    from labelloop.pipelines import demo

    data = make_demo_data(str(tmp_path / "data"), limit=120, near_duplicates=4, blurred=2)
    state = tmp_path / "state"
    common = dict(
        labeling_job_spec=demo.labeling_job_spec(demo.DIGITS),
        store_uri=str(state / "versions"),
        annotation_store_uri=str(state / "annotations"),
        active_learning_config=demo.active_learning_config(max_rounds=2),
        labeling_backend="simulated",
        ground_truth_uri=data.ground_truth,
        simulated_crowd=json.dumps(demo.CROWD),
        dataset_name="digits",
    )
    pipeline = in_image("active-learning", image, tmp_path, max_rounds=2)  # the cold start and one round
    with container_run(tmp_path, image, executed, "active-learning") as runs:
        pipeline(
            source_uri=data.images_dir,
            registry_uri=str(tmp_path / "registry"),
            model_name="digits",
            round_budget_seconds=2,
            final_budget_seconds=2,
            hamming_threshold=4,
            **common,
        )
    ran = [r.function for r in runs]
    assert {"label_items", "train_model", "evaluate_model", "gate_model", "build_run_report"} <= set(ran)
    assert "find_disputes" in ran  # the demo's spec asks for a review of disputed evaluation labels
    assert ran.count("register_model") + ran.count("keep_champion") == 1  # the gate's verdict, either way
    before = active_learning.rounds_from_state(versions.read_state(common["store_uri"], "digits").values)
    one_round = in_image("active-learning-round", image, tmp_path)
    with container_run(tmp_path, image, executed, "active-learning-round"):
        one_round(batch_size=5, round_budget_seconds=2, **common)
    after = active_learning.rounds_from_state(versions.read_state(str(state / "versions"), "digits").values)
    assert len(after) == len(before) + 1 and after[-1].labels_bought == 5


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_retrain_in_the_image(tmp_path, image, executed):
    from labelloop.components.core.registry import ModelRegistry
    from labelloop.components.core.sample_data import load_digits_images
    from PIL import Image, ImageFilter

    digits = load_digits_images()
    for index in range(90):
        folder = tmp_path / "labeled" / digits.labels[index]
        folder.mkdir(parents=True, exist_ok=True)
        image_ = Image.fromarray(digits.images[index]).resize((64, 64), Image.NEAREST).filter(ImageFilter.SMOOTH)
        image_.save(folder / f"{index}.png")
    retrain = in_image("retrain", image, tmp_path)
    with container_run(tmp_path, image, executed, "retrain"):
        retrain(
            source_uri=str(tmp_path / "labeled"),
            store_uri=str(tmp_path / "store"),
            registry_uri=str(tmp_path / "registry"),
            dataset_name="labeled",
            model_name="digits",
            budget_seconds=2,
            hamming_threshold=2,
        )
    assert ModelRegistry(str(tmp_path / "registry")).alias("digits", "champion") == "1"


@pytest.mark.slow
@pytest.mark.container
@requires_podman
def test_every_component_of_every_local_pipeline_ran_in_the_image(executed):
    if set(executed) != set(LOCAL_PIPELINES):
        pytest.skip(f"needs the other container tests in the same session (ran: {sorted(executed)})")
    ran = {r.function for runs in executed.values() for r in runs}
    used = set().union(*(functions_in(name) for name in LOCAL_PIPELINES))
    # Steps behind a condition a small run does not take are named here, with why.
    conditional = {"keep_champion"}  # runs only when the gate rejects the new model
    assert used - ran <= conditional, f"never ran in the image: {sorted(used - ran - conditional)}"


def test_building_the_package_prints_no_packaging_warning(tmp_path):
    """setuptools warns (30 lines each) when a package folder is not declared; the install must stay clean."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    warnings = [
        line
        for line in output.splitlines()
        if re.search(r"Warning\b|would be ignored|deprecated", line) and "WARNING: Location" not in line
    ]
    assert not warnings, "\n".join(warnings[:20])
