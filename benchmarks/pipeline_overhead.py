"""Local pipeline overhead: seconds per task beyond the work itself, beside a bare-import floor.

Runs a chain of our real components (``split_dataset`` → ``merge_labels`` × N → ``get_artifact_uri``)
over a tiny manifest with ``kfp.local.SubprocessRunner(use_venv=False)``, and in the same run, on
the same inputs, interleaved so a busy shared machine hurts all figures alike:

* the pipeline's wall clock, and each task's child process as kfp.local sees it;
* the work itself: each component's ``.python_func`` called in-process (imports already warm);
* the floor: ``python -c "import …"`` of exactly the modules each component's executor process
  imports (found once with ``-X importtime`` on the real task commands), with the executor's env;
* ``python -c pass``, to split the floor into interpreter start and imports.

Prints per task: overhead = (wall − work) / tasks, the floor (task-mix weighted), their ratio, and
where the overhead goes (interpreter, imports, the executor beyond its imports, kfp.local's own
orchestration in the parent process), then a cProfile of one run's orchestration by kfp.local step.
Figures are medians over the repeats with [min–max].

Usage: python benchmarks/pipeline_overhead.py [--merges 12] [--items 200] [--repeats 5]
"""

# No ``from __future__ import annotations``: KFP reads the pipeline function's annotations as types.

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from kfp import dsl, local
from kfp.local import subprocess_task_handler
from labelloop.components.core import manifest as mf
from labelloop.components.get_artifact_uri import get_artifact_uri
from labelloop.components.merge_labels import merge_labels
from labelloop.components.split_dataset import split_dataset

#: The executor's own environment (set by the compiled command); kfp imports less with it.
EXECUTOR_ENV = {"_KFP_RUNTIME": "true"}
#: The temp module the executor writes the component source into; its imports are the component's.
EPHEMERAL_MODULE = "ephemeral_component"
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)\s*$")
#: kfp.local steps attributed in the orchestration profile: (file suffix, function, label).
ORCHESTRATION_STEPS = (
    ("kfp/local/executor_input_utils.py", "construct_executor_input", "build executor input"),
    ("kfp/local/executor_input_utils.py", "executor_input_to_dict", "executor input to JSON dict"),
    ("kfp/local/placeholder_utils.py", "replace_placeholders", "fill command placeholders"),
    ("kfp/local/subprocess_task_handler.py", "__init__", "task handler checks (image warning)"),
    ("kfp/local/executor_output_utils.py", "get_outputs_for_task", "read task outputs"),
    ("kfp/local/importer_handler.py", "run_importer", "importers (per pipeline)"),
    ("logging/__init__.py", "_log", "log records"),
)


class BenchmarkError(RuntimeError):
    """A measurement could not be taken; the message says which and shows the captured output."""


@dataclass(frozen=True)
class Inputs:
    """The tiny manifest and the labeled subset merged back into it, as local files."""

    manifest: str
    labeled: str
    items: int


@dataclass(frozen=True)
class ChainRun:
    """One local pipeline run: its wall clock and each task's child process (component, seconds)."""

    wall: float
    task_seconds: tuple[tuple[str, float], ...]

    @property
    def tasks(self) -> int:
        return len(self.task_seconds)

    @property
    def child_seconds(self) -> float:
        return sum(seconds for _, seconds in self.task_seconds)


@dataclass(frozen=True)
class ExecutorImports:
    """What one component's executor process imports: the floor's module list and the heaviest ones."""

    component: str
    modules: tuple[str, ...]
    heaviest: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Spread:
    """Median and range of repeated measurements."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        return cls(statistics.median(values), min(values), max(values))


# ---------------------------------------------------------------------------------------------
# Inputs and the pipeline


def write_inputs(folder: str, items: int) -> Inputs:
    """Write a labeled text manifest of ``items`` items and a relabeled tenth of it."""
    records = [
        mf.with_label(
            mf.with_id({"textContent": f"document {i}"}, mf.content_id(f"document {i}")), "xy"[i % 2], source="import"
        )
        for i in range(items)
    ]
    manifest, labeled = os.path.join(folder, "manifest.jsonl"), os.path.join(folder, "labeled.jsonl")
    mf.write_jsonl(manifest, records)
    mf.write_jsonl(labeled, [mf.with_label(record, "y", source="human") for record in records[::10]])
    return Inputs(manifest=manifest, labeled=labeled, items=items)


def build_chain(merges: int):
    """A pipeline: import both manifests, split, merge the labels back ``merges`` times, get the URI."""

    @dsl.pipeline(name="overhead-chain")
    def overhead_chain(manifest_uri: str, labeled_uri: str):
        manifest = dsl.importer(artifact_uri=manifest_uri, artifact_class=dsl.Dataset)
        labeled = dsl.importer(artifact_uri=labeled_uri, artifact_class=dsl.Dataset)
        current = split_dataset(items=manifest.output, method="random").outputs["split"]
        for _ in range(merges):
            current = merge_labels(items=current, labeled=labeled.output).outputs["merged"]
        get_artifact_uri(artifact=current)

    return overhead_chain


def component_of(full_command: Sequence[str]) -> str:
    """The component function a task command executes (its ``--function_to_execute`` value)."""
    parts = list(full_command)
    try:
        return parts[parts.index("--function_to_execute") + 1]
    except (ValueError, IndexError):
        raise BenchmarkError(f"task command has no --function_to_execute: {parts[:3]}…") from None


@contextlib.contextmanager
def task_launcher(launch: Callable[[list, dict], int]) -> Iterator[None]:
    """Route kfp.local's child-process launch through ``launch(full_command, env_vars)``."""
    original = subprocess_task_handler.run_local_subprocess
    subprocess_task_handler.run_local_subprocess = lambda full_command, env_vars=None: launch(
        full_command, env_vars or {}
    )
    try:
        yield
    finally:
        subprocess_task_handler.run_local_subprocess = original


def run_chain(pipeline, inputs: Inputs, pipeline_root: str, launch: Callable[[list, dict], int]) -> float:
    """Run ``pipeline`` locally with tasks started by ``launch``; returns its wall clock in seconds.

    kfp.local's workspace and each task's ``mktemp -d`` (via ``TMPDIR``) stay under ``pipeline_root``,
    so nothing is left in the shared /tmp. Its console output is captured, shown only on failure.
    """
    scratch = os.path.join(pipeline_root, "scratch")
    os.makedirs(scratch, exist_ok=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, workspace_root=scratch)
    captured = io.StringIO()

    def in_scratch(full_command: list, env_vars: dict) -> int:
        return launch(full_command, {**env_vars, "TMPDIR": scratch})

    started = time.perf_counter()
    try:
        with task_launcher(in_scratch), contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            pipeline(manifest_uri=inputs.manifest, labeled_uri=inputs.labeled)
    except Exception as error:
        raise BenchmarkError(
            f"local pipeline run under {pipeline_root} failed: {error}\n--- "
            f"its output (tail) ---\n{captured.getvalue()[-4000:]}"
        ) from error
    return time.perf_counter() - started


def timed_chain_run(pipeline, inputs: Inputs, pipeline_root: str) -> ChainRun:
    """Run the chain, timing each task's child process exactly as kfp.local starts it."""
    task_seconds: list[tuple[str, float]] = []
    launch_as_kfp = subprocess_task_handler.run_local_subprocess

    def timed_launch(full_command: list, env_vars: dict) -> int:
        started = time.perf_counter()
        code = launch_as_kfp(full_command=full_command, env_vars=env_vars)
        task_seconds.append((component_of(full_command), time.perf_counter() - started))
        return code

    wall = run_chain(pipeline, inputs, pipeline_root, timed_launch)
    return ChainRun(wall=wall, task_seconds=tuple(task_seconds))


# ---------------------------------------------------------------------------------------------
# What the executor imports (the floor's module list)


def parse_importtime(stderr: str) -> tuple[list[str], list[tuple[str, float]]]:
    """Top-level imports in ``-X importtime`` output, in order, and their cumulative seconds.

    The component module itself is replaced by what it imports, so the list is importable by name.
    """
    modules: list[str] = []
    costs: list[tuple[str, float]] = []
    children: list[tuple[str, float]] = []
    for line in stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if not match:
            continue
        cumulative, depth, name = int(match.group(2)) / 1e6, len(match.group(3)) // 2, match.group(4)
        if depth == 1:
            children.append((name, cumulative))
        elif depth == 0:
            entries = children if name == EPHEMERAL_MODULE else [(name, cumulative)]
            modules.extend(module for module, _ in entries)
            costs.extend(entries)
            children = []
    return modules, costs


def discover_executor_imports(pipeline, inputs: Inputs, pipeline_root: str) -> dict[str, ExecutorImports]:
    """Run the chain once with ``-X importtime`` in every task; returns each component's imports."""
    found: dict[str, ExecutorImports] = {}

    def profiling_launch(full_command: list, env_vars: dict) -> int:
        env = {**os.environ, **env_vars, "PYTHONPROFILEIMPORTTIME": "1"}
        done = subprocess.run(full_command, env=env, capture_output=True, text=True)
        component = component_of(full_command)
        if done.returncode != 0:
            raise BenchmarkError(
                f"task {component} failed under -X importtime (exit {done.returncode}):\n{done.stderr[-3000:]}"
            )
        modules, costs = parse_importtime(done.stderr)
        if not modules:
            raise BenchmarkError(
                f"no -X importtime lines in the output of task {component}; is PYTHONPROFILEIMPORTTIME honoured?"
            )
        heaviest = tuple(sorted(costs, key=lambda cost: -cost[1])[:3])
        found.setdefault(component, ExecutorImports(component, tuple(dict.fromkeys(modules)), heaviest))
        return 0

    run_chain(pipeline, inputs, pipeline_root, profiling_launch)
    return found


# ---------------------------------------------------------------------------------------------
# Floor and work


def time_process(command: Sequence[str], env: dict[str, str]) -> float:
    """Wall clock of one child process, in seconds; raises with its stderr if it fails."""
    started = time.perf_counter()
    done = subprocess.run(list(command), env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchmarkError(
            f"floor command failed (exit {done.returncode}): {' '.join(command)[:300]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def floor_command(modules: Sequence[str]) -> list[str]:
    """``python -c "import a, b, …"`` with the interpreter the tasks run under."""
    return [sys.executable, "-c", f"import {', '.join(modules)}" if modules else "pass"]


def artifact(cls, folder: str, name: str):
    """An output artifact in ``folder`` as the component tests make them."""
    return cls(name=name, uri=os.path.join(folder, name), metadata={})


def run_work(inputs: Inputs, merges: int, folder: str) -> dict[str, float]:
    """Call each component's function in-process on the chain's inputs; seconds per component (summed)."""
    seconds: Counter[str] = Counter()

    def timed(name: str, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        seconds[name] += time.perf_counter() - started

    items = dsl.Dataset(name="manifest", uri=inputs.manifest, metadata={})
    labeled = dsl.Dataset(name="labeled", uri=inputs.labeled, metadata={})
    split = artifact(dsl.Dataset, folder, "split")
    timed(
        "split_dataset",
        lambda: split_dataset.python_func(
            items=items,
            split=split,
            metrics=artifact(dsl.Metrics, folder, "metrics"),
            report=artifact(dsl.HTML, folder, "report"),
            method="random",
        ),
    )
    current = split
    for index in range(merges):
        merged = artifact(dsl.Dataset, folder, f"merged-{index}")
        timed("merge_labels", lambda c=current, m=merged: merge_labels.python_func(items=c, labeled=labeled, merged=m))
        current = merged
    timed("get_artifact_uri", lambda: get_artifact_uri.python_func(artifact=current))
    return dict(seconds)


# ---------------------------------------------------------------------------------------------
# Orchestration profile


def profile_orchestration(pipeline, inputs: Inputs, pipeline_root: str) -> tuple[pstats.Stats, ChainRun]:
    """cProfile the parent process over one run (child processes are not profiled)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run = timed_chain_run(pipeline, inputs, pipeline_root)
    finally:
        profiler.disable()
    return pstats.Stats(profiler), run


def step_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each kfp.local step in ``ORCHESTRATION_STEPS``."""
    totals = dict.fromkeys((label for *_, label in ORCHESTRATION_STEPS), 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        for suffix, name, label in ORCHESTRATION_STEPS:
            if function == name and filename.replace(os.sep, "/").endswith(suffix):
                totals[label] += cumulative
    return totals


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Repeat:
    """One repeat, all taken back to back: a pipeline run, the work, the bare and per-component floors."""

    run: ChainRun
    work: dict[str, float]
    bare: float
    floors: dict[str, float]

    @property
    def tasks(self) -> int:
        return self.run.tasks

    @property
    def work_seconds(self) -> float:
        return sum(self.work.values())

    @property
    def overhead(self) -> float:
        """(wall − work) / tasks."""
        return (self.run.wall - self.work_seconds) / self.tasks

    @property
    def floor(self) -> float:
        """The floor per task, weighted by how many tasks of each component the chain runs."""
        return sum(self.floors[component] for component, _ in self.run.task_seconds) / self.tasks

    @property
    def beyond_floor(self) -> float:
        """What the child process spends beyond its imports and the work: sh, argparse, JSON, logs."""
        return (self.run.child_seconds - self.work_seconds) / self.tasks - self.floor

    @property
    def orchestration(self) -> float:
        """kfp.local's time in the parent process per task: wall minus the child processes."""
        return (self.run.wall - self.run.child_seconds) / self.tasks


@dataclass(frozen=True)
class Measurements:
    """Everything the report prints."""

    items: int
    repeats: tuple[Repeat, ...]
    imports: dict[str, ExecutorImports]
    profiled: ChainRun
    profiled_steps: dict[str, float]
    load: tuple[float, float]


def measure_repeat(pipeline, inputs: Inputs, merges: int, imports: dict[str, ExecutorImports], folder: str) -> Repeat:
    """One pipeline run, the same work in-process, then the floors, back to back."""
    env = {**os.environ, **EXECUTOR_ENV}
    run = timed_chain_run(pipeline, inputs, os.path.join(folder, "run"))
    work = run_work(inputs, merges, os.path.join(folder, "work"))
    missing = {component for component, _ in run.task_seconds} - set(imports)
    if missing:
        raise BenchmarkError(f"no import list for component(s) {sorted(missing)}; the discovery chain did not run them")
    floors = {component: time_process(floor_command(found.modules), env) for component, found in imports.items()}
    return Repeat(run=run, work=work, bare=time_process(floor_command(()), env), floors=floors)


def measure(merges: int, items: int, repeats: int) -> Measurements:
    """Discover the executor imports, then take ``repeats`` repeats and one profiled run."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="labelloop-overhead-") as folder:
        inputs = write_inputs(folder, items)
        pipeline = build_chain(merges)
        imports = discover_executor_imports(build_chain(1), inputs, os.path.join(folder, "discover"))
        run_work(inputs, merges, os.path.join(folder, "warmup"))  # keeps imports out of the work figure
        taken = tuple(
            measure_repeat(pipeline, inputs, merges, imports, os.path.join(folder, f"repeat-{index}"))
            for index in range(repeats)
        )
        stats, profiled = profile_orchestration(pipeline, inputs, os.path.join(folder, "profiled"))
    return Measurements(
        items=items,
        repeats=taken,
        imports=imports,
        profiled=profiled,
        profiled_steps=step_seconds(stats),
        load=(load_before, os.getloadavg()[0]),
    )


# ---------------------------------------------------------------------------------------------
# Report


def row(label: str, values: Sequence[float], unit: str = "s") -> str:
    spread = Spread.of(values)
    return f"  {label:<54} {spread.median:7.3f} {unit}  [{spread.low:.3f}–{spread.high:.3f}]"


def non_stdlib_packages(modules: Sequence[str]) -> str:
    """The non-stdlib top-level packages of an import list, for display."""
    packages = dict.fromkeys(module.split(".")[0] for module in modules)
    return (
        ", ".join(p for p in packages if p not in sys.stdlib_module_names and not p.startswith("_")) or "(stdlib only)"
    )


def print_summary(m: Measurements) -> None:
    """Per-task overhead, the floor, their ratio, and where the overhead goes."""
    first = m.repeats[0].run
    mix = Counter(component for component, _ in first.task_seconds)
    reps = m.repeats
    print(f"labelloop local pipeline overhead: kfp.local SubprocessRunner(use_venv=False), {sys.executable}")
    print(
        f"  chain: {first.tasks} tasks/run ({', '.join(f'{n} {c}' for c, n in mix.items())}) + 2 importers, "
        f"{m.items} items; {len(reps)} repeats, median [min–max]; load "
        f"avg {m.load[0]:.1f} → {m.load[1]:.1f} on {os.cpu_count()} CPUs"
    )
    print("\n  per task")
    print(row("pipeline wall / tasks", [r.run.wall / r.tasks for r in reps]))
    print(row("work itself (.python_func in-process, warm)", [r.work_seconds / r.tasks for r in reps]))
    print(row("OVERHEAD = (wall − work) / tasks", [r.overhead for r in reps]))
    print(row('FLOOR: python -c "import <the executor\'s modules>"', [r.floor for r in reps]))
    print(row("overhead / floor (each repeat's own pair)", [r.overhead / r.floor for r in reps], "x"))
    print("\n  where the overhead goes, per task")
    print(row("interpreter start (python -c pass)", [r.bare for r in reps]))
    print(row("the executor's imports (floor − interpreter start)", [r.floor - r.bare for r in reps]))
    print(row("executor beyond its imports (sh, argparse, JSON, logs)", [r.beyond_floor for r in reps]))
    print(row("kfp.local orchestration in the parent (wall − child)", [r.orchestration for r in reps]))


def print_components(m: Measurements) -> None:
    """Per component: its tasks' child processes beside its floor and work, and its heaviest imports."""
    print("\n  per component (median s): child process | floor | work; heaviest imports (-X importtime, cumulative s)")
    for component, found in m.imports.items():
        child = [s for r in m.repeats for c, s in r.run.task_seconds if c == component]
        work = [r.work[component] / sum(c == component for c, _ in r.run.task_seconds) for r in m.repeats]
        heaviest = ", ".join(f"{name} {seconds:.3f}" for name, seconds in found.heaviest)
        print(
            f"  {component:<17} {statistics.median(child):.3f} | "
            f"{statistics.median(r.floors[component] for r in m.repeats):.3f}"
            f" | {statistics.median(work):.4f};  {heaviest}"
        )
        print(f"  {'':<17} imports: {non_stdlib_packages(found.modules)}")


def print_orchestration_profile(m: Measurements) -> None:
    """kfp.local's own per-task steps, from cProfile of the parent process over one run."""
    tasks = m.profiled.tasks
    orchestration = m.profiled.wall - m.profiled.child_seconds
    print(
        "\n  kfp.local orchestration under cProfile (one run, "
        f"profiler-inflated): {orchestration / tasks * 1000:.1f} ms/task"
    )
    for label, seconds in m.profiled_steps.items():
        print(f"    {label:<52} {seconds / tasks * 1000:6.2f} ms/task")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, default=12, help="merge_labels tasks in the chain (tasks = merges + 2)")
    parser.add_argument("--items", type=int, default=200, help="items in the manifest")
    parser.add_argument(
        "--repeats", type=int, default=5, help="repeats of every measurement (medians reported; at least 3)"
    )
    args = parser.parse_args(argv)
    if args.repeats < 3 or args.merges < 1 or args.items < 10:
        parser.error("need --repeats >= 3, --merges >= 1 and --items >= 10")
    measurements = measure(args.merges, args.items, args.repeats)
    print_summary(measurements)
    print_components(measurements)
    print_orchestration_profile(measurements)


if __name__ == "__main__":
    main()
