"""Imports every editor and static tool can follow.

Read from the source tree alone (``ast``, no import machinery, no installed package): inside
``components/`` and ``pipelines/`` every module-level import of our own code is relative and
resolves to a file in the checkout, and the graph those imports form has no cycle. Only
``@dsl.component`` bodies keep absolute ``labelloop.…`` imports: KFP runs a component's source on
its own, outside the package (see docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Checkout folder → the package it installs as (pyproject's package-dir).
PACKAGES = {"components": "labelloop.components", "pipelines": "labelloop.pipelines"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for folder in PACKAGES for p in sorted((REPO / folder).rglob("*.py"))}


def _is_component(node: ast.AST) -> bool:
    decorators = getattr(node, "decorator_list", [])
    return any("component" in ast.unparse(d) for d in decorators)


def _imports_outside_components(tree: ast.AST):
    """Import nodes, skipping the bodies of ``@dsl.component`` functions."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_component(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """Absolute names a relative ``from`` import refers to (the module and each imported name)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    target = ".".join(base + ([node.module] if node.module else []))
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    problems = []
    for name, path in modules.items():
        for node in _imports_outside_components(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            if isinstance(node, ast.Import):
                problems += [
                    f"{where}: absolute `import {a.name}`" for a in node.names if a.name.startswith("labelloop")
                ]
                continue
            if node.level == 0:
                if (node.module or "").startswith("labelloop"):
                    problems.append(f"{where}: absolute `from {node.module} import …`; make it relative")
                continue
            candidates = _resolve(name, path, node)
            found = [c for c in candidates if c in modules]
            if candidates[0] not in modules and (node.module or len(found) < len(node.names)):
                problems.append(f"{where}: `{ast.unparse(node)}` resolves to no file in the checkout")
            edges[name].update(c for c in found if c != name)
    return edges, problems


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    return cycles


def test_every_intra_project_import_is_relative_and_resolves():
    _, problems = _graph()
    assert problems == []


def test_the_static_import_graph_has_no_cycle():
    edges, _ = _graph()
    assert sum(map(len, edges.values())) > 50, "the graph should see the project's imports"
    assert _cycles(edges) == []


def test_pipelines_import_shared_steps_never_each_other():
    edges, _ = _graph()
    from labelloop.pipelines.discovery import discover

    pipeline_modules = {info.module for info in discover().values()}
    crossing = sorted(
        f"{src} imports {dst}" for src in pipeline_modules for dst in edges.get(src, ()) if dst in pipeline_modules
    )
    assert crossing == []
