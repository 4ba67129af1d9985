"""Fixtures for backend tests: a real Label Studio server (once per session) and annotator users."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labelstudio_server


def _missing(reason: str):
    """Fail in CI (the install script must have run), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run {labelstudio_server.INSTALL_SCRIPT} before the tests")
    pytest.skip(f"{reason}; run {labelstudio_server.INSTALL_SCRIPT} to enable")


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory):
    executable = labelstudio_server.labelstudio_executable()
    if executable is None:
        _missing(f"label-studio is not installed in {labelstudio_server.labelstudio_venv()}")
    server = labelstudio_server.start_server(executable, tmp_path_factory.mktemp("label-studio"))
    yield server
    labelstudio_server.stop_server(server)


@pytest.fixture(scope="session")
def annotators(label_studio_server):
    """Three distinct annotator users, signed up through the web form: {email: token}."""
    users = {}
    for k in range(3):
        email = f"annotator{k}@labelloop.test"
        users[email] = labelstudio_server.sign_up_annotator(label_studio_server.url, email, f"pw-annotator-{k}-x9")
    return users


@pytest.fixture(scope="session")
def chromium_paths():
    import shutil

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        _missing("Debian chromium and chromium-driver are not installed")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("selenium is not installed in the project venv")
    return chromium, driver
