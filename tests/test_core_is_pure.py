"""The core holds the algorithms: it must run without kfp or Google Cloud libraries."""

import ast
import pathlib
import subprocess
import sys

import labelloop.components.core as core

CORE = pathlib.Path(core.__file__).parent
FORBIDDEN = ("kfp", "google.cloud", "google_cloud_pipeline_components", "google.api_core", "vertexai")


def forbidden_imports(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.startswith(FORBIDDEN)]
    return found


def test_core_sources_do_not_import_kfp_or_google_cloud():
    problems = [p for path in sorted(CORE.glob("*.py")) for p in forbidden_imports(path)]
    assert problems == []


def test_core_modules_import_without_pulling_kfp_or_google_cloud_in():
    modules = [f"labelloop.components.core.{p.stem}" for p in sorted(CORE.glob("*.py")) if p.stem != "__init__"]
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"  # site's .pth files pre-create empty google/google.cloud namespaces
        f"for m in {modules!r}: __import__(m)\n"
        f"bad = sorted(m for m in set(sys.modules) - before if m.startswith({FORBIDDEN!r}))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
