"""``labelloop label-studio start|status|stop``: a local Label Studio for a team labeling while the pipeline waits.

Label Studio runs from its own virtualenv (``.venv-labelstudio``, made by
``.ci/install-labelstudio.sh``: its Django dependencies clash with kfp's), as a detached process
whose data folder keeps projects, tasks and annotations across stops and restarts. ``start``
writes ``labelloop-label-studio.json`` in that folder (url, pid, admin token, files root, log), so
``status`` and ``stop`` find it again, and prints the environment ``label_items`` reads
(``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``, ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``).
The pipeline's labeling step creates its project, imports the items and polls until the team has
labeled them; a re-run finds the same project by title and never buys a label twice.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

STATE_FILE = "labelloop-label-studio.json"
DEFAULT_DATA_DIR = "runs/label-studio"
DEFAULT_PORT = 8080
INSTALL_HINT = "bash .ci/install-labelstudio.sh"


class LabelStudioCliError(RuntimeError):
    """Label Studio could not be started, reached or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServerState:
    """What ``start`` recorded about the server it started."""

    url: str
    pid: int
    token: str
    admin_email: str
    admin_password: str
    files_root: str
    data_dir: str
    log: str

    def env(self) -> dict[str, str]:
        """The environment the pipeline's labeling step reads to reach this server."""
        return {
            "LABEL_STUDIO_URL": self.url,
            "LABEL_STUDIO_API_KEY": self.token,
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": self.files_root,
        }


def find_executable(environ: Mapping[str, str], cwd: Path) -> Path:
    """``label-studio`` in $LABELSTUDIO_VENV, ./.venv-labelstudio, or on PATH; else say how to install it."""
    import shutil

    candidates = [Path(environ["LABELSTUDIO_VENV"]) / "bin" / "label-studio"] if environ.get("LABELSTUDIO_VENV") else []
    candidates.append(cwd / ".venv-labelstudio" / "bin" / "label-studio")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which("label-studio")
    if found:
        return Path(found)
    raise LabelStudioCliError(
        f"label-studio is not installed (looked in {', '.join(str(c) for c in candidates)} and on PATH); "
        f"run `{INSTALL_HINT}` (it makes .venv-labelstudio) or set LABELSTUDIO_VENV"
    )


def read_state(data_dir: Path) -> ServerState | None:
    path = data_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        return ServerState(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise LabelStudioCliError(f"{path}: unreadable ({error}); delete it and run start again") from None


def write_state(data_dir: Path, state: ServerState) -> None:
    path = data_dir / STATE_FILE
    path.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
    path.chmod(0o600)  # it holds the admin token and password


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(url: str, token: str, *, timeout_s: float = 5.0) -> bool:
    import requests

    try:
        health = requests.get(f"{url}/health", timeout=timeout_s)
        whoami = requests.get(
            f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {token}"}, timeout=timeout_s
        )
    except requests.RequestException:
        return False
    return health.ok and whoami.ok


def port_free(port: int, *, wait_s: float = 0.0) -> bool:
    """Whether 127.0.0.1:``port`` can be bound, waiting up to ``wait_s`` for a stopped server to let go of it."""
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                return True
            except OSError:
                pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def start_server(
    executable: Path,
    *,
    data_dir: Path,
    files_root: Path,
    port: int,
    admin_email: str,
    admin_password: str | None,
    host: str = "127.0.0.1",
    timeout_s: float = 300.0,
    progress: Callable[[str], None] = lambda _: None,
) -> ServerState:
    """Start Label Studio detached (its own session), or reuse the one this data folder already runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    previous = read_state(data_dir)
    if previous and is_running(previous.pid) and healthy(previous.url, previous.token):
        return previous
    if not port_free(port, wait_s=30.0 if previous else 0.0):
        raise LabelStudioCliError(f"port {port} is in use; pass --port with a free one")
    token = previous.token if previous else secrets.token_hex(20)
    password = admin_password or (previous.admin_password if previous else secrets.token_urlsafe(12))
    log = data_dir / "label-studio.log"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files_root),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
    }
    command = [
        str(executable),
        "start",
        "--no-browser",
        "--enable-legacy-api-token",
        "--internal-host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        admin_email,
        "--password",
        password,
        "--user-token",
        token,
    ]
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            command, cwd=data_dir, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://{host}:{port}"
    state = ServerState(url, process.pid, token, admin_email, password, str(files_root), str(data_dir), str(log))
    write_state(data_dir, state)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabelStudioCliError(f"label-studio exited with {process.returncode}; see {log}")
        if healthy(url, token):
            return state
        progress(f"waiting for Label Studio at {url} ({time.monotonic() - deadline + timeout_s:.0f}s)")
        time.sleep(2.0)
    raise LabelStudioCliError(f"label-studio did not answer within {timeout_s:.0f}s; see {log}")


def _group_alive(pgid: int) -> bool:
    try:
        os.waitpid(pgid, os.WNOHANG)  # reap it when this process started it (a test), else no-op
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_server(state: ServerState, *, timeout_s: float = 30.0) -> bool:
    """Stop the server ``start`` started: its whole process group (it began a session); False when not running."""
    if not _group_alive(state.pid):
        return False
    os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _group_alive(state.pid):
        time.sleep(0.3)
    if _group_alive(state.pid):
        os.killpg(state.pid, signal.SIGKILL)
    return True


def sign_up(url: str, email: str, password: str) -> None:
    """Create a labeler account through the sign-up form, as the person would (open sign-up is on)."""
    import requests

    session = requests.Session()
    page = session.get(f"{url}/user/signup/", timeout=30)
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    csrf = session.cookies.get("csrftoken") or (match.group(1) if match else "")
    response = session.post(
        f"{url}/user/signup/",
        data={"csrfmiddlewaretoken": csrf, "email": email, "password": password, "allow_newsletters": "false"},
        headers={"Referer": f"{url}/user/signup/"},
        timeout=30,
    )
    if not response.ok or not session.get(f"{url}/api/current-user/whoami", timeout=30).ok:
        raise LabelStudioCliError(
            f"could not create the user {email} (HTTP {response.status_code}); "
            "the address may be taken or the password too short (8 characters at least)"
        )


@dataclass(frozen=True)
class ProjectProgress:
    title: str
    project_id: int
    tasks: int
    done: int


def project_progress(url: str, token: str) -> list[ProjectProgress]:
    """Every project with its tasks and the tasks that have at least one annotation."""
    import requests

    response = requests.get(
        f"{url}/api/projects", params={"page_size": 1000}, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    projects = body.get("results", body) if isinstance(body, dict) else body
    return [
        ProjectProgress(
            p.get("title", ""),
            int(p["id"]),
            int(p.get("task_number") or 0),
            int(p.get("num_tasks_with_annotations") or 0),
        )
        for p in projects
    ]


# ---------------------------------------------------------------------------------------------
# The CLI command


def add_command(commands, formatter) -> None:
    """Register ``label-studio start|status|stop`` on the CLI's subparsers."""
    command = commands.add_parser(
        "label-studio",
        help="start, watch or stop a local Label Studio for your labeling team",
        description=__doc__,
        formatter_class=formatter,
    )
    command.add_argument(
        "action", choices=("start", "status", "stop"), help="start (or reuse) the server, show progress, stop it"
    )
    command.add_argument(
        "--data-dir", default=DEFAULT_DATA_DIR, help=f"projects, annotations and state (default {DEFAULT_DATA_DIR})"
    )
    command.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    command.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 lets a team on your network in"
    )
    command.add_argument(
        "--files-root",
        default=".",
        help="folder whose images Label Studio may serve to labelers; items must lie under it (default: here)",
    )
    command.add_argument("--admin-email", default="admin@labelloop.local", help="admin account made at first start")
    command.add_argument("--admin-password", help="admin password (default: generated, kept in the state file)")
    command.add_argument(
        "--user",
        action="append",
        metavar="EMAIL:PASSWORD",
        help="create a labeler account (repeatable); without it, labelers sign up themselves",
    )
    command.set_defaults(handler=cmd_label_studio)


def cmd_label_studio(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    data_dir = Path(args.data_dir).resolve()
    if args.action == "start":
        return _start(args, data_dir, environ, out)
    state = read_state(data_dir)
    if state is None:
        raise LabelStudioCliError(f"no Label Studio was started with --data-dir {data_dir}; run start first")
    if args.action == "stop":
        stopped = stop_server(state)
        print(f"Label Studio {'stopped' if stopped else 'was not running'}; data kept in {data_dir}", file=out)
        return 0
    running = is_running(state.pid) and healthy(state.url, state.token)
    print(f"Label Studio at {state.url}: {'running' if running else 'NOT running'} (pid {state.pid})", file=out)
    if not running:
        print(f"  start it again with: labelloop label-studio start --data-dir {data_dir}", file=out)
        print(f"  its log: {state.log}", file=out)
        return 1
    _print_progress(state, out)
    return 0


def _start(args: argparse.Namespace, data_dir: Path, environ: Mapping[str, str], out: TextIO) -> int:
    executable = find_executable(environ, Path.cwd())
    files_root = Path(args.files_root).resolve()
    before = read_state(data_dir)
    reused = before is not None and is_running(before.pid) and healthy(before.url, before.token)
    print("starting Label Studio (the first start takes a minute or two) ...", file=out, flush=True)
    state = start_server(
        executable,
        data_dir=data_dir,
        files_root=files_root,
        port=args.port,
        admin_email=args.admin_email,
        admin_password=args.admin_password,
        host=args.host,
    )
    for entry in args.user or ():
        email, _, password = entry.partition(":")
        if not email or not password:
            raise LabelStudioCliError(f"--user {entry!r}: expected EMAIL:PASSWORD")
        sign_up(state.url, email, password)
        print(f"  created labeler {email}", file=out)
    verb = "already running" if reused else "running"
    print(
        f"Label Studio is {verb} at {state.url} (pid {state.pid}; log {state.log})\n"
        f"  admin login: {state.admin_email} / {state.admin_password}\n\n"
        "Connect the pipeline (label_items reads these; keep the token secret):\n"
        + "".join(f"  export {k}={v}\n" for k, v in state.env().items())
        + "\nInvite labelers: send them "
        + f"{state.url}/user/signup/ to make an account (or create them with --user EMAIL:PASSWORD);\n"
        "  they open the project the pipeline creates and press Label All Tasks.\n"
        f"Watch progress: labelloop label-studio status --data-dir {data_dir}",
        file=out,
    )
    return 0


def _print_progress(state: ServerState, out: TextIO) -> None:
    projects = project_progress(state.url, state.token)
    if not projects:
        print("  no projects yet: the pipeline's labeling step creates one when it sends items", file=out)
    for project in projects:
        share = project.done / project.tasks if project.tasks else 0.0
        print(
            f"  {project.title}: {project.done}/{project.tasks} tasks labeled ({share:.0%})  "
            f"{state.url}/projects/{project.project_id}/data",
            file=out,
        )


if __name__ == "__main__":  # pragma: no cover - the CLI calls cmd_label_studio
    sys.exit("use: labelloop label-studio start|status|stop")
