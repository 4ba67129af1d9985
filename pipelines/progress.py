"""Quiet local runs: one line per task, a progress bar while the run goes on, every log line in a file.

kfp.local prints a lot: every task's executor inputs, outputs and INFO logs, through the
``logging`` module (its handler writes to ``sys.stdout``, looked up when a task starts) and through
``print`` for each line a task's subprocess writes. :func:`monitored` redirects ``sys.stdout``
and ``sys.stderr`` to a :class:`RunMonitor` for the length of a run: it writes everything to a
log file (and, with ``verbose``, to the terminal as well) and reads three kinds of lines from it:
``Executing task 'x'``, ``Task 'x' finished with status S`` and the ``##labelloop-progress`` lines
long steps print (:mod:`labelloop.components.core.progress`). From them it prints one line per
task, under the task's display name (tasks of one labeling round share one line), and on a
terminal a live progress bar with ``rich``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..components.core.progress import parse_progress

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STARTED = re.compile(r"Executing task '([^']+)'")
_FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")
_ERROR = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*)$")
_GROUP = re.compile(r"^(?P<short>.*?)\s*\((?P<group>[^()]+)\)$|^(?P<short2>Record) (?P<group2>round \d+)$")


# ---------------------------------------------------------------------------------------------
# What the pipeline spec says about its tasks


@dataclass(frozen=True)
class TaskNames:
    """Display names of a compiled pipeline's tasks, by the task key kfp.local logs, and group sizes."""

    display: dict[str, str]
    groups: dict[str, int]  # group -> tasks in it

    @property
    def total(self) -> int:
        return len(self.display)

    def name(self, key: str) -> str:
        return self.display.get(key, key)


def group_of(display_name: str) -> tuple[str, str]:
    """``("round 2", "Train")`` for ``"Train (round 2)"`` or ``"Record round 2"``; ``("", name)`` otherwise."""
    match = _GROUP.match(display_name)
    if not match:
        return "", display_name
    if match.group("group"):
        return match.group("group"), match.group("short")
    return match.group("group2"), match.group("short2")


def task_names(pipeline_spec: Any) -> TaskNames:
    """The display name of every container task in ``pipeline_spec`` (a PipelineSpec proto), nested DAGs included.

    kfp.local names a running task after its component spec (``comp-merge-labels-3-2`` runs as
    ``merge-labels-3-2``), which is unique in the spec, unlike task keys in nested DAGs.
    """
    is_dag = {name for name, c in pipeline_spec.components.items() if c.HasField("dag")}
    dags = [pipeline_spec.root.dag, *(pipeline_spec.components[name].dag for name in is_dag)]
    display: dict[str, str] = {}
    for dag in dags:
        for key, task in dag.tasks.items():
            component = task.component_ref.name
            if component not in is_dag:
                display[component.removeprefix("comp-")] = task.task_info.name or key
    groups: dict[str, int] = {}
    for name in display.values():
        group, _ = group_of(name)
        if group:
            groups[group] = groups.get(group, 0) + 1
    return TaskNames(display, groups)


# ---------------------------------------------------------------------------------------------
# Turning log lines into task lines


@dataclass
class TaskRecord:
    key: str
    name: str
    started: float
    seconds: float | None = None
    status: str = "RUNNING"
    lines: list[str] = field(default_factory=list)

    def reason(self) -> str:
        """The failure's exception line (the last one the task printed), else its last line."""
        errors = [m.group(1) for line in self.lines if (m := _ERROR.match(line))]
        if errors:
            return errors[-1].strip()
        tail = [line.strip() for line in self.lines if line.strip()]
        return tail[-1] if tail else "no output"


def _seconds(value: float) -> str:
    return f"{value:6.1f}s" if value < 600 else f"{int(value // 60):4d}m{int(value % 60):02d}s"


class RunMonitor:
    """A text stream standing in for stdout/stderr during a run: logs everything, shows task lines.

    Args:
        log: The run's log file (every line kfp.local and the tasks print goes there).
        out: Where task lines go (the terminal).
        names: The pipeline's task display names (:func:`task_names`).
        echo: With ``--verbose``: the terminal stream that also gets every log line.
        live: A live display with ``update(done, total, description, step)`` (a progress bar); or None.
    """

    def __init__(
        self,
        log: TextIO,
        out: TextIO,
        names: TaskNames,
        *,
        echo: TextIO | None = None,
        live: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.log, self.out, self.names, self.echo, self.live, self.clock = log, out, names, echo, live, clock
        self.tasks: dict[str, TaskRecord] = {}
        self.current: TaskRecord | None = None
        self.failed: TaskRecord | None = None
        self.groups: dict[str, list[TaskRecord]] = {}
        self._partial = ""
        self.done = 0

    # -- the stream interface print() and logging use
    def write(self, text: str) -> int:
        self.log.write(text)
        if self.echo is not None:
            self.echo.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.feed(line)
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        if self.echo is not None:
            self.echo.flush()

    def isatty(self) -> bool:
        return False

    # -- parsing
    def feed(self, raw: str) -> None:
        line = _ANSI.sub("", raw)
        if started := _STARTED.search(line):
            key = started.group(1)
            self.current = self.tasks[key] = TaskRecord(key, self.names.name(key), self.clock())
            self._refresh()
            return
        if finished := _FINISHED.search(line):
            self._finish(finished.group(1), finished.group(2))
            return
        progress = parse_progress(line)
        if progress is not None:
            step, done, total = progress
            if self.live is not None:
                self.live.step(step, done, total)
            return
        if self.current is not None and self.current.status == "RUNNING":
            self.current.lines.append(line)

    def record_failure(self, message: str) -> None:
        """kfp.local may raise instead of logging a failed task: the task in the message, else the running one."""
        if self.failed is not None:
            return
        finished = _FINISHED.search(_ANSI.sub("", message))
        if finished:
            self._finish(finished.group(1), finished.group(2))
        elif self.current is not None and self.current.status == "RUNNING":
            self._finish(self.current.key, "FAILURE")

    def _finish(self, key: str, status: str) -> None:
        task = self.tasks.get(key) or TaskRecord(key, self.names.name(key), self.clock())
        task.seconds, task.status = self.clock() - task.started, status
        self.done += 1
        if status != "SUCCESS":
            self.failed = task
            self._print(f"  ✗ {task.name:<44} FAILED {_seconds(task.seconds)}")
            self._print(f"      reason: {task.reason()}")
            return
        group, _ = group_of(task.name)
        if not group:
            self._print(f"  ✓ {task.name:<44} done   {_seconds(task.seconds)}")
        else:
            members = self.groups.setdefault(group, [])
            members.append(task)
            if len(members) >= self.names.groups.get(group, 0):
                self._print_group(group)
        self._refresh()

    def _print_group(self, group: str) -> None:
        members = self.groups.pop(group)
        total = sum(t.seconds or 0.0 for t in members)
        slowest = sorted(members, key=lambda t: -(t.seconds or 0.0))[:2]
        detail = ", ".join(f"{group_of(t.name)[1].lower()} {t.seconds:.1f}s" for t in slowest)
        label = f"{group} ({len(members)} tasks)"
        self._print(f"  ✓ {label:<44} done   {_seconds(total)}  {detail}")

    def close(self) -> None:
        """Print the groups that ran only in part (a round that stopped early), flush the log."""
        if self._partial:
            self.feed(self._partial)
            self._partial = ""
        for group in list(self.groups):
            self._print_group(group)
        self.flush()

    def _print(self, text: str) -> None:
        if self.live is not None:
            self.live.print(text)
        else:
            print(text, file=self.out, flush=True)

    def _refresh(self) -> None:
        if self.live is not None:
            name = self.current.name if self.current and self.current.status == "RUNNING" else ""
            self.live.overall(self.done, self.names.total, name)


class RichLive:
    """The terminal's live area: the run's tasks done out of those in the graph, and a long step's own bar."""

    def __init__(self, out: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(file=out)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<46}"),
            BarColumn(bar_width=28),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.run_bar = self.progress.add_task("starting", total=None)
        self.step_bar = None

    def __enter__(self) -> RichLive:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def print(self, text: str) -> None:
        self.progress.console.print(text, highlight=False, markup=False)

    def overall(self, done: int, total: int, running: str) -> None:
        self.progress.update(self.run_bar, completed=done, total=max(total, done), description=running or "…")
        if self.step_bar is not None:
            self.progress.remove_task(self.step_bar)
            self.step_bar = None

    def step(self, step: str, done: int, total: int) -> None:
        if self.step_bar is None:
            self.step_bar = self.progress.add_task(f"  {step}", total=total)
        self.progress.update(self.step_bar, completed=done, total=total, description=f"  {step}")


# ---------------------------------------------------------------------------------------------
# One monitored run


class TaskFailed(RuntimeError):
    """A task of a local run failed: which one, why, and where the full log is."""

    def __init__(self, task: str, reason: str, log_path: Path):
        super().__init__(f"task '{task}' failed: {reason} (full log: {log_path})")
        self.task, self.reason, self.log_path = task, reason, log_path


@dataclass
class MonitoredRun:
    """What :func:`monitored` hands the caller: the log path (final once the run folder is known) and the monitor."""

    log_path: Path
    monitor: RunMonitor | None = None


@contextlib.contextmanager
def monitored(
    pipeline: Any, log_path: Path, out: TextIO, *, verbose: bool = False, live: bool | None = None
) -> Iterator[MonitoredRun]:
    """Run the body with kfp.local's output in ``log_path`` and one line per task on ``out``.

    ``live`` (default: when ``out`` is a terminal and not ``verbose``) adds rich's progress bars.
    A task failure (kfp.local raises RuntimeError) becomes :class:`TaskFailed` naming the task,
    its reason and the log.
    """
    import logging

    log_path.parent.mkdir(parents=True, exist_ok=True)
    names = task_names(pipeline.pipeline_spec)
    if live is None:
        live = bool(getattr(out, "isatty", lambda: False)()) and not verbose
    state = MonitoredRun(log_path)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.ExitStack() as stack:
        display = stack.enter_context(RichLive(out)) if live else None
        monitor = RunMonitor(log, out, names, echo=out if verbose else None, live=display)
        state.monitor = monitor
        # Loggers that already hold a handler on the real stderr (warnings, SDKs) write to the log too.
        handler = logging.StreamHandler(monitor)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        saved = [(h, h.stream) for h in root.handlers if isinstance(h, logging.StreamHandler) and h is not handler]
        for h, _ in saved:
            h.setStream(monitor)
        try:
            with contextlib.redirect_stdout(monitor), contextlib.redirect_stderr(monitor):  # type: ignore[type-var]
                yield state
        except RuntimeError as error:
            monitor.record_failure(str(error))
            monitor.close()
            failed = monitor.failed
            if failed is not None:
                raise TaskFailed(failed.name, failed.reason(), state.log_path) from error
            raise
        finally:
            root.removeHandler(handler)
            for h, stream in saved:
                h.setStream(stream)
            monitor.close()


def move_log_into(state: MonitoredRun, run_dir: Path | None) -> Path:
    """Move the run's log into its run folder once kfp.local made it; returns where the log is."""
    if run_dir is None or not run_dir.is_dir():
        return state.log_path
    target = run_dir / "labelloop.log"
    state.log_path.replace(target)
    state.log_path = target
    return target


def run_with_progress(
    pipeline: Any,
    run: Callable[[], Any],
    *,
    log_path: Path,
    out: TextIO,
    verbose: bool = False,
    run_dir: Callable[[], Path | None] = lambda: None,
) -> tuple[Any, Path]:
    """``run()`` under :func:`monitored`; returns its result and the log's final place (in the run folder)."""
    state = MonitoredRun(log_path)
    try:
        with monitored(pipeline, log_path, out, verbose=verbose) as state:
            result = run()
    except TaskFailed as failed:
        where = move_log_into(state, run_dir())
        raise TaskFailed(failed.task, failed.reason, where) from failed.__cause__
    except BaseException:
        move_log_into(state, run_dir())
        raise
    return result, move_log_into(state, run_dir())
