"""Label Studio as the human labeling backend, over its REST API with ``requests``.

One Label Studio project per labeling job: its labeling config is generated from the task type,
``maximum_annotations`` is the job's ``labelerCount`` and each task's ``overlap`` is raised as the
adaptive policy asks for more labelers. Items are imported once (a re-run finds the project again
through the annotation store's saved state, or by its title, and imports only what is missing);
the current model's predictions ride along as pre-annotations. Local files are served by Label
Studio's local-files storage (they must sit in a subfolder of
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``); ``gs://`` images go through a GCS import storage.

The server is the ``url`` parameter, else ``LABEL_STUDIO_URL``. The token (a legacy token, or a
personal access token that is exchanged for short-lived access tokens) is read at run time from a
Secret Manager secret version named by the ``token_secret`` parameter, with the step's own
credentials (on Vertex, the pipeline's service account, which needs
``roles/secretmanager.secretAccessor`` on that secret), else from ``LABEL_STUDIO_API_KEY`` (local
runs); the token itself is never a component parameter, so it never lands in compiled pipeline YAML. Every call retries
connection errors, timeouts, 429 and 5xx with exponential backoff, then fails with a message that
says what to check.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import requests

from ..core import manifest
from ..core.annotation_store import AnnotationStore
from ..core.labeling_job import LabelingJobSpec, TaskType
from ..core.labeling_rounds import Delivered, LabelTask

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"
FILES_ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
#: Secret Manager API endpoint override (tests, private endpoints); ``http(s)://`` uses REST.
SECRET_MANAGER_ENDPOINT_ENV = "LABELLOOP_SECRET_MANAGER_ENDPOINT"
SECRET_VERSION = re.compile(r"^projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}/versions/(?:[1-9][0-9]*|latest)$")
STATE_NAME = "label_studio"
MAX_TITLE = 50  # Label Studio's limit on project titles
IMPORT_BATCH = 250
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class LabelStudioError(RuntimeError):
    """Label Studio refused a request; the message has the call, the answer and what to check."""


class LabelStudioUnavailable(LabelStudioError):
    """Label Studio could not be reached (or kept failing) after every retry."""


# ---------------------------------------------------------------------------------------------
# Where the server and its token come from


def label_studio_connection(
    *,
    url: str = "",
    token_secret: str = "",
    environ: Mapping[str, str] = os.environ,
    read_secret: Callable[[str], str] | None = None,
) -> tuple[str, str]:
    """``(server URL, token)``: the URL from ``url`` else ``LABEL_STUDIO_URL``; the token from the Secret
    Manager secret version ``token_secret`` (read at run time) else ``LABEL_STUDIO_API_KEY``.

    Raises:
        LabelStudioError: the URL or the token is missing, or the secret cannot be read.
    """
    url = (url or environ.get(URL_ENV, "")).strip().rstrip("/")
    if token_secret.strip():
        token = (read_secret or read_secret_version)(token_secret.strip()).strip()
        source = f"secret {token_secret.strip()}"
    else:
        token, source = environ.get(KEY_ENV, "").strip(), f"${KEY_ENV}"
    if not url or not token:
        missing = "no server URL" if not url else f"no token ({source} is empty)"
        raise LabelStudioError(
            f"backend 'label_studio' has {missing}: for local runs set {URL_ENV} and {KEY_ENV} on the step; "
            "on Vertex give the server URL and the token's Secret Manager version "
            "(projects/PROJECT/secrets/NAME/versions/VERSION) as the step's label_studio_url and "
            "label_studio_token_secret"
        )
    return url, token


def read_secret_version(
    name: str, *, api_endpoint: str | None = None, credentials: Any = None, environ: Mapping[str, str] = os.environ
) -> str:
    """The UTF-8 payload of a Secret Manager secret version, read with the step's credentials.

    ``name`` is ``projects/PROJECT/secrets/SECRET/versions/VERSION`` (a number or ``latest``). Credentials are
    Application Default Credentials unless given: on Vertex AI Pipelines the run's service account, which
    needs ``roles/secretmanager.secretAccessor`` on the secret. The payload's CRC32C is checked when the API
    sends one. ``api_endpoint`` (else ``$LABELLOOP_SECRET_MANAGER_ENDPOINT``) redirects the client; an
    ``http(s)://`` endpoint is spoken to over REST. See
    https://cloud.google.com/secret-manager/docs/access-secret-version
    """
    if not SECRET_VERSION.match(name):
        raise LabelStudioError(
            f"label_studio_token_secret {name!r} is not a secret version resource name; give "
            "projects/PROJECT/secrets/SECRET/versions/VERSION (VERSION a number or 'latest')"
        )
    from google.api_core import exceptions as google_errors
    from google.cloud import secretmanager

    client = _secret_manager_client(api_endpoint or environ.get(SECRET_MANAGER_ENDPOINT_ENV) or None, credentials)
    try:
        response = client.access_secret_version(request=secretmanager.AccessSecretVersionRequest(name=name))
    except (google_errors.NotFound, google_errors.Forbidden) as err:  # PermissionDenied is a Forbidden
        raise LabelStudioError(
            f"cannot read secret version {name}: {err.message}; check that it exists and is enabled and that the "
            "step's service account has roles/secretmanager.secretAccessor on the secret"
        ) from None
    except google_errors.GoogleAPICallError as err:
        raise LabelStudioError(f"Secret Manager refused to read {name}: {err}") from None
    data = response.payload.data
    if response.payload.data_crc32c and _crc32c(data) != response.payload.data_crc32c:
        raise LabelStudioError(f"secret version {name}: the payload's CRC32C does not match (corrupted in transit)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LabelStudioError(
            f"secret version {name} is not UTF-8 text; store the Label Studio token as text"
        ) from None


def _secret_manager_client(api_endpoint: str | None, credentials: Any) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.cloud import secretmanager

    if not api_endpoint:
        return secretmanager.SecretManagerServiceClient(credentials=credentials)
    rest = bool(re.match(r"^https?://", api_endpoint))
    return secretmanager.SecretManagerServiceClient(
        credentials=credentials,
        transport="rest" if rest else None,
        client_options=ClientOptions(api_endpoint=api_endpoint),
    )


def _crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))


# ---------------------------------------------------------------------------------------------
# The HTTP client


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``attempts`` tries, waiting ``base_s × 2^n`` (at most ``max_wait_s``) between them."""

    attempts: int = 5
    base_s: float = 0.5
    max_wait_s: float = 30.0
    timeout_s: float = 30.0

    def wait_before(self, attempt: int) -> float:
        return min(self.max_wait_s, self.base_s * 2 ** (attempt - 1))


@dataclass
class LabelStudioClient:
    """A thin, retrying JSON client for one Label Studio server."""

    url: str
    api_key: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    _access: str | None = None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] = os.environ,
        retry: RetryPolicy | None = None,
        *,
        url: str = "",
        token_secret: str = "",
        read_secret: Callable[[str], str] | None = None,
    ) -> LabelStudioClient:
        """A client for ``url`` (else ``LABEL_STUDIO_URL``) with the token from ``token_secret`` (a Secret
        Manager secret version) or else ``LABEL_STUDIO_API_KEY``; raises if either is missing."""
        url, key = label_studio_connection(
            url=url, token_secret=token_secret, environ=environ, read_secret=read_secret or read_secret_version
        )
        return cls(url, key, retry or RetryPolicy())

    def call(self, method: str, path: str, *, json: Any = None, params: Mapping | None = None) -> Any:
        """Send one request, retrying transient failures; returns the decoded JSON body (or None)."""
        target = f"{self.url}{path}"
        started = time.monotonic()
        last = ""
        refreshed = False
        attempt = 0
        while attempt < self.retry.attempts:
            attempt += 1
            try:
                response = self.session.request(
                    method, target, json=json, params=params, headers=self._headers(), timeout=self.retry.timeout_s
                )
            except (requests.ConnectionError, requests.Timeout) as err:
                last = f"{type(err).__name__}: {err}"
            else:
                if response.status_code == 401 and self._is_personal_token() and not refreshed:
                    self._access, refreshed, attempt = None, True, attempt - 1
                    continue
                if response.status_code not in RETRYABLE_STATUS:
                    return self._decode(method, target, response)
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            if attempt < self.retry.attempts:
                self.sleep(self.retry.wait_before(attempt))
        raise LabelStudioUnavailable(
            f"{method} {target} failed {self.retry.attempts} times over {time.monotonic() - started:.1f}s "
            f"(last: {last}); check that Label Studio is running at {self.url} ({URL_ENV}) and healthy, then re-run: "
            "labels already delivered are kept in the annotation store"
        )

    def _decode(self, method: str, target: str, response: requests.Response) -> Any:
        if response.status_code in (401, 403):
            raise LabelStudioError(
                f"{method} {target}: HTTP {response.status_code}; {KEY_ENV} is not accepted by Label Studio "
                "(use the token from Account & Settings; legacy tokens must be enabled for the organization)"
            )
        if not response.ok:
            raise LabelStudioError(f"{method} {target}: HTTP {response.status_code}: {response.text[:500]}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise LabelStudioError(f"{method} {target}: answered non-JSON {response.text[:200]!r}") from None

    def _is_personal_token(self) -> bool:
        return self.api_key.count(".") == 2  # a JWT refresh token

    def _headers(self) -> dict[str, str]:
        if not self._is_personal_token():
            return {"Authorization": f"Token {self.api_key}"}
        if self._access is None:
            response = self.session.post(
                f"{self.url}/api/token/refresh", json={"refresh": self.api_key}, timeout=self.retry.timeout_s
            )
            if not response.ok:
                raise LabelStudioError(f"exchanging {KEY_ENV} for an access token failed: HTTP {response.status_code}")
            self._access = response.json()["access"]
        return {"Authorization": f"Bearer {self._access}"}

    def pages(self, path: str, params: Mapping, key: str) -> Iterable[dict]:
        """Every element of a paginated list (``page``/``page_size``), whichever shape the list has."""
        page = 1
        while True:
            body = self.call("GET", path, params={**params, "page": page, "page_size": 100})
            batch = body.get(key, body.get("results", [])) if isinstance(body, dict) else body
            yield from batch
            total = body.get("total", body.get("count")) if isinstance(body, dict) else None
            if not batch or total is None or page * 100 >= total:
                return
            page += 1


# ---------------------------------------------------------------------------------------------
# Labeling configs and results


def labeling_config(task_type: TaskType, labels: Sequence[str]) -> str:
    """The Label Studio labeling config (XML) for a task type and label set."""
    tags = {
        TaskType.IMAGE_CLASSIFICATION: (
            '<Image name="item" value="$image"/>',
            "Choices",
            ' choice="single" required="true"',
            "Choice",
        ),
        TaskType.IMAGE_MULTI_LABEL: ('<Image name="item" value="$image"/>', "Choices", ' choice="multiple"', "Choice"),
        TaskType.IMAGE_BOUNDING_BOX: ('<Image name="item" value="$image"/>', "RectangleLabels", "", "Label"),
        TaskType.TEXT_CLASSIFICATION: (
            '<Text name="item" value="$text"/>',
            "Choices",
            ' choice="single" required="true"',
            "Choice",
        ),
        TaskType.TEXT_MULTI_LABEL: ('<Text name="item" value="$text"/>', "Choices", ' choice="multiple"', "Choice"),
        TaskType.TEXT_ENTITY_SPANS: ('<Text name="item" value="$text"/>', "Labels", "", "Label"),
        TaskType.TABLE_CLASSIFICATION: (
            '<Table name="item" value="$row"/>',
            "Choices",
            ' choice="single" required="true"',
            "Choice",
        ),
    }
    obj, control, options, child = tags[task_type]
    choices = "".join(f"<{child} value={quoteattr(name)}/>" for name in labels)
    control_xml = f'<{control} name="label" toName="item"{options}>{choices}</{control}>'
    body = f"{control_xml}{obj}" if control == "Labels" else f"{obj}{control_xml}"
    return f"<View>{body}</View>"


def annotation_value(task_type: TaskType, result: Sequence[Mapping], where: str) -> Any:
    """Turn a Label Studio annotation ``result`` into the store's value for the task type.

    Raises:
        LabelStudioError: when the result does not hold what the task type needs (e.g. no choice).
    """
    if task_type.is_single_label or task_type.is_multi_label:
        chosen = [c for r in result if r.get("type") == "choices" for c in r["value"].get("choices", [])]
        if task_type.is_multi_label:
            return sorted(set(chosen))
        if len(chosen) != 1:
            raise LabelStudioError(f"{where}: expected one choice, got {chosen}")
        return chosen[0]
    if task_type is TaskType.IMAGE_BOUNDING_BOX:
        return [_box(r["value"]) for r in result if r.get("type") == "rectanglelabels"]
    return [
        {
            "displayName": r["value"]["labels"][0],
            "startOffset": int(r["value"]["start"]),
            "endOffset": int(r["value"]["end"]),
        }
        for r in result
        if r.get("type") == "labels"
    ]


def _box(value: Mapping) -> dict:
    """Label Studio rectangles are in percent of the image; Vertex boxes are normalized 0–1."""
    x, y, w, h = (float(value[k]) / 100.0 for k in ("x", "y", "width", "height"))
    clamp = lambda v: min(1.0, max(0.0, v))  # noqa: E731
    return {
        "displayName": value["rectanglelabels"][0],
        "xMin": clamp(x),
        "yMin": clamp(y),
        "xMax": clamp(x + w),
        "yMax": clamp(y + h),
    }


def prediction_result(task_type: TaskType, probabilities: Mapping[str, float], model_version: str) -> dict | None:
    """A Label Studio pre-annotation from model probabilities (classification tasks only)."""
    if not probabilities or not (task_type.is_single_label or task_type.is_multi_label):
        return None
    if task_type.is_multi_label:
        chosen = sorted(name for name, p in probabilities.items() if p >= 0.5)
        score = min((max(p, 1 - p) for p in probabilities.values()), default=0.0)
    else:
        top, score = max(probabilities.items(), key=lambda kv: kv[1])
        chosen = [top]
    result = [{"from_name": "label", "to_name": "item", "type": "choices", "value": {"choices": chosen}}]
    return {"model_version": model_version, "score": float(score), "result": result}


# ---------------------------------------------------------------------------------------------
# The backend


class LabelStudioLabeler:
    """Human labeling in a Label Studio project (see the module docstring)."""

    name = "label_studio"

    def __init__(
        self,
        spec: LabelingJobSpec,
        store: AnnotationStore,
        client: LabelStudioClient,
        *,
        files_root: str | None = None,
        model_version: str = "labelloop-model",
    ):
        self.spec = spec
        self.store = store
        self.client = client
        self.files_root = Path(files_root).resolve() if files_root else None
        self.model_version = model_version
        self.project_id: int | None = None
        self.unusable: list[str] = []  # annotations that could not be read, with why

    @classmethod
    def from_env(
        cls,
        spec: LabelingJobSpec,
        store: AnnotationStore,
        *,
        model_version: str,
        environ: Mapping[str, str] = os.environ,
        url: str = "",
        token_secret: str = "",
        read_secret: Callable[[str], str] | None = None,
    ) -> LabelStudioLabeler:
        """The backend for the server ``url`` (else ``LABEL_STUDIO_URL``) with the token from the Secret Manager
        version ``token_secret`` (else ``LABEL_STUDIO_API_KEY``), and local files under
        ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``."""
        client = LabelStudioClient.from_env(environ, url=url, token_secret=token_secret, read_secret=read_secret)
        return cls(spec, store, client, files_root=environ.get(FILES_ROOT_ENV) or None, model_version=model_version)

    # -- project -------------------------------------------------------------------------------

    @property
    def title(self) -> str:
        """The project title: the job's name cut to fit Label Studio's 50 characters, plus a fingerprint."""
        fingerprint = hashlib.sha256(
            "\n".join((self.spec.display_name, self.spec.task_type.value, *self.spec.annotation_specs)).encode()
        ).hexdigest()[:8]
        return f"{self.spec.display_name[: MAX_TITLE - 11].strip()} [{fingerprint}]"

    def ensure_project(self) -> int:
        """Find this job's project (saved state, then title) or create it; returns its id."""
        if self.project_id is not None:
            return self.project_id
        state = self.store.read_state(STATE_NAME) or {}
        project_id = state.get("project_id") if state.get("url") == self.client.url else None
        if project_id is not None and not self._project_exists(project_id):
            project_id = None
        if project_id is None:
            project_id = self._find_by_title() or self._create_project()
        self.store.write_state(STATE_NAME, {"url": self.client.url, "project_id": project_id, "title": self.title})
        self.project_id = project_id
        return project_id

    def _project_exists(self, project_id: int) -> bool:
        try:
            return self.client.call("GET", f"/api/projects/{project_id}").get("title") == self.title
        except LabelStudioUnavailable:
            raise
        except LabelStudioError:
            return False

    def _find_by_title(self) -> int | None:
        for project in self.client.pages("/api/projects", {"title": self.title}, "results"):
            if project.get("title") == self.title:
                return int(project["id"])
        return None

    def _create_project(self) -> int:
        body = {
            "title": self.title,
            "description": f"labelloop job {self.spec.display_name!r} ({self.spec.task_type.value})",
            "label_config": labeling_config(self.spec.task_type, self.spec.annotation_specs),
            "expert_instruction": f'<a href="{self.spec.instruction_uri}">Labeling instructions</a>',
            "show_instruction": True,
            "maximum_annotations": self.spec.labeler_count,
            "overlap_cohort_percentage": 100,
            "show_overlap_first": True,
        }
        return int(self.client.call("POST", "/api/projects", json=body)["id"])

    # -- tasks ---------------------------------------------------------------------------------

    def existing_tasks(self) -> dict[str, dict]:
        """The project's tasks by labelloop id."""
        project_id = self.ensure_project()
        tasks = {}
        for task in self.client.pages("/api/tasks", {"project": project_id, "fields": "all"}, "tasks"):
            item_id = (task.get("data") or {}).get("labelloop_id")
            if item_id:
                tasks.setdefault(item_id, task)
        return tasks

    def request(self, tasks: Sequence[LabelTask]) -> None:
        project_id = self.ensure_project()
        existing = self.existing_tasks()
        missing = [t for t in tasks if t.item_id not in existing]
        self._connect_storages(missing)
        for start in range(0, len(missing), IMPORT_BATCH):
            batch = [self._task_payload(t) for t in missing[start : start + IMPORT_BATCH]]
            self.client.call("POST", f"/api/projects/{project_id}/import", json=batch)
        if missing:
            existing = self.existing_tasks()
        for task in tasks:
            current = existing.get(task.item_id)
            if current is None:
                raise LabelStudioError(
                    f"item {task.item_id} was imported into project {project_id} but is not listed; re-run"
                )
            if int(current.get("overlap") or 0) != task.target_labels:
                self.client.call("PATCH", f"/api/tasks/{current['id']}", json={"overlap": task.target_labels})

    def _task_payload(self, task: LabelTask) -> dict:
        data = {"labelloop_id": task.item_id, **self._content(task)}
        payload: dict[str, Any] = {"data": data}
        prediction = prediction_result(self.spec.task_type, task.prediction or {}, self.model_version)
        if prediction:
            payload["predictions"] = [prediction]
        return payload

    def _content(self, task: LabelTask) -> dict:
        field_name, value = manifest.content_of(dict(task.record))
        if self.spec.task_type.modality == "table" and field_name == manifest.TABLE_ROW_KEY:
            return {"row": {name: "" if cell is None else cell for name, cell in value.items()}}
        if self.spec.task_type.modality == "text":
            if field_name == "textContent":
                return {"text": value}
            if field_name == "textGcsUri":
                with manifest.open_file(value, "rb") as handle:
                    return {"text": handle.read().decode("utf-8")}
        elif field_name == "imageGcsUri":
            return {"image": value if value.startswith("gs://") else self._local_url(value, task.item_id)}
        raise LabelStudioError(f"item {task.item_id}: a {self.spec.task_type.value} task cannot show {field_name}")

    def _local_url(self, uri: str, item_id: str) -> str:
        path = Path(uri.removeprefix("file://")).resolve()
        relative = self._relative_to_root(path, item_id)
        return f"/data/local-files/?d={quote(str(relative))}"

    def _relative_to_root(self, path: Path, item_id: str) -> Path:
        if self.files_root is None:
            raise LabelStudioError(
                f"item {item_id}: local file {path} needs {FILES_ROOT_ENV} "
                "(the folder Label Studio serves local files from)"
            )
        try:
            relative = path.relative_to(self.files_root)
        except ValueError:
            raise LabelStudioError(
                f"item {item_id}: {path} is outside {FILES_ROOT_ENV}={self.files_root}; move it there"
            ) from None
        if len(relative.parts) < 2:
            raise LabelStudioError(
                f"item {item_id}: {path} must be in a subfolder of {self.files_root}, not directly in it"
            )
        return relative

    def _connect_storages(self, tasks: Sequence[LabelTask]) -> None:
        """Attach a local-files storage per top folder (and a GCS storage per bucket) the new items use."""
        local_dirs, buckets = set(), set()
        for task in tasks:
            field_name, value = manifest.content_of(dict(task.record))
            if field_name != "imageGcsUri":
                continue
            if value.startswith("gs://"):
                buckets.add(value.removeprefix("gs://").split("/", 1)[0])
            else:
                relative = self._relative_to_root(Path(value.removeprefix("file://")).resolve(), task.item_id)
                local_dirs.add(str(self.files_root / relative.parts[0]))
        project_id = self.ensure_project()
        known = self._storages(project_id)
        for directory in sorted(local_dirs - known):
            self.client.call(
                "POST",
                "/api/storages/localfiles",
                json={
                    "project": project_id,
                    "path": directory,
                    "title": f"labelloop {Path(directory).name}",
                    "use_blob_urls": True,
                },
            )
        for bucket in sorted(buckets - known):
            credentials = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
            body = {
                "project": project_id,
                "bucket": bucket,
                "title": f"labelloop gs://{bucket}",
                "presign": True,
                "use_blob_urls": False,
            }
            if credentials:
                body["google_application_credentials"] = Path(credentials).read_text()
            self.client.call("POST", "/api/storages/gcs", json=body)

    def _storages(self, project_id: int) -> set[str]:
        local = self.client.call("GET", "/api/storages/localfiles", params={"project": project_id}) or []
        gcs = self.client.call("GET", "/api/storages/gcs", params={"project": project_id}) or []
        return {s.get("path") for s in local} | {s.get("bucket") for s in gcs}

    # -- annotations ---------------------------------------------------------------------------

    def delivered(self) -> list[Delivered]:
        """Every submitted (not skipped) annotation in the project, exported as JSON."""
        project_id = self.ensure_project()
        exported = self.client.call("GET", f"/api/projects/{project_id}/export", params={"exportType": "JSON"})
        out, self.unusable = [], []
        for task in exported or []:
            item_id = (task.get("data") or {}).get("labelloop_id")
            if not item_id:
                continue
            for annotation in task.get("annotations") or []:
                if annotation.get("was_cancelled"):
                    continue
                where = f"project {project_id} task {task.get('id')} annotation {annotation.get('id')} (item {item_id})"
                try:
                    value = annotation_value(self.spec.task_type, annotation.get("result") or [], where)
                except (LabelStudioError, KeyError, IndexError, TypeError, ValueError) as err:
                    self.unusable.append(f"{where}: {err}")
                    continue
                labeler = f"label-studio-user-{_user_id(annotation.get('completed_by'))}"
                out.append(Delivered(item_id, labeler, value, f"annotation/{annotation.get('id')}"))
        return out


def _user_id(completed_by: Any) -> Any:
    return completed_by.get("id") if isinstance(completed_by, Mapping) else completed_by
