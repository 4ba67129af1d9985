"""Finds the pipelines: every module in ``labelloop.pipelines`` that defines ``build_pipeline(target)``.

A pipeline's name is its module name with ``_`` written as ``-`` (``active_learning`` →
``active-learning``). The one pipeline discovery: ``compiling.py`` (compile, ``--check``), the CLI
and the tests all use it. (Named ``discovery`` so it is not confused with the model registry,
``components/core/registry.py``.)

Modules are first read as source (``ast``) so listing pipelines imports only pipeline modules,
never the CLI or the Vertex SDK; a pipeline module that fails to import is listed with its error
instead of silently disappearing.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ._targets import TARGETS

PACKAGE = "labelloop.pipelines"


class UnknownPipelineError(LookupError):
    """No pipeline has the requested name."""


class PipelineImportError(RuntimeError):
    """A pipeline module exists but cannot be imported or built."""


@dataclass(frozen=True)
class PipelineInfo:
    """One discoverable pipeline: its name, module, one-line summary and full module docstring."""

    name: str
    module: str
    summary: str
    doc: str
    error: str | None = None


def _defines_build_pipeline(source: str) -> bool:
    tree = ast.parse(source)
    return any(isinstance(node, ast.FunctionDef) and node.name == "build_pipeline" for node in tree.body)


def _module_doc(source: str) -> str:
    return ast.get_docstring(ast.parse(source)) or ""


def _candidate_modules(package: ModuleType) -> list[tuple[str, Path]]:
    found = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg or module.name.startswith("_"):
            continue
        path = Path(module.module_finder.path) / f"{module.name}.py"
        if path.is_file():
            found.append((module.name, path))
    return sorted(found)


def discover(package_name: str = PACKAGE) -> dict[str, PipelineInfo]:
    """Every pipeline in ``package_name`` by name, with its docstring; import errors are kept, not hidden."""
    package = importlib.import_module(package_name)
    pipelines = {}
    for name, path in _candidate_modules(package):
        source = path.read_text(encoding="utf-8")
        pipeline_name, module = name.replace("_", "-"), f"{package_name}.{name}"
        try:
            if not _defines_build_pipeline(source):
                continue
        except SyntaxError as err:
            pipelines[pipeline_name] = PipelineInfo(pipeline_name, module, "", "", f"{path}:{err.lineno}: {err.msg}")
            continue
        doc = _module_doc(source)
        pipelines[pipeline_name] = PipelineInfo(pipeline_name, module, doc.split("\n", 1)[0], doc)
    return pipelines


def get(name: str, package_name: str = PACKAGE) -> PipelineInfo:
    """The pipeline called ``name``; the error lists the names that exist."""
    pipelines = discover(package_name)
    name = name.replace("_", "-")
    if name not in pipelines:
        known = ", ".join(sorted(pipelines)) or "none found"
        raise UnknownPipelineError(f"no pipeline named {name!r}; known pipelines: {known} (see `labelloop list`)")
    return pipelines[name]


def build(info: PipelineInfo, target: str) -> Any:
    """Import the pipeline's module and call ``build_pipeline(target)``; returns the pipeline object."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if info.error:
        raise PipelineImportError(f"pipeline {info.name!r} cannot be loaded: {info.error}")
    try:
        module = importlib.import_module(info.module)
        return module.build_pipeline(target)
    except Exception as err:
        raise PipelineImportError(
            f"pipeline {info.name!r} failed to build for target {target!r}: {type(err).__name__}: {err}"
        ) from err
