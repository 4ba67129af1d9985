"""Submit compiled pipelines to Vertex AI Pipelines, schedule them, and read run status.

Vertex: ``aiplatform.PipelineJob`` from the compiled YAML, ``PipelineJob.create_schedule`` for
recurring runs. KFP open source: ``kfp.Client(host).create_recurring_run``. The SDKs are imported
inside the functions so ``labelloop --help`` and ``labelloop list`` stay fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import ConfigError

PIPELINE_LABEL = "labelloop-pipeline"
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")
_TZ_PREFIX = re.compile(r"^(CRON_)?TZ=[A-Za-z0-9_+/-]+\s+")


@dataclass(frozen=True)
class VertexTarget:
    """Where Vertex calls go. ``api_endpoint`` with ``http(s)://`` switches the SDK to REST."""

    project: str
    location: str
    pipeline_root: str | None = None
    service_account: str | None = None
    api_endpoint: str | None = None
    credentials: Any = None


@dataclass(frozen=True)
class RunRequest:
    """One pipeline run to create from a compiled template."""

    template_path: str
    display_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    enable_caching: bool | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    """When and how often a pipeline runs: a 5-field cron (optionally ``TZ=Zone ...``) and limits."""

    cron: str
    display_name: str
    max_concurrent: int = 1
    max_runs: int | None = None
    start: str | None = None
    end: str | None = None
    allow_queueing: bool = False


@dataclass(frozen=True)
class RunStatus:
    """A pipeline run as Vertex reports it."""

    name: str
    display_name: str
    state: str
    create_time: str
    end_time: str
    error: str
    console_url: str


@dataclass(frozen=True)
class ScheduleResult:
    """A created schedule (Vertex schedule or KFP recurring run)."""

    name: str
    display_name: str
    cron: str
    state: str
    console_url: str = ""


# ---------------------------------------------------------------------------------------------
# Checking a schedule before anything is sent


def check_schedule(spec: ScheduleSpec) -> ScheduleSpec:
    """Return ``spec`` with start/end as RFC 3339 UTC, or raise ConfigError saying what is wrong."""
    cron_fields = _TZ_PREFIX.sub("", spec.cron.strip()).split()
    if len(cron_fields) != 5 or not all(_CRON_FIELD.match(f) for f in cron_fields):
        raise ConfigError(
            f"--cron {spec.cron!r} is not a 5-field cron expression (minute hour day month weekday), "
            'optionally prefixed with TZ=Area/City, e.g. "TZ=Europe/Berlin 0 3 * * 1"'
        )
    if spec.max_concurrent < 1:
        raise ConfigError(f"--max-concurrent must be at least 1, got {spec.max_concurrent}")
    if spec.max_runs is not None and spec.max_runs < 1:
        raise ConfigError(f"--max-runs must be at least 1, got {spec.max_runs}")
    start, end = _utc(spec.start, "--start"), _utc(spec.end, "--end")
    if start and end and end <= start:
        raise ConfigError(f"--end {spec.end} must be after --start {spec.start}")
    return ScheduleSpec(
        spec.cron.strip(),
        spec.display_name,
        spec.max_concurrent,
        spec.max_runs,
        _rfc3339(start),
        _rfc3339(end),
        spec.allow_queueing,
    )


def _utc(value: str | None, flag: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not an ISO 8601 time such as 2025-01-31T03:00:00Z") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{flag} {value!r} has no time zone; add Z for UTC or an offset such as +01:00")
    return moment.astimezone(UTC)


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Templates


def compiled_template(name: str, target: str, explicit: str | None, workdir: str) -> Path:
    """The compiled YAML to submit: ``explicit``, else the packaged compiled YAML, else a fresh compile.

    Args:
        name: Pipeline name (as ``labelloop list`` shows it).
        target: ``vertex`` for Vertex AI; ``local`` (no GCPC ops) for a plain KFP cluster.
        explicit: ``--template`` value, if any.
        workdir: Folder for a fresh compile.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--template {explicit} does not exist")
        return path
    from . import compiling, discovery

    info = discovery.get(name)
    packaged = compiling.pipeline_path(info.name, target)
    if packaged.is_file():
        return packaged
    from kfp import compiler

    fresh = Path(workdir) / f"{info.name}.{target}.yaml"
    compiler.Compiler().compile(discovery.build(info, target), str(fresh))
    return fresh


def load_template(path: Path) -> dict:
    """The pipeline spec in a compiled YAML (or a PipelineJob JSON wrapping one)."""
    import yaml

    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not a compiled pipeline YAML: {err}") from None
    if not isinstance(spec, dict) or "root" not in spec.get("pipelineSpec", spec):
        raise ConfigError(f"{path} is not a compiled pipeline (no root component); compile it with `labelloop compile`")
    return spec.get("pipelineSpec", spec)


# ---------------------------------------------------------------------------------------------
# Vertex AI


def init_vertex(target: VertexTarget) -> Any:
    """Point the aiplatform SDK at the target's project, region and endpoint; returns the credentials used.

    Credentials are resolved on every call (the target's, else Application Default Credentials)
    rather than left to the SDK's process-wide cache.
    """
    from google.cloud import aiplatform

    credentials = target.credentials or _default_credentials()
    rest = bool(target.api_endpoint and re.match(r"^https?://", target.api_endpoint))
    aiplatform.init(
        project=target.project,
        location=target.location,
        credentials=credentials,
        api_endpoint=target.api_endpoint,
        api_transport="rest" if rest else None,
    )
    return credentials


def _default_credentials() -> Any:
    import google.auth

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return credentials


def _pipeline_job(target: VertexTarget, request: RunRequest):
    from google.cloud import aiplatform

    credentials = init_vertex(target)
    return aiplatform.PipelineJob(
        display_name=request.display_name,
        template_path=str(request.template_path),
        job_id=request.job_id,
        pipeline_root=target.pipeline_root,
        parameter_values=request.parameters,
        enable_caching=request.enable_caching,
        labels=request.labels or None,
        project=target.project,
        location=target.location,
        credentials=credentials,
    )


def submit_run(target: VertexTarget, request: RunRequest) -> RunStatus:
    """Create a Vertex pipeline run and return at once (the run goes on in Vertex)."""
    job = _pipeline_job(target, request)
    job.submit(service_account=target.service_account)
    return _run_status(job.gca_resource, target)


def schedule_on_vertex(target: VertexTarget, request: RunRequest, spec: ScheduleSpec) -> ScheduleResult:
    """Create a Vertex schedule that starts a run of the template on ``spec.cron``."""
    spec = check_schedule(spec)
    job = _pipeline_job(target, request)
    schedule = job.create_schedule(
        cron=spec.cron,
        display_name=spec.display_name,
        start_time=spec.start,
        end_time=spec.end,
        allow_queueing=spec.allow_queueing,
        max_run_count=spec.max_runs,
        max_concurrent_run_count=spec.max_concurrent,
        service_account=target.service_account,
    )
    resource = schedule.gca_resource
    schedule_id = resource.name.rsplit("/", 1)[-1]
    url = (
        f"https://console.cloud.google.com/vertex-ai/locations/{target.location}/pipelines/schedules/"
        f"{schedule_id}?project={target.project}"
    )
    return ScheduleResult(resource.name, resource.display_name, resource.cron, resource.state.name, url)


def get_run(target: VertexTarget, run: str) -> RunStatus:
    """Status of one run, by id or full resource name."""
    from google.cloud import aiplatform

    credentials = init_vertex(target)
    job = aiplatform.PipelineJob.get(run, project=target.project, location=target.location, credentials=credentials)
    return _run_status(job.gca_resource, target)


def list_runs(target: VertexTarget, pipeline: str | None = None, limit: int = 20) -> list[RunStatus]:
    """The newest labelloop runs (those carrying the ``labelloop-pipeline`` label), newest first."""
    from google.cloud import aiplatform

    credentials = init_vertex(target)
    label_filter = f'labels.{PIPELINE_LABEL}="{pipeline}"' if pipeline else f"labels.{PIPELINE_LABEL}:*"
    jobs = aiplatform.PipelineJob.list(
        filter=label_filter,
        order_by="create_time desc",
        project=target.project,
        location=target.location,
        credentials=credentials,
    )
    return [_run_status(job.gca_resource, target) for job in jobs[:limit]]


def _run_status(resource, target: VertexTarget) -> RunStatus:
    run_id = resource.name.rsplit("/", 1)[-1]
    url = f"https://console.cloud.google.com/vertex-ai/locations/{target.location}/pipelines/runs/{run_id}?project={target.project}"
    return RunStatus(
        name=resource.name,
        display_name=resource.display_name,
        state=resource.state.name,
        create_time=_time_text(resource.create_time),
        end_time=_time_text(resource.end_time),
        error=resource.error.message if resource.error else "",
        console_url=url,
    )


def _time_text(moment) -> str:
    if not moment or moment.timestamp() <= 0:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# KFP open source


def kfp_cron(cron: str) -> str:
    """KFP's cron has a leading seconds field: ``0 3 * * 1`` → ``0 0 3 * * 1``; time zones are not supported."""
    if _TZ_PREFIX.match(cron.strip()):
        raise ConfigError(
            f"--cron {cron!r}: KFP recurring runs take no TZ= prefix; they run in the cluster's time zone"
        )
    return "0 " + cron.strip()


def schedule_on_kfp(
    host: str,
    experiment: str,
    request: RunRequest,
    spec: ScheduleSpec,
    *,
    pipeline_root: str | None = None,
    service_account: str | None = None,
) -> ScheduleResult:
    """Create a KFP recurring run of the template in ``experiment`` (created if it does not exist).

    Raises:
        ConfigError: for a run limit (KFP recurring runs have none; use an end time instead).
    """
    spec = check_schedule(spec)
    if spec.max_runs is not None:
        raise ConfigError("--max-runs is not supported by KFP recurring runs; use --end to stop the schedule")
    cron = kfp_cron(spec.cron)
    import kfp

    client = kfp.Client(host=host)
    experiment_id = client.create_experiment(name=experiment).experiment_id
    created = client.create_recurring_run(
        experiment_id=experiment_id,
        job_name=spec.display_name,
        cron_expression=cron,
        start_time=spec.start,
        end_time=spec.end,
        max_concurrency=spec.max_concurrent,
        params=request.parameters,
        pipeline_package_path=str(request.template_path),
        pipeline_root=pipeline_root,
        enable_caching=request.enable_caching,
        service_account=service_account,
    )
    url = f"{host.rstrip('/')}/#/recurringrun/details/{created.recurring_run_id}"
    return ScheduleResult(created.recurring_run_id, created.display_name, cron, str(created.status or ""), url)
