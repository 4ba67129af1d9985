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
from urllib.parse import parse_qs, unquote, urlsplit

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


def _operation(location_name: str, response_type: str, response_json: str, ids) -> Reply:
    """A finished long-running operation whose ``response`` is ``response_json`` packed as ``response_type``."""
    body = {
        "name": f"{location_name}/operations/{next(ids)}",
        "done": True,
        "response": {
            "@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{response_type}",
            **json.loads(response_json),
        },
    }
    return Reply(200, body)


class FakeVertexRegistry(FakeServer):
    """Vertex ModelService (versions, aliases, evaluations), EndpointService and DatasetService (v1, REST).

    Aliases behave as Vertex documents them: unique within a model, so merging an alias onto one
    version takes it off the version that held it. Long-running operations finish at once.
    """

    def __init__(self):
        self.versions: dict[str, list[aiplatform_v1.Model]] = {}  # model name → its versions
        self.evaluations: dict[str, list[aiplatform_v1.ModelEvaluation]] = {}  # "model@version" → evaluations
        self.endpoints: dict[str, aiplatform_v1.Endpoint] = {}
        self.datasets: dict[str, aiplatform_v1.Dataset] = {}
        self.imports: dict[str, list[dict]] = {}  # dataset name → import configs received
        self._ids = itertools.count(1)
        loc = r"/v1/(?P<loc>projects/[^/]+/locations/[^/]+)"
        model = loc + r"/models/(?P<model>[^/:]+)"
        endpoint = loc + r"/endpoints/(?P<endpoint>[^/:]+)"
        super().__init__(
            [
                ("GET", re.compile(loc + r"/models"), self._list_models),
                ("GET", re.compile(model), self._get_model),
                ("GET", re.compile(loc + r"/datasets"), self._list_datasets),
                ("POST", re.compile(loc + r"/datasets"), self._create_dataset),
                ("POST", re.compile(loc + r"/datasets/(?P<dataset>[^/:]+):import"), self._import_data),
                ("GET", re.compile(model + r"/evaluations"), self._list_evaluations),
                ("POST", re.compile(model + r":mergeVersionAliases"), self._merge_aliases),
                ("GET", re.compile(loc + r"/endpoints"), self._list_endpoints),
                ("POST", re.compile(loc + r"/endpoints"), self._create_endpoint),
                ("POST", re.compile(endpoint + r":deployModel"), self._deploy),
                ("POST", re.compile(endpoint + r":undeployModel"), self._undeploy),
            ]
        )

    # set-up ------------------------------------------------------------------------------------

    def add_version(self, model: str, version_id: str, *, aliases=(), metrics: dict | None = None) -> str:
        """Register a version of ``model`` (full resource name), with an evaluation; returns ``model@version``."""
        model_versions = self.versions.setdefault(model, [])
        for alias in aliases:
            for other in model_versions:
                other.version_aliases = [a for a in other.version_aliases if a != alias]
        model_versions.append(
            aiplatform_v1.Model(
                name=model, version_id=version_id, version_aliases=list(aliases), display_name=model.rsplit("/", 1)[-1]
            )
        )
        if metrics is not None:
            evaluation = aiplatform_v1.ModelEvaluation(
                name=f"{model}@{version_id}/evaluations/{next(self._ids)}",
                metrics_schema_uri="gs://google-cloud-aiplatform/schema/modelevaluation/classification_metrics_1.0.0.yaml",
                create_time=_now(),
            )
            payload = json.loads(aiplatform_v1.ModelEvaluation.to_json(evaluation))
            payload["metrics"] = metrics
            evaluation = aiplatform_v1.ModelEvaluation.from_json(json.dumps(payload))
            self.evaluations.setdefault(f"{model}@{version_id}", []).append(evaluation)
        return f"{model}@{version_id}"

    def add_endpoint(self, location_name: str, display_name: str, labels: dict | None = None, deployed=()) -> str:
        name = f"{location_name}/endpoints/{next(self._ids)}"
        self.endpoints[name] = aiplatform_v1.Endpoint(
            name=name,
            display_name=display_name,
            labels=labels or {},
            create_time=_now(),
            deployed_models=[aiplatform_v1.DeployedModel(id=i, model=m) for i, m in deployed],
            traffic_split={i: 100 // max(1, len(deployed)) for i, _ in deployed},
        )
        return name

    def aliases(self, model: str) -> dict[str, str]:
        """alias → version id, for assertions."""
        return {a: v.version_id for v in self.versions.get(model, []) for a in v.version_aliases}

    # handlers ----------------------------------------------------------------------------------

    def _resolve(self, loc: str, model: str) -> aiplatform_v1.Model | None:
        base, _, ref = unquote(model).partition("@")
        versions = self.versions.get(f"{loc}/models/{base}", [])
        if not ref:
            return versions[-1] if versions else None
        return next((v for v in versions if v.version_id == ref or ref in v.version_aliases), None)

    @staticmethod
    def _display_name_filter(request: Request) -> str | None:
        wanted = (request.query.get("filter") or [""])[0]
        match = re.fullmatch(r'display_name="(?P<name>[^"]*)"', wanted)
        return match["name"] if match else None

    def _list_models(self, request: Request, loc: str) -> Reply:
        wanted = self._display_name_filter(request)
        models = [vs[-1] for name, vs in self.versions.items() if name.startswith(loc + "/")]
        models = [m for m in models if wanted is None or m.display_name == wanted]
        return Reply(200, aiplatform_v1.ListModelsResponse.to_json(aiplatform_v1.ListModelsResponse(models=models)))

    def add_dataset(self, location_name: str, display_name: str, metadata_schema_uri: str) -> str:
        name = f"{location_name}/datasets/{next(self._ids)}"
        self.datasets[name] = aiplatform_v1.Dataset(
            name=name, display_name=display_name, metadata_schema_uri=metadata_schema_uri, create_time=_now()
        )
        return name

    def _list_datasets(self, request: Request, loc: str) -> Reply:
        wanted = self._display_name_filter(request)
        found = [d for n, d in self.datasets.items() if n.startswith(loc + "/") and wanted in (None, d.display_name)]
        return Reply(
            200, aiplatform_v1.ListDatasetsResponse.to_json(aiplatform_v1.ListDatasetsResponse(datasets=found))
        )

    def _create_dataset(self, request: Request, loc: str) -> Reply:
        dataset = aiplatform_v1.Dataset.from_json(json.dumps(request.body))
        dataset.name = f"{loc}/datasets/{next(self._ids)}"
        dataset.create_time = _now()
        self.datasets[dataset.name] = dataset
        return _operation(loc, "Dataset", aiplatform_v1.Dataset.to_json(dataset), self._ids)

    def _import_data(self, request: Request, loc: str, dataset: str) -> Reply:
        name = f"{loc}/datasets/{dataset}"
        if name not in self.datasets:
            return google_error(404, f"Dataset {name} not found")
        self.imports.setdefault(name, []).extend(request.body["importConfigs"])
        response = aiplatform_v1.ImportDataResponse()
        return _operation(loc, "ImportDataResponse", aiplatform_v1.ImportDataResponse.to_json(response), self._ids)

    def _get_model(self, request: Request, loc: str, model: str) -> Reply:
        found = self._resolve(loc, model)
        if found is None:
            return google_error(404, f"Model {loc}/models/{unquote(model)} not found")
        return Reply(200, aiplatform_v1.Model.to_json(found))

    def _list_evaluations(self, request: Request, loc: str, model: str) -> Reply:
        found = self._resolve(loc, model)
        if found is None:
            return google_error(404, f"Model {loc}/models/{unquote(model)} not found")
        evaluations = self.evaluations.get(f"{found.name}@{found.version_id}", [])
        response = aiplatform_v1.ListModelEvaluationsResponse(model_evaluations=evaluations)
        return Reply(200, aiplatform_v1.ListModelEvaluationsResponse.to_json(response))

    def _merge_aliases(self, request: Request, loc: str, model: str) -> Reply:
        if "@" not in unquote(model):
            return google_error(400, "mergeVersionAliases needs a version id in the name (models/M@VERSION)")
        found = self._resolve(loc, model)
        if found is None:
            return google_error(404, f"Model {loc}/models/{unquote(model)} not found")
        for alias in request.body["versionAliases"]:
            if alias.startswith("-"):
                found.version_aliases = [a for a in found.version_aliases if a != alias[1:]]
                continue
            for other in self.versions[found.name]:
                other.version_aliases = [a for a in other.version_aliases if a != alias]
            found.version_aliases = [*found.version_aliases, alias]
        return Reply(200, aiplatform_v1.Model.to_json(found))

    def _list_endpoints(self, request: Request, loc: str) -> Reply:
        mine = [e for name, e in self.endpoints.items() if name.startswith(loc + "/")]
        response = aiplatform_v1.ListEndpointsResponse(endpoints=mine)
        return Reply(200, aiplatform_v1.ListEndpointsResponse.to_json(response))

    def _create_endpoint(self, request: Request, loc: str) -> Reply:
        endpoint = aiplatform_v1.Endpoint.from_json(json.dumps(request.body))
        endpoint.name = f"{loc}/endpoints/{next(self._ids)}"
        endpoint.create_time = _now()
        self.endpoints[endpoint.name] = endpoint
        return _operation(loc, "Endpoint", aiplatform_v1.Endpoint.to_json(endpoint), self._ids)

    def _deploy(self, request: Request, loc: str, endpoint: str) -> Reply:
        target = self.endpoints.get(f"{loc}/endpoints/{endpoint}")
        if target is None:
            return google_error(404, f"Endpoint {endpoint} not found")
        deployed = aiplatform_v1.DeployedModel.from_json(json.dumps(request.body["deployedModel"]))
        deployed.id = str(next(self._ids))
        target.deployed_models = [*target.deployed_models, deployed]
        split = {deployed.id if k == "0" else k: int(v) for k, v in request.body.get("trafficSplit", {}).items()}
        target.traffic_split = split
        response = aiplatform_v1.DeployModelResponse(deployed_model=deployed)
        return _operation(loc, "DeployModelResponse", aiplatform_v1.DeployModelResponse.to_json(response), self._ids)

    def _undeploy(self, request: Request, loc: str, endpoint: str) -> Reply:
        target = self.endpoints[f"{loc}/endpoints/{endpoint}"]
        gone = request.body["deployedModelId"]
        if gone not in {d.id for d in target.deployed_models}:
            return google_error(400, f"deployed model {gone} is not on {target.name}")
        if target.traffic_split.get(gone):
            return google_error(400, f"deployed model {gone} still takes traffic; move it first")
        target.deployed_models = [d for d in target.deployed_models if d.id != gone]
        target.traffic_split = {k: v for k, v in target.traffic_split.items() if k != gone}
        response = aiplatform_v1.UndeployModelResponse()
        return _operation(
            loc, "UndeployModelResponse", aiplatform_v1.UndeployModelResponse.to_json(response), self._ids
        )
