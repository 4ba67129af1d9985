"""Run kfp.local tasks inside labelloop's image with ``podman run``: every step's real exit status, no daemon.

kfp.local's DockerRunner starts containers with auto-remove through the Docker API; over podman's
Docker-compatible socket the exit status is then lost (``wait`` answers 404, counted as exit 0: a failing
step reads SUCCESS) and fast steps crash the runner (``logs`` on a removed container). Here each task runs as
``podman run --rm ... IMAGE COMMAND`` instead: podman waits for the container and exits with its status
before removing it, and that status alone decides SUCCESS or FAILURE.

    with podman_tasks(image=IMAGE, mounts=[str(tmp_path)]) as runs:
        local.init(runner=local.DockerRunner(), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
        pipeline(...)
    runs  # [TaskRun(function, image, exit_code, output), ...]

The task command and environment are the compiled executor's, with kfp.local's placeholders filled in; the
pipeline root and ``mounts`` are mounted at the same paths; the network is off (the image must hold
everything a step needs). Only DockerRunner's defaults are supported: the handler refuses other arguments.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kfp.local import docker_task_handler, status, task_handler_interface


@dataclass(frozen=True)
class TaskRun:
    """One task as it ran: the component function, the image, podman's exit status and the output."""

    function: str
    image: str
    exit_code: int
    output: str


def podman_command(image: str, command: Sequence[str], env: dict[str, str], mounts: Sequence[str]) -> list[str]:
    """The ``podman run`` line for one task (same-path bind mounts, no network, never a pull)."""
    volumes = [arg for path in dict.fromkeys(mounts) for arg in ("-v", f"{path}:{path}:rw")]
    environment = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    return ["podman", "run", "--rm", "--pull=never", "--network=none", *volumes, *environment, image, *command]


def function_of(command: Sequence[str]) -> str:
    """The component function a KFP lightweight-component command runs (``--function_to_execute NAME``)."""
    command = list(command)
    return command[command.index("--function_to_execute") + 1] if "--function_to_execute" in command else "?"


@contextlib.contextmanager
def podman_tasks(*, image: str, mounts: Sequence[str] = ()) -> Iterator[list[TaskRun]]:
    """Within the block, kfp.local's DockerRunner runs each task with ``podman run``; yields the runs so far.

    Every task must use ``image`` (the configured one): a task compiled with another image fails.
    """
    runs: list[TaskRun] = []

    class PodmanTaskHandler(task_handler_interface.ITaskHandler):
        def __init__(self, image, full_command, pipeline_root, runner, env_vars=None):
            self.image, self.command, self.pipeline_root = image, list(full_command), pipeline_root
            self.env = dict(env_vars or {})
            unsupported = set(runner.container_run_args)
            if unsupported:
                raise ValueError(f"the podman task handler takes no DockerRunner arguments, got {sorted(unsupported)}")

        def run(self) -> status.Status:
            function = function_of(self.command)
            if self.image != image:
                output = f"task {function} was compiled with image {self.image!r}, not the configured {image!r}"
                runs.append(TaskRun(function, self.image, -1, output))
                print(output)
                return status.Status.FAILURE
            os.makedirs(self.pipeline_root, exist_ok=True)  # Docker creates a missing bind source; podman refuses
            completed = subprocess.run(
                podman_command(self.image, self.command, self.env, [self.pipeline_root, *mounts]),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            print(completed.stdout, end="")
            runs.append(TaskRun(function, self.image, completed.returncode, completed.stdout))
            return status.Status.SUCCESS if completed.returncode == 0 else status.Status.FAILURE

    original = docker_task_handler.DockerTaskHandler
    docker_task_handler.DockerTaskHandler = PodmanTaskHandler  # task_dispatcher looks it up per task
    try:
        yield runs
    finally:
        docker_task_handler.DockerTaskHandler = original
