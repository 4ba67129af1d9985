"""The quiet run monitor: task lines from kfp.local's log lines, round groups, progress lines, failures."""

import io

from labelloop.components.core.progress import Progress, parse_progress, progress_line
from labelloop.pipelines.progress import RunMonitor, TaskNames, group_of, task_names


class FakeLive:
    def __init__(self):
        self.printed, self.steps, self.overall_calls = [], [], []

    def print(self, text):
        self.printed.append(text)

    def step(self, step, done, total):
        self.steps.append((step, done, total))

    def overall(self, done, total, running):
        self.overall_calls.append((done, total, running))


def clock(values):
    it = iter(values)
    return lambda: next(it)


NAMES = TaskNames(
    {"import-dataset": "Import and validate", "train-model": "Train (round 1)", "record-round": "Record round 1"},
    {"round 1": 2},
)


def feed(monitor, *lines):
    monitor.write("".join(line + "\n" for line in lines))


def test_group_of_reads_round_and_step_from_display_names():
    assert group_of("Train (round 2)") == ("round 2", "Train")
    assert group_of("Record round 3") == ("round 3", "Record")
    assert group_of("Import and validate") == ("", "Import and validate")


def test_one_line_per_task_and_one_per_round_everything_in_the_log():
    log, out = io.StringIO(), io.StringIO()
    monitor = RunMonitor(log, out, NAMES, clock=clock([0.0, 1.5, 2.0, 5.0, 5.0, 6.0]))
    feed(
        monitor,
        "00:00 - INFO - Executing task \x1b[96m'import-dataset'\x1b[0m",
        "    [KFP Executor INFO]: lots of executor output",
        "00:01 - INFO - Task \x1b[96m'import-dataset'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m",
        "Executing task 'train-model'",
        "Task 'train-model' finished with status SUCCESS",
    )
    assert out.getvalue().splitlines() == ["  ✓ Import and validate                          done      1.5s"]
    feed(monitor, "Executing task 'record-round'", "Task 'record-round' finished with status SUCCESS")
    [_, round_line] = out.getvalue().splitlines()
    assert round_line.startswith("  ✓ round 1 (2 tasks)") and "4.0s" in round_line and "train 3.0s" in round_line
    assert "lots of executor output" in log.getvalue() and "lots of executor output" not in out.getvalue()


def test_failure_names_the_task_and_its_exception():
    out = io.StringIO()
    monitor = RunMonitor(io.StringIO(), out, NAMES, clock=clock([0.0, 2.0]))
    feed(
        monitor,
        "Executing task 'train-model'",
        "    Traceback (most recent call last):",
        '      File "x.py", line 1, in <module>',
        "    ValueError: no labels in the training split",
        "Task 'train-model' finished with status FAILURE",
    )
    assert monitor.failed.name == "Train (round 1)"
    assert (
        "✗ Train (round 1)" in out.getvalue()
        and "reason: ValueError: no labels in the training split" in out.getvalue()
    )


def test_raised_failure_and_partial_rounds_are_reported():
    out = io.StringIO()
    monitor = RunMonitor(io.StringIO(), out, NAMES, clock=clock([0.0, 1.0, 1.0, 2.0]))
    feed(monitor, "Executing task 'train-model'", "Task 'train-model' finished with status SUCCESS")
    monitor.close()  # the round stopped before its record task: its line still comes
    assert "round 1 (1 tasks)" in out.getvalue()
    feed(monitor, "Executing task 'import-dataset'", "    RuntimeError: disk full")
    monitor.record_failure("RuntimeError: Pipeline failed")
    assert monitor.failed.key == "import-dataset" and monitor.failed.reason() == "RuntimeError: disk full"


def test_progress_lines_drive_the_live_bar_and_are_throttled():
    live = FakeLive()
    monitor = RunMonitor(io.StringIO(), io.StringIO(), NAMES, live=live, clock=clock([0.0, 1.0]))
    stream = io.StringIO()
    bar = Progress("images checked", 1000, stream=stream)
    for done in range(1, 1001):
        bar.update(done)
    lines = stream.getvalue().splitlines()
    assert 90 <= len(lines) <= 101 and parse_progress(lines[-1]) == ("images checked", 1000, 1000)
    feed(monitor, "Executing task 'import-dataset'", "    " + lines[3])
    assert live.steps == [parse_progress(lines[3])] and live.overall_calls[-1] == (0, 3, "Import and validate")
    feed(monitor, "Task 'import-dataset' finished with status SUCCESS")
    assert live.printed and live.overall_calls[-1][0] == 1
    assert parse_progress("##labelloop-progress {bad") is None and parse_progress("plain") is None
    assert parse_progress(progress_line("x", 1, 2)) == ("x", 1, 2)


def test_task_names_come_from_the_compiled_spec_nested_dags_included():
    from labelloop.pipelines.active_learning import build_pipeline

    spec = build_pipeline("local", max_rounds=3).pipeline_spec
    names = task_names(spec)
    dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]
    containers = [
        t for d in dags for t in d.tasks.values() if not spec.components[t.component_ref.name].HasField("dag")
    ]
    assert names.total == len(containers)  # one name per task: none lost to a key used in two DAGs
    assert names.name("import-dataset") == "Import and validate"
    assert "Train (round 2)" in names.display.values() and names.groups["round 2"] == names.groups["round 1"]
    assert "Run report" in names.display.values()


def test_rich_live_display_prints_task_lines_above_its_bars():
    from labelloop.pipelines.progress import RichLive

    out = io.StringIO()
    with RichLive(out) as live:
        monitor = RunMonitor(io.StringIO(), out, NAMES, live=live, clock=clock([0.0, 1.0]))
        feed(monitor, "Executing task 'import-dataset'", "    " + progress_line("images checked", 5, 10))
        assert live.step_bar is not None
        feed(monitor, "Task 'import-dataset' finished with status SUCCESS")
        assert live.step_bar is None  # a finished task's step bar goes
    assert "✓ Import and validate" in out.getvalue()
