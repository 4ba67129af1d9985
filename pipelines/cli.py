"""labelloop: compile, run locally, submit to Vertex AI, schedule, and inspect pipelines and dataset versions.

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. Errors print one line on
stderr; ``--verbose`` adds the traceback and the SDKs' logs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import label_studio_cli
from .config import (
    ConfigError,
    Settings,
    load_settings,
    parse_pairs,
    require,
    spec_parameters,
    typed_parameters,
)
from .plain import plain_text

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EPILOG = """configuration: flags > environment (LABELLOOP_PROJECT or GOOGLE_CLOUD_PROJECT, LABELLOOP_LOCATION,
LABELLOOP_PIPELINE_ROOT, LABELLOOP_SERVICE_ACCOUNT, LABELLOOP_STORE, LABELLOOP_IMAGE, ...) > config file
(--config, $LABELLOOP_CONFIG or ~/.config/labelloop/config.toml) > defaults."""


# ---------------------------------------------------------------------------------------------
# Parser


def _formatter(prog: str) -> argparse.HelpFormatter:
    from .plain import PlainHelpFormatter

    return PlainHelpFormatter(prog, max_help_position=32)


def _vertex_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Vertex AI")
    group.add_argument("--project", help="Google Cloud project id")
    group.add_argument("--location", help="Vertex AI region, e.g. us-central1")
    group.add_argument(
        "--api-endpoint", help="Vertex AI API endpoint (private or test endpoints; http(s):// uses REST)"
    )
    return parent


def _job_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("run settings")
    group.add_argument("--pipeline-root", help="gs:// folder for the run's outputs")
    group.add_argument("--service-account", help="service account the run acts as")
    group.add_argument("--param", action="append", metavar="KEY=VALUE", help="pipeline parameter (repeatable)")
    group.add_argument("--label", action="append", metavar="KEY=VALUE", help="run label (repeatable)")
    group.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force step caching on/off (default: as compiled)",
    )
    group.add_argument("--display-name", help="display name (default: the pipeline name)")
    group.add_argument("--template", help="compiled pipeline YAML (default: the packaged one, else a fresh compile)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The ``labelloop`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="labelloop", description=__doc__, epilog=_EPILOG, formatter_class=_formatter)
    parser.add_argument("--config", help="TOML config file (default ~/.config/labelloop/config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and SDK logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    vertex, job = _vertex_flags(), _job_flags()
    _add_compile(commands)
    _add_run(commands)
    _add_submit(commands, [vertex, job])
    _add_schedule(commands, [vertex, job])
    _add_list(commands, [vertex])
    _add_status(commands, [vertex])
    _add_versions(commands)
    _add_demo(commands)
    _add_describe(commands)
    _add_sample_data(commands)
    label_studio_cli.add_command(commands, _formatter)
    return parser


def _command(
    commands, name: str, summary: str, description: str, parents=(), *, add_help: bool = True
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        parents=list(parents),
        formatter_class=_formatter,
        add_help=add_help,
    )


def _add_compile(commands) -> None:
    command = _command(
        commands,
        "compile",
        "compile every component and pipeline to YAML",
        "Compile every component and pipeline (each target) to YAML.",
    )
    command.add_argument("--out", help="write DIR/components and DIR/pipelines, not the package's compiled/ folders")
    command.add_argument(
        "--check", action="store_true", help="only check the compiled YAMLs are current (exit 1 if not)"
    )
    command.add_argument(
        "--image",
        help="container image the components run in: REGISTRY/PATH:TAG or REGISTRY/PATH@sha256:DIGEST "
        "($LABELLOOP_IMAGE, config key image; default: the package-version tag)",
    )
    command.set_defaults(handler=cmd_compile)


def _add_run(commands) -> None:
    command = _command(
        commands,
        "run",
        "run a pipeline locally with kfp.local",
        "Run a pipeline on this machine (kfp.local SubprocessRunner), no cloud needed. "
        "`labelloop run PIPELINE --help` also lists the pipeline's parameters.",
        add_help=False,
    )
    command.add_argument("pipeline", metavar="PIPELINE", help="pipeline name (see `labelloop list`)")
    command.add_argument("-h", "--help", action=_PipelineHelp, help="show this help and the pipeline's parameters")
    command.add_argument("--local", action="store_true", required=True, help="run here (use `submit` for Vertex)")
    command.add_argument("--param", action="append", metavar="KEY=VALUE", help="pipeline parameter (repeatable)")
    command.add_argument(
        "--pipeline-root", help="folder for outputs (default: $LABELLOOP_LOCAL_ROOT or ./local_outputs)"
    )
    _add_verbose(command)
    command.set_defaults(handler=cmd_run)


def _add_submit(commands, parents) -> None:
    command = _command(
        commands,
        "submit",
        "submit a run to Vertex AI Pipelines",
        "Submit one run of a compiled pipeline to Vertex AI.",
        parents,
    )
    command.add_argument("pipeline", metavar="PIPELINE", help="pipeline name (see `labelloop list`)")
    command.set_defaults(handler=cmd_submit)


def _add_schedule(commands, parents) -> None:
    command = _command(
        commands,
        "schedule",
        "run a pipeline on a cron schedule",
        "Create a Vertex AI schedule, or with --kfp-host a KFP recurring run.",
        parents,
    )
    command.add_argument("pipeline", metavar="PIPELINE", help="pipeline name (see `labelloop list`)")
    command.add_argument("--cron", required=True, help='5-field cron, optionally "TZ=Area/City ...", e.g. "0 3 * * 1"')
    command.add_argument("--max-concurrent", type=int, default=1, help="most runs at once (default 1)")
    command.add_argument("--max-runs", type=int, help="stop after this many runs (Vertex only)")
    command.add_argument("--start", help="first possible run, ISO 8601 with zone, e.g. 2025-01-31T03:00:00Z")
    command.add_argument("--end", help="no runs after this time, ISO 8601 with zone")
    command.add_argument(
        "--allow-queueing", action="store_true", help="queue runs beyond --max-concurrent (Vertex only)"
    )
    command.add_argument(
        "--kfp-host",
        help="KFP API URL: create a KFP recurring run of the local target (no GCPC ops) instead of a Vertex schedule",
    )
    command.add_argument("--kfp-experiment", help="KFP experiment (default labelloop)")
    command.set_defaults(handler=cmd_schedule)


def _add_list(commands, parents) -> None:
    command = _command(
        commands,
        "list",
        "list pipelines, or Vertex runs with --runs",
        "List the pipelines, or recent Vertex runs.",
        parents,
    )
    command.add_argument("--runs", action="store_true", help="list recent Vertex AI runs of labelloop pipelines")
    command.add_argument("--pipeline", help="with --runs: only this pipeline's runs")
    command.add_argument("--limit", type=int, default=20, help="with --runs: at most this many (default 20)")
    command.set_defaults(handler=cmd_list)


def _add_status(commands, parents) -> None:
    command = _command(
        commands,
        "status",
        "show a Vertex AI run",
        "Show the state of one Vertex AI pipeline run; exit 1 when it failed or was cancelled.",
        parents,
    )
    command.add_argument("run", metavar="RUN", help="run id or full resource name")
    command.set_defaults(handler=cmd_status)


def _add_versions(commands) -> None:
    command = _command(
        commands, "versions", "list, show or restore dataset versions", "Inspect the dataset version store."
    )
    command.add_argument("--store", help="version store: folder or gs:// prefix ($LABELLOOP_STORE, config key store)")
    command.add_argument("dataset", metavar="DATASET", help="dataset name")
    command.add_argument("version", metavar="VERSION", nargs="?", help="version id or 'latest' (default: list all)")
    command.add_argument("--restore-to", metavar="PATH", help="with VERSION: write its manifest to PATH")
    command.set_defaults(handler=cmd_versions)


def _add_demo(commands) -> None:
    command = _command(
        commands,
        "demo",
        "run the active-learning pipeline locally on real bundled data",
        "Write scikit-learn's digits as an unlabeled image folder with planted duplicates, blurred "
        "copies and corrupt files, run the active-learning pipeline on it with a simulated crowd, "
        "and print a summary and the path of the HTML run report.",
    )
    command.add_argument("--workdir", default="runs/demo", help="where data and outputs go (default: runs/demo)")
    command.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="labeling rounds, the cold start included: the graph size and the config's max_rounds (default: 5)",
    )
    command.add_argument("--seed", type=int, default=0, help="seed for the data and every random choice")
    _add_verbose(command)
    command.set_defaults(handler=cmd_demo)


def _add_verbose(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also print every task's logs (they always go to labelloop.log in the run folder)",
    )


def cmd_demo(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    from . import demo, progress

    started = time.monotonic()
    print(f"labelloop demo: writing digit images and running the active-learning pipeline in {args.workdir}", file=out)
    plan = demo.plan_demo(args.workdir, seed=args.seed, max_rounds=args.rounds or demo.DEMO_ROUNDS)
    root = Path(plan.pipeline_root)
    outputs, log = progress.run_with_progress(
        plan.pipeline,
        lambda: plan.pipeline(**plan.arguments),
        log_path=root / f"labelloop-demo-{time.strftime('%Y%m%d-%H%M%S')}.log",
        out=out,
        verbose=args.verbose,
        run_dir=lambda: _newest_run_dir(root, started),
    )
    print(demo.format_summary(demo.demo_result(plan, outputs)), file=out)
    print(f"  {'log':<34} {log}\n  {'time':<34} {time.monotonic() - started:.0f}s", file=out)
    return 0


# ---------------------------------------------------------------------------------------------
# describe / run --help / sample-data / what a pipeline supports


class _PipelineHelp(argparse.Action):
    """``run PIPELINE --help``: the command's help, then the pipeline's parameters."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        name = getattr(namespace, "pipeline", None)
        if name:
            try:
                print("\n" + describe_pipeline(name), flush=True)
            except Exception as error:  # noqa: BLE001 - the one line a person needs
                parser.exit(EXIT_USAGE, f"labelloop run: error: {error}\n")
        parser.exit()


def describe_pipeline(name: str, target: str = "local") -> str:
    """Every parameter of pipeline ``name`` with type, default and description, from its compiled spec."""
    from . import discovery, parameters

    info = discovery.get(name)
    return parameters.render(info.name, parameters.compiled_spec(info.name, target))


def check_run_supported(
    name: str, arguments: Mapping[str, Any], declared: Mapping[str, dict], *, target: str = "local"
) -> None:
    """Refuse, before any step runs, what pipeline ``name`` does not support on ``target`` (ConfigError, exit 2)."""
    from . import support

    support.check_supported(name, support.with_defaults(arguments, declared), target=target)


def _add_describe(commands) -> None:
    command = _command(
        commands,
        "describe",
        "list a pipeline's parameters with types, defaults and descriptions",
        "Show a pipeline's parameters as its compiled YAML declares them: type, default and the "
        "description from the pipeline's docstring.",
    )
    command.add_argument("pipeline", metavar="PIPELINE", help="pipeline name (see `labelloop list`)")
    command.add_argument("--target", choices=("local", "vertex"), default="local", help="compiled target")
    command.set_defaults(handler=cmd_describe)


def cmd_describe(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Print a pipeline's parameters."""
    print(describe_pipeline(args.pipeline, args.target), file=out)
    return EXIT_OK


def _add_sample_data(commands) -> None:
    command = _command(
        commands,
        "sample-data",
        "write small real data sets (digits images, BBC News, wine) ready for the pipelines",
        "Write a small real data set as a user would bring it (unlabeled images or text, or a table), "
        "with the hidden ground truth and the labeling job spec the simulated crowd needs, and print "
        "the `labelloop run` command for active learning (and for random sampling, to compare).",
    )
    command.add_argument("dataset", choices=("bbc-news", "digits", "wine"), help="which data set")
    command.add_argument("--out", required=True, help="folder to write into")
    command.add_argument("--items", type=int, default=300, help="how many items (default 300)")
    command.add_argument("--seed", type=int, default=0, help="seed of the sample")
    command.add_argument(
        "--compare",
        action="store_true",
        help="also run active-learning twice (uncertainty sampling, then random sampling) and print both",
    )
    command.add_argument("--pipeline-root", help="with --compare: folder for outputs (default: OUT/pipeline-root)")
    command.set_defaults(handler=cmd_sample_data)


def cmd_sample_data(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Write a sample data set and print how to run the pipelines on it."""
    from ..components.core import sample_runs

    sample = sample_runs.write_sample(args.dataset, args.out, items=args.items, seed=args.seed)
    for line in sample_runs.describe(sample):
        print(line, file=out)
    if args.compare:
        compare_strategies(sample, Path(args.pipeline_root or Path(sample.folder) / "pipeline-root"), out)
    return EXIT_OK


def compare_strategies(sample: Any, root: Path, out: TextIO) -> dict[str, dict]:
    """Run active-learning on ``sample`` with uncertainty, then random sampling; print both summaries."""
    from ..components.core import sample_runs
    from . import discovery

    info = discovery.get("active-learning")
    pipeline = discovery.build(info, "local")
    results = {}
    for strategy, state in (("UNCERTAINTY", "active"), ("random", "random")):
        values = sample_runs.active_learning_params(
            sample, state=str(Path(sample.folder) / "state" / state), strategy=strategy
        )
        arguments = typed_parameters(values, _parameters_of(pipeline), info.name)
        check_run_supported(info.name, arguments, _parameters_of(pipeline))
        print(f"running active-learning with {strategy} sampling; outputs under {root}", file=out, flush=True)
        results[strategy] = dict(run_local(pipeline, arguments, root).outputs["metrics"].metadata)
    keys = ("human labels bought (pool)", "labeling spend (USD)", "test accuracy", "test macro_f1")
    print(f"\n{'':<30}{'uncertainty':>14}{'random':>14}", file=out)
    for key in keys:
        row = [results[s].get(key, float("nan")) for s in ("UNCERTAINTY", "random")]
        print(f"{key:<30}" + "".join(f"{v:>14.4g}" for v in row), file=out)
    return results


# ---------------------------------------------------------------------------------------------
# Entry point


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out, err = out or sys.stdout, err or sys.stderr
    environ = os.environ if environ is None else environ
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    _quiet_sdk_logs(args.verbose)
    try:
        return args.handler(args, environ, out)
    except KeyboardInterrupt:
        print("labelloop: interrupted", file=err)
        return 130
    except Exception as error:  # noqa: BLE001 - one line for people, the traceback with --verbose
        if args.verbose:
            traceback.print_exc(file=err)
        code, message = _describe(error)
        print(f"labelloop {args.command}: error: {_ANSI.sub('', message)}", file=err)
        return code


def _describe(error: Exception) -> tuple[int, str]:
    from .discovery import UnknownPipelineError
    from .progress import TaskFailed

    if isinstance(error, (ConfigError, UnknownPipelineError)):
        return EXIT_USAGE, str(error)
    if isinstance(error, (TaskFailed, label_studio_cli.LabelStudioCliError)):
        return EXIT_FAILURE, str(error)
    if type(error).__name__ == "DefaultCredentialsError":
        return EXIT_USAGE, (
            "no Google Cloud credentials found; run `gcloud auth application-default login` "
            "or set GOOGLE_APPLICATION_CREDENTIALS"
        )
    if type(error).__module__.startswith("google.api_core"):
        return EXIT_FAILURE, f"Vertex AI refused the request: {error}"
    return EXIT_FAILURE, f"{type(error).__name__}: {error}"


def _quiet_sdk_logs(verbose: bool) -> None:
    for name in ("google.cloud.aiplatform", "google_cloud_pipeline_components"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def _settings(args: argparse.Namespace, environ: Mapping[str, str], labels: Sequence[str] | None = None) -> Settings:
    names = (
        "project",
        "location",
        "pipeline_root",
        "service_account",
        "api_endpoint",
        "kfp_host",
        "kfp_experiment",
        "store",
        "image",
    )
    flags = {name: getattr(args, name, None) for name in names}
    return load_settings(flags, environ, config_file=args.config, flag_labels=parse_pairs(labels, "--label"))


# ---------------------------------------------------------------------------------------------
# compile


def cmd_compile(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Compile every component and pipeline, or with ``--check`` report stale YAMLs."""
    from . import compiling

    dirs = {"image": compile_image(args, environ)}
    if args.out:
        dirs |= {"components_dir": Path(args.out) / "components", "pipelines_dir": Path(args.out) / "pipelines"}
    if args.check:
        problems = compiling.stale(**dirs)
        for problem in problems:
            print(problem, file=out)
        print("compiled YAMLs are current" if not problems else f"{len(problems)} stale or missing YAML(s)", file=out)
        return EXIT_FAILURE if problems else EXIT_OK
    written = compiling.compile_all(**dirs)
    for path in written:
        print(path, file=out)
    image = dirs["image"] or compiling.images.DEFAULT_IMAGE
    print(f"compiled {len(written)} file(s); components run {image}", file=out)
    _lint_vertex_yamls([p for p in written if p.name.endswith(".vertex.yaml")], image, out)
    return EXIT_OK


def _lint_vertex_yamls(paths: list[Path], image: str, out: TextIO) -> None:
    """Print the Vertex lint's findings on freshly compiled YAMLs (the test suite fails on them)."""
    from .vertex_lint import lint_files

    findings = lint_files(paths, expected_image=image)
    for finding in findings:
        print(f"vertex lint: {finding}", file=out)
    verdict = f"{len(findings)} finding(s): these YAMLs would fail or do harm on Vertex" if findings else "no findings"
    print(f"vertex lint: {verdict}", file=out)


def compile_image(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The components' image: --image > $LABELLOOP_IMAGE > config key ``image`` > None (the default), checked."""
    from .images import ImageError, check_image

    settings = load_settings({"image": getattr(args, "image", None)}, environ, config_file=args.config)
    image = settings.get("image")
    if image is None:
        return None
    try:
        return check_image(image)
    except ImageError as err:
        raise ConfigError(f"{err} (from {settings.sources['image']})") from None


# ---------------------------------------------------------------------------------------------
# run --local


def cmd_run(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Run a pipeline with kfp.local and print where its outputs are."""
    from . import discovery, progress

    settings = load_settings({"local_root": args.pipeline_root}, environ, config_file=args.config)
    info = discovery.get(args.pipeline)
    pipeline = discovery.build(info, "local")
    arguments = typed_parameters(parse_pairs(args.param, "--param"), _parameters_of(pipeline), info.name)
    check_run_supported(info.name, arguments, _parameters_of(pipeline))
    root = Path(settings.get("local_root")).resolve()
    print(f"running {info.name} locally; outputs under {root}", file=out, flush=True)
    started = time.monotonic()
    task, log = progress.run_with_progress(
        pipeline,
        lambda: run_local(pipeline, arguments, root),
        log_path=root / f"labelloop-{info.name}-{time.strftime('%Y%m%d-%H%M%S')}.log",
        out=out,
        verbose=args.verbose,
        run_dir=lambda: _newest_run_dir(root, started),
    )
    print(
        f"{info.name} finished in {time.monotonic() - started:.1f}s; "
        f"run folder: {_newest_run_dir(root, started) or root}\nlog: {log}",
        file=out,
    )
    for name, value in _task_outputs(task).items():
        print(f"  {name}: {value}", file=out)
    return EXIT_OK


def _parameters_of(pipeline: Any) -> dict[str, dict]:
    from google.protobuf import json_format

    return spec_parameters(json_format.MessageToDict(pipeline.pipeline_spec))


def run_local(pipeline: Any, arguments: dict[str, Any], root: Path) -> Any:
    """Run ``pipeline(**arguments)`` with kfp.local's SubprocessRunner in this Python environment."""
    from kfp import local

    root.mkdir(parents=True, exist_ok=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return pipeline(**arguments)


def _newest_run_dir(root: Path, since: float) -> Path | None:
    wall_since = time.time() - (time.monotonic() - since)
    runs = [p for p in root.iterdir() if p.is_dir() and p.stat().st_mtime >= wall_since - 1] if root.is_dir() else []
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def _task_outputs(task: Any) -> dict[str, str]:
    outputs = getattr(task, "outputs", None) or {}
    if not isinstance(outputs, dict):
        outputs = {"output": outputs}
    return {
        name: getattr(value, "path", None) or getattr(value, "uri", None) or repr(value)
        for name, value in outputs.items()
    }


# ---------------------------------------------------------------------------------------------
# submit / schedule


def _vertex_target(settings: Settings, *, need_root: bool):
    from .submit import VertexTarget

    require(settings, "project", "location", *(("pipeline_root",) if need_root else ()))
    return VertexTarget(
        settings.get("project"),
        settings.get("location"),
        settings.get("pipeline_root"),
        settings.get("service_account"),
        settings.get("api_endpoint"),
    )


def with_run_location(parameters: dict, declared: Mapping, location: str | None) -> dict:
    """The run's parameters with ``location`` set to the run's region when the pipeline has one and it was not given.

    A pipeline's Vertex steps then run where the job runs (``--location``), not in the parameter's
    compiled default; ``--param location=...`` still wins.
    """
    if location and "location" in declared and "location" not in parameters:
        return {**parameters, "location": location}
    return parameters


def _run_request(args: argparse.Namespace, settings: Settings, target: str, workdir: str):
    from . import discovery
    from .submit import PIPELINE_LABEL, RunRequest, compiled_template, load_template

    name = discovery.get(args.pipeline).name
    template = compiled_template(name, target, args.template, workdir)
    if settings.get("image"):  # $LABELLOOP_IMAGE or the config file: the same image compile would write
        from .images import check_image, template_with_image

        template = template_with_image(template, check_image(settings.get("image")), workdir)
    declared = spec_parameters(load_template(template))
    parameters = typed_parameters(parse_pairs(args.param, "--param"), declared, name)
    parameters = with_run_location(parameters, declared, settings.get("location"))
    check_run_supported(name, parameters, declared, target=target)
    labels = {PIPELINE_LABEL: name, **settings.labels}
    return RunRequest(str(template), args.display_name or name, parameters, labels, args.cache)


def cmd_submit(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Submit one run of a pipeline to Vertex AI Pipelines."""
    import tempfile

    from .submit import submit_run

    settings = _settings(args, environ, args.label)
    target = _vertex_target(settings, need_root=True)
    with tempfile.TemporaryDirectory(prefix="labelloop-") as workdir:
        request = _run_request(args, settings, "vertex", workdir)
        print(f"submitting {request.template_path} to {target.project}/{target.location}", file=out, flush=True)
        status = submit_run(target, request)
    print(f"run: {status.name}\nstate: {status.state}\nconsole: {status.console_url}", file=out)
    return EXIT_OK


def cmd_schedule(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Create a Vertex AI schedule, or a KFP recurring run with ``--kfp-host``."""
    import tempfile

    from .submit import ScheduleSpec, check_schedule, schedule_on_kfp, schedule_on_vertex

    settings = _settings(args, environ, args.label)
    spec = check_schedule(
        ScheduleSpec(
            args.cron,
            args.display_name or args.pipeline,
            args.max_concurrent,
            args.max_runs,
            args.start,
            args.end,
            args.allow_queueing,
        )
    )
    kfp_host = settings.get("kfp_host")
    with tempfile.TemporaryDirectory(prefix="labelloop-") as workdir:
        if kfp_host:
            request = _run_request(args, settings, "local", workdir)
            result = schedule_on_kfp(
                kfp_host,
                settings.get("kfp_experiment"),
                request,
                spec,
                pipeline_root=settings.get("pipeline_root"),
                service_account=settings.get("service_account"),
            )
        else:
            target = _vertex_target(settings, need_root=True)
            result = schedule_on_vertex(target, _run_request(args, settings, "vertex", workdir), spec)
    print(
        f"schedule: {result.name}\ncron: {result.cron}\nstate: {result.state}\nconsole: {result.console_url}", file=out
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# list / status / versions


def cmd_list(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """List the pipelines with their summaries, or recent Vertex runs with ``--runs``."""
    if args.runs:
        from .submit import list_runs

        target = _vertex_target(_settings(args, environ), need_root=False)
        for run in list_runs(target, args.pipeline, args.limit):
            print(
                f"{run.name.rsplit('/', 1)[-1]}  {run.state.removeprefix('PIPELINE_STATE_'):<10} {run.create_time}  "
                f"{run.display_name}",
                file=out,
            )
        return EXIT_OK
    from . import discovery

    pipelines = discovery.discover()
    width = max((len(name) for name in pipelines), default=0)
    for info in pipelines.values():
        summary = f"(cannot load: {info.error})" if info.error else plain_text(info.summary)
        print(f"{info.name:<{width}}  {summary}", file=out)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """Show one Vertex AI run; exit 1 when it failed."""
    from .submit import get_run

    status = get_run(_vertex_target(_settings(args, environ), need_root=False), args.run)
    for key in ("name", "display_name", "state", "create_time", "end_time", "error", "console_url"):
        value = getattr(status, key)
        if value:
            print(f"{key}: {value}", file=out)
    return EXIT_FAILURE if status.state in ("PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED") else EXIT_OK


def cmd_versions(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """List a dataset's versions, or show one (and restore its manifest)."""
    from ..components.core import versions

    settings = _settings(args, environ)
    require(settings, "store")
    store = settings.get("store")
    if args.version is None:
        if args.restore_to:
            raise ConfigError("--restore-to needs a VERSION (an id or 'latest')")
        latest = versions.latest_version_id(store, args.dataset)
        for version in versions.list_versions(store, args.dataset):
            marker = "*" if version.version_id == latest else " "
            print(
                f"{marker} {version.version_id}  {version.created_at}  {version.item_count:>8} items  "
                f"parent {version.parent or '-':<32}  {version.description}",
                file=out,
            )
        return EXIT_OK
    version = versions.get_version(store, args.dataset, args.version, restore_to=args.restore_to)
    _print_version(version, versions.models_trained_on(store, args.dataset, version.version_id), out)
    if args.restore_to:
        print(f"restored to {args.restore_to}", file=out)
    return EXIT_OK


def _print_version(version: Any, models: list, out: TextIO) -> None:
    print(
        f"version: {version.version_id}\ncreated: {version.created_at}\ndescription: {version.description}\n"
        f"parent: {version.parent or '-'}\nitems: {version.item_count}\nby label: {version.counts.by_label}\n"
        f"by split: {version.counts.by_split}\nby label source: {version.counts.by_label_source}\n"
        f"pipeline run: {version.pipeline_run or '-'}\nproducing step: {version.producing_step or '-'}\n"
        f"manifest: {version.manifest_uri}",
        file=out,
    )
    for model in models:
        print(f"model: {model.model_uri} (recorded {model.recorded_at}, run {model.pipeline_run or '-'})", file=out)


if __name__ == "__main__":
    sys.exit(main())
