"""Shared test fixtures: a real local GCS emulator for ``gs://`` paths.

``gcs_bucket`` (session-scoped) starts ``gcp-storage-emulator`` on 127.0.0.1 on a free port, points
``STORAGE_EMULATOR_HOST`` at it, creates a bucket and yields its ``gs://`` prefix; fsspec/gcsfs then
read and write ``gs://`` URLs against the emulator with anonymous credentials, in this process and
in subprocesses (kfp.local runs) alike. ``gcs_prefix`` gives each test its own folder in that bucket.
Tests that use either carry ``@pytest.mark.gcs``.
"""

from __future__ import annotations

import os

# gcsfs reads this when it is first imported: without it, it loads experimental HNS support that
# talks to a real Google endpoint. It must be set before anything imports gcsfs.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

GCS_TEST_BUCKET = "labelloop-test"
EMULATOR_START_TIMEOUT_S = 30.0


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _emulator_command(port: int, bucket: str) -> list[str]:
    """The command line that starts the emulator from this interpreter's environment."""
    script = Path(sys.executable).with_name("gcp-storage-emulator")
    if not script.exists():
        found = shutil.which("gcp-storage-emulator")
        if found is None:
            raise RuntimeError("gcp-storage-emulator is not installed; install the dev extra: pip install -e '.[dev]'")
        script = Path(found)
    return [
        str(script),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--default-bucket",
        bucket,
        "--in-memory",
        "--quiet",
    ]


def _wait_until_serving(process: subprocess.Popen, endpoint: str, bucket: str, timeout_s: float) -> None:
    """Poll the emulator's bucket URL until it answers; raise with its output if it never does."""
    deadline = time.monotonic() + timeout_s
    url = f"{endpoint}/storage/v1/b/{bucket}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"gcp-storage-emulator exited with code {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gcp-storage-emulator did not answer {url} within {timeout_s:.0f} s")


def _point_fsspec_at_emulator(endpoint: str) -> None:
    """Make gcsfs use the emulator with anonymous credentials, here and in child processes."""
    import fsspec.config

    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    os.environ["FSSPEC_GS_TOKEN"] = "anon"  # read by fsspec at import time in subprocesses
    fsspec.config.conf.setdefault("gs", {})["token"] = "anon"
    fsspec.config.conf.setdefault("gcs", {})["token"] = "anon"
    import gcsfs

    gcsfs.GCSFileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def gcs_bucket() -> Iterator[str]:
    """``gs://<bucket>`` on a real local GCS emulator, started once per test session."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        _emulator_command(port, GCS_TEST_BUCKET), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    saved = {key: os.environ.get(key) for key in ("STORAGE_EMULATOR_HOST", "FSSPEC_GS_TOKEN")}
    try:
        _wait_until_serving(process, endpoint, GCS_TEST_BUCKET, EMULATOR_START_TIMEOUT_S)
        _point_fsspec_at_emulator(endpoint)
        yield f"gs://{GCS_TEST_BUCKET}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def gcs_prefix(gcs_bucket: str, request: pytest.FixtureRequest) -> str:
    """A fresh ``gs://`` folder for one test, so tests sharing the emulator never collide."""
    return f"{gcs_bucket}/{request.node.name.replace('[', '_').replace(']', '')}-{uuid.uuid4().hex[:8]}"
