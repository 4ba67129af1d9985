"""Compiled YAMLs: current, loadable, documented, pinned to our image, free of local paths and secrets."""

import re

import pytest
import yaml
from kfp import components, dsl, local
from labelloop.components._base import BASE_IMAGE
from labelloop.components.core import manifest as mf
from labelloop.pipelines import compiling

COMPONENT_YAMLS = sorted(compiling.COMPONENTS_DIR.glob("*.yaml"))
PIPELINE_YAMLS = sorted(compiling.PIPELINES_DIR.glob("*.yaml"))
#: A credential-looking literal: ``key: value`` on one line, or ``key = "value"`` (a quoted string, not a variable).
SECRET = re.compile(
    r"(api[_-]?key|password|secret|token)(?:[ \t]*:[ \t]*['\"]?|[ \t]*=[ \t]*['\"])[A-Za-z0-9_\-]{12,}", re.I
)
GCPC_IMAGE = re.compile(r"google-cloud-pipeline-components|gcr\.io/ml-pipeline")
LOCAL_PATH = re.compile(r"(?<![\w/])(/work/|/tmp/|/root/|/home/|file://)")


def test_committed_yamls_are_current():
    assert compiling.stale() == []


def test_every_component_and_pipeline_has_a_yaml():
    assert {p.stem for p in COMPONENT_YAMLS} == set(compiling.discover_components())
    expected = {f"{name}.{t}" for name in compiling.discover_pipelines() for t in compiling.TARGETS}
    assert {p.name.removesuffix(".yaml") for p in PIPELINE_YAMLS} == expected


@pytest.mark.parametrize("path", COMPONENT_YAMLS, ids=lambda p: p.stem)
def test_component_yaml_loads_back_with_its_descriptions(path):
    component = components.load_component_from_file(str(path))
    assert component.name == path.stem.replace("_", "-")
    text = path.read_text()
    spec = yaml.safe_load(text)
    root = spec["root"]
    assert "\n# Description: " in text, f"{path.name}: the component has no docstring summary"
    for section in ("parameters", "artifacts"):
        for kind in ("inputDefinitions", "outputDefinitions"):
            for name, definition in root.get(kind, {}).get(section, {}).items():
                assert definition.get("description"), f"{path.name}: {kind} {name} has no description"


@pytest.mark.parametrize("path", PIPELINE_YAMLS + COMPONENT_YAMLS, ids=lambda p: p.name)
def test_yaml_pins_our_image_and_bakes_in_no_local_path_or_secret(path):
    text = path.read_text()
    spec = yaml.safe_load(text)
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    images = [e["container"]["image"] for e in executors.values() if "container" in e]
    ours = [image for image in images if not GCPC_IMAGE.search(image)]
    assert ours and set(ours) == {BASE_IMAGE}
    assert not SECRET.search(text)
    assert not LOCAL_PATH.search(text), LOCAL_PATH.search(text)


def test_a_compiled_component_composes_into_another_teams_pipeline(tmp_path):
    """As another team would: load our YAML, feed it from their own component, run it locally."""
    split_op = components.load_component_from_file(str(compiling.COMPONENTS_DIR / "split_dataset.yaml"))

    @dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
    def their_items(items: dsl.Output[dsl.Dataset]):
        import json

        with open(items.path, "w") as handle:
            for i in range(40):
                record = {
                    "textContent": f"review {i}",
                    "classificationAnnotation": {"displayName": "good" if i % 2 else "bad"},
                    "dataItemResourceLabels": {"labelloop_id": f"review{i:02d}"},
                }
                handle.write(json.dumps(record) + "\n")

    @dsl.pipeline(name="their-pipeline")
    def their_pipeline(seed: int = 7):
        made = their_items()
        split_op(items=made.outputs["items"], method="random", seed=seed)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    their_pipeline()
    written = list(tmp_path.rglob("split-dataset/split"))
    assert len(written) == 1
    uses = [mf.ml_use_of(r) for r in mf.read_jsonl(str(written[0]))]
    assert len(uses) == 40 and sorted(set(uses)) == ["test", "training", "validation"]
