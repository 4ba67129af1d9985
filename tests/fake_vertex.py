"""Local fake Vertex AI / Cloud Storage / KFP REST endpoints that record every request.

Answers are built from the real ``google.cloud.aiplatform_v1`` message types (serialised with
``to_json``) so the SDK parses them exactly as it would parse Vertex's. Only 127.0.0.1 is used.

    with FakeVertex() as fake:
        aiplatform.init(..., api_endpoint=fake.url, api_transport="rest")
        ...
        fake.requests  # [Request(method, path, query, body), ...]
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.cloud import aiplatform_v1


@dataclass(frozen=True)
class Request:
    """One request the fake received; ``body`` is the parsed JSON (or None)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


Route = tuple[str, re.Pattern, Callable[..., Reply]]


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 dispatching to ``(method, path regex, handler)`` routes."""

    def __init__(self, routes: list[Route]):
        self.routes = routes
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def matching(self, method: str, pattern: str) -> list[Request]:
        """The recorded requests with ``method`` whose path matches ``pattern``."""
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def _dispatch(self, method: str, raw_path: str, raw_body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        body = json.loads(raw_body) if raw_body else None
        request = Request(method, parts.path, parse_qs(parts.query), body)
        self.requests.append(request)
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(parts.path)
            if route_method == method and match:
                return handler(request, **match.groupdict())
        return google_error(404, f"fake has no route for {method} {parts.path}")

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                reply = fake._dispatch(method, self.path, self.rfile.read(length))
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler


def google_error(code: int, message: str) -> Reply:
    status = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(code, "UNKNOWN")
    return Reply(code, {"error": {"code": code, "message": message, "status": status}})


def _now() -> datetime:
    return datetime.now(UTC)


class FakeVertex(FakeServer):
    """Vertex AI PipelineService and ScheduleService (v1, REST) plus the Cloud Storage bucket lookup.

    Created jobs and schedules are kept, so ``get`` and ``list`` answer with them. Buckets belong to
    ``project_number``; the SDK's own project-number lookup is gRPC-only, so tests stub it to match.
    """

    def __init__(self, project_number: str = "123456789", missing_buckets: tuple[str, ...] = ()):
        self.project_number = project_number
        self.jobs: dict[str, aiplatform_v1.PipelineJob] = {}
        self.schedules: dict[str, aiplatform_v1.Schedule] = {}
        self.missing_buckets = set(missing_buckets)
        self._ids = itertools.count(1)
        loc = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
        super().__init__(
            [
                ("POST", re.compile(loc + r"/pipelineJobs"), self._create_job),
                ("GET", re.compile(loc + r"/pipelineJobs/(?P<job>[^/]+)"), self._get_job),
                ("GET", re.compile(loc + r"/pipelineJobs"), self._list_jobs),
                ("POST", re.compile(loc + r"/schedules"), self._create_schedule),
                ("GET", re.compile(r"/storage/v1/b/(?P<bucket>[^/]+)"), self._get_bucket),
            ]
        )

    def _create_job(self, request: Request, project: str, location: str) -> Reply:
        job = aiplatform_v1.PipelineJob.from_json(json.dumps(request.body), ignore_unknown_fields=True)
        job_id = (request.query.get("pipelineJobId") or [f"job-{next(self._ids)}"])[0]
        job.name = f"projects/{project}/locations/{location}/pipelineJobs/{job_id}"
        job.state = aiplatform_v1.PipelineState.PIPELINE_STATE_PENDING
        job.create_time = _now()
        self.jobs[job.name] = job
        return Reply(200, aiplatform_v1.PipelineJob.to_json(job))

    def _get_job(self, request: Request, project: str, location: str, job: str) -> Reply:
        name = f"projects/{project}/locations/{location}/pipelineJobs/{job}"
        if name not in self.jobs:
            return google_error(404, f"PipelineJob {name} not found")
        return Reply(200, aiplatform_v1.PipelineJob.to_json(self.jobs[name]))

    def _list_jobs(self, request: Request, project: str, location: str) -> Reply:
        newest_first = sorted(self.jobs.values(), key=lambda j: j.create_time, reverse=True)
        response = aiplatform_v1.ListPipelineJobsResponse(pipeline_jobs=newest_first)
        return Reply(200, aiplatform_v1.ListPipelineJobsResponse.to_json(response))

    def _create_schedule(self, request: Request, project: str, location: str) -> Reply:
        schedule = aiplatform_v1.Schedule.from_json(json.dumps(request.body), ignore_unknown_fields=True)
        schedule.name = f"projects/{project}/locations/{location}/schedules/{next(self._ids)}"
        schedule.state = aiplatform_v1.Schedule.State.ACTIVE
        schedule.create_time = _now()
        self.schedules[schedule.name] = schedule
        return Reply(200, aiplatform_v1.Schedule.to_json(schedule))

    def _get_bucket(self, request: Request, bucket: str) -> Reply:
        if bucket in self.missing_buckets:
            return google_error(404, f"bucket {bucket} not found")
        return Reply(
            200,
            {
                "kind": "storage#bucket",
                "name": bucket,
                "id": bucket,
                "location": "US-CENTRAL1",
                "projectNumber": self.project_number,
            },
        )

    def set_state(self, name: str, state: aiplatform_v1.PipelineState, error: str = "") -> None:
        """Move a stored job to ``state`` (and give it an error message), as Vertex would."""
        job = self.jobs[name]
        job.state = state
        if error:
            job.error = {"code": 3, "message": error}


class FakeKfp(FakeServer):
    """The KFP v2beta1 REST API pieces ``kfp.Client`` needs for experiments and recurring runs."""

    def __init__(self):
        self.experiments: dict[str, dict] = {}
        api = r"/apis/v2beta1"
        super().__init__(
            [
                ("GET", re.compile(api + r"/healthz"), lambda r: Reply(200, {"multi_user": False})),
                ("GET", re.compile(api + r"/experiments"), self._list_experiments),
                ("POST", re.compile(api + r"/experiments"), self._create_experiment),
                ("POST", re.compile(api + r"/recurringruns"), self._create_recurring_run),
            ]
        )

    def _list_experiments(self, request: Request) -> Reply:
        wanted = json.loads((request.query.get("filter") or ["{}"])[0])
        names = [p.get("string_value") or p.get("stringValue") for p in wanted.get("predicates", [])]
        found = [e for e in self.experiments.values() if not names or e["display_name"] in names]
        return Reply(200, {"experiments": found, "total_size": len(found)})

    def _create_experiment(self, request: Request) -> Reply:
        experiment = {
            **request.body,
            "experiment_id": f"exp-{len(self.experiments) + 1}",
            "created_at": _now().isoformat(),
            "storage_state": "AVAILABLE",
        }
        self.experiments[experiment["experiment_id"]] = experiment
        return Reply(200, experiment)

    def _create_recurring_run(self, request: Request) -> Reply:
        return Reply(
            200, {**request.body, "recurring_run_id": "rr-1", "status": "ENABLED", "created_at": _now().isoformat()}
        )
