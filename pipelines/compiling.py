"""Finds every component and pipeline and compiles them to YAML; checks committed YAMLs are current.

Components: each ``components/<name>.py`` that defines a component called ``<name>``.
Pipelines: each ``pipelines/<name>.py`` that defines ``build_pipeline(target)``; one YAML per target.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
import tempfile
from pathlib import Path

from kfp import compiler
from kfp.dsl.base_component import BaseComponent

from .. import components as components_package
from .. import pipelines as pipelines_package
from . import discovery, images
from ._targets import TARGETS

COMPONENTS_DIR = (
    Path(components_package.__file__).resolve().parent / "compiled"
)  # resolve(): through the editable link tree
PIPELINES_DIR = Path(pipelines_package.__file__).resolve().parent / "compiled"


def discover_components() -> dict[str, BaseComponent]:
    """Every component in ``labelloop.components``, by name."""
    found = {}
    for info in pkgutil.iter_modules(components_package.__path__):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"labelloop.components.{info.name}")
        component = getattr(module, info.name, None)
        if isinstance(component, BaseComponent):
            found[info.name] = component
    return dict(sorted(found.items()))


def discover_pipelines() -> dict[str, object]:
    """Every pipeline module (one defining ``build_pipeline(target)``), by pipeline name (see ``discovery``)."""
    pipelines = discovery.discover()
    broken = [f"{info.name}: {info.error}" for info in pipelines.values() if info.error]
    if broken:
        raise discovery.PipelineImportError("pipeline module(s) cannot be read: " + "; ".join(broken))
    return {name: importlib.import_module(info.module) for name, info in sorted(pipelines.items())}


def component_path(name: str, root: Path = COMPONENTS_DIR) -> Path:
    return root / f"{name}.yaml"


def pipeline_path(name: str, target: str, root: Path = PIPELINES_DIR) -> Path:
    return root / f"{name}.{target}.yaml"


def compile_all(
    components_dir: Path = COMPONENTS_DIR, pipelines_dir: Path = PIPELINES_DIR, *, image: str | None = None
) -> list[Path]:
    """Compile every component and every pipeline (per target); returns the files written.

    ``image``: the container image labelloop's steps run in (default: the package-version tag); see images.py.
    """
    written = []
    components_dir.mkdir(parents=True, exist_ok=True)
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    for name, component in discover_components().items():
        path = component_path(name, components_dir)
        compiler.Compiler().compile(component, str(path))
        written.append(path)
    for name, module in discover_pipelines().items():
        for target in TARGETS:
            path = pipeline_path(name, target, pipelines_dir)
            compiler.Compiler().compile(module.build_pipeline(target), str(path))
            written.append(path)
    if image and image != images.DEFAULT_IMAGE:
        for path in written:
            images.rewrite_yaml_image(path, image)
    return written


_NUMBERED = re.compile(r"\b((?:comp|exec)-[a-z0-9]+(?:-[a-z]+[a-z0-9]*)*)(?:-\d+)+\b")


def _comparable(text: str) -> list[str]:
    """The YAML's lines as a sorted multiset, without the SDK version and KFP's numbering suffixes.

    KFP 2.17 numbers same-named components of sub-pipelines in protobuf-map order and with
    counters that live for the whole process, so ``comp-label-items-3`` in one compile is ``-5``
    in the next; every other change still shows.
    """
    lines = [_NUMBERED.sub(r"\1", line) for line in text.splitlines() if not line.lstrip().startswith("sdkVersion:")]
    return sorted(lines)


def stale(
    components_dir: Path = COMPONENTS_DIR, pipelines_dir: Path = PIPELINES_DIR, *, image: str | None = None
) -> list[str]:
    """Describe every committed YAML that differs from a fresh compile (empty when all are current)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = compile_all(Path(tmp) / "components", Path(tmp) / "pipelines", image=image)
        for new in fresh:
            committed = (components_dir if new.parent.name == "components" else pipelines_dir) / new.name
            if not committed.exists():
                problems.append(f"{committed}: missing; run `python compile.py`")
                continue
            diff = list(
                difflib.unified_diff(_comparable(committed.read_text()), _comparable(new.read_text()), lineterm="", n=0)
            )
            if diff:
                problems.append(
                    f"{committed}: stale ({len(diff)} diff lines, first: {diff[2:3]}); run `python compile.py`"
                )
        expected = {p.name for p in fresh}
        for folder in (components_dir, pipelines_dir):
            for extra in sorted(folder.glob("*.yaml")):
                if extra.name not in expected:
                    problems.append(f"{extra}: no component or pipeline produces it any more; delete it")
    return problems
