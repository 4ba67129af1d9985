"""The components' image: tag equals the package version, and its install step works."""

import os
import pathlib
import re
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
