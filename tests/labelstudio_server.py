"""Start a real Label Studio server for tests, and make annotator users on it.

Label Studio lives in its own virtualenv (``.ci/install-labelstudio.sh`` makes it) because its
Django dependencies clash with kfp's; this module only starts its ``label-studio`` executable and
talks to it over HTTP, so it imports nothing from it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = ".ci/install-labelstudio.sh"
ADMIN_EMAIL = "admin@labelloop.test"
ADMIN_PASSWORD = "labelloop-admin-pw"
ADMIN_TOKEN = "labelloop0test0admin0token0000000000000"


@dataclass(frozen=True)
class RunningServer:
    """A Label Studio server started for a test session."""

    url: str
    token: str
    data_dir: Path
    files_root: Path
    process: subprocess.Popen
    log_path: Path


def labelstudio_venv() -> Path:
    """The virtualenv the install script puts Label Studio in."""
    return Path(os.environ.get("LABELSTUDIO_VENV", REPO_ROOT / ".venv-labelstudio"))


def labelstudio_executable() -> Path | None:
    """The ``label-studio`` executable, or None when the install script has not been run."""
    path = labelstudio_venv() / "bin" / "label-studio"
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(executable: Path, workdir: Path, *, startup_timeout_s: float = 240.0) -> RunningServer:
    """Start Label Studio on 127.0.0.1 with a known admin token and local-file serving; wait until healthy."""
    port = free_port()
    data_dir = workdir / "ls-data"
    files_root = workdir / "ls-files"
    files_root.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "label-studio.log"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": ADMIN_EMAIL,
        "LABEL_STUDIO_PASSWORD": ADMIN_PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": ADMIN_TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files_root),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_DEBUG": "false",
    }
    command = [
        str(executable),
        "start",
        "--no-browser",
        "--enable-legacy-api-token",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        ADMIN_EMAIL,
        "--password",
        ADMIN_PASSWORD,
        "--user-token",
        ADMIN_TOKEN,
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    server = RunningServer(url, ADMIN_TOKEN, data_dir, files_root, process, log_path)
    try:
        wait_until_healthy(server, startup_timeout_s)
    except Exception:
        stop_server(server)
        raise
    return server


def wait_until_healthy(server: RunningServer, timeout_s: float) -> None:
    """Poll ``/health`` and an authenticated call until both answer; raise with the log tail if not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"label-studio exited with {server.process.returncode}:\n{log_tail(server)}")
        try:
            health = requests.get(f"{server.url}/health", timeout=5)
            whoami = requests.get(
                f"{server.url}/api/current-user/whoami", headers={"Authorization": f"Token {server.token}"}, timeout=5
            )
            if health.ok and whoami.ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"label-studio did not become healthy within {timeout_s:.0f}s:\n{log_tail(server)}")


def log_tail(server: RunningServer, chars: int = 4000) -> str:
    try:
        return server.log_path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def stop_server(server: RunningServer) -> None:
    """Stop the server's process group (the one this module started), waiting briefly."""
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


def sign_up_annotator(url: str, email: str, password: str) -> str:
    """Sign a new user up through the web form, as a person would, and return their API token."""
    session = requests.Session()
    page = session.get(f"{url}/user/signup/", timeout=30)
    page.raise_for_status()
    csrf = session.cookies.get("csrftoken") or _csrf_from_form(page.text)
    response = session.post(
        f"{url}/user/signup/",
        data={"csrfmiddlewaretoken": csrf, "email": email, "password": password, "allow_newsletters": "false"},
        headers={"Referer": f"{url}/user/signup/"},
        timeout=30,
    )
    response.raise_for_status()
    token = session.get(f"{url}/api/current-user/token", timeout=30)
    if not token.ok:
        raise RuntimeError(f"sign-up of {email} did not log in (HTTP {token.status_code}): {response.text[-500:]}")
    return token.json()["token"]


def _csrf_from_form(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("the sign-up page has no CSRF token")
    return match.group(1)
