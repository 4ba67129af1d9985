"""Dataset version store: immutable, content-addressed manifest versions with lineage.

A store is a local folder or any fsspec prefix (``gs://bucket/versions``) laid out as::

    <store>/<dataset>/versions/<version_id>/manifest.jsonl   the manifest, byte for byte
    <store>/<dataset>/versions/<version_id>/version.json     facts about it (written last)
    <store>/<dataset>/versions/<version_id>/models/<n>.json  one object per model trained on it
    <store>/<dataset>/latest.json                            pointer to the current version
    <store>/<dataset>/state.json                             small per-dataset state

The version id is the first 32 hex digits of the SHA-256 of the manifest bytes, so the same content
always gives the same version and re-creating it is a no-op. ``version.json`` is written only after
the manifest is complete, so a version exists exactly when its ``version.json`` does. Models are
recorded as separate objects so a version's files are never rewritten (object stores cannot append).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import fsspec
import orjson

from .manifest import (
    ManifestError,
    atomic_writer,
    item_id,
    label_source_of,
    labels_of,
    ml_use_of,
    open_file,
    parse_line,
)

SCHEMA_VERSION = 1
LATEST = "latest"
_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_VERSION_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20


class VersionStoreError(ValueError):
    """The store cannot do what was asked; the message says which dataset/version and what to do."""


class StateConflictError(VersionStoreError):
    """Per-dataset state changed since it was read (another run wrote it)."""


@dataclass(frozen=True)
class ItemCounts:
    """How many items a manifest holds, in total and by label, split and label source."""

    total: int
    by_label: dict[str, int] = field(default_factory=dict)
    by_split: dict[str, int] = field(default_factory=dict)
    by_label_source: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset's manifest and where it came from."""

    dataset: str
    version_id: str
    created_at: str
    description: str
    parent: str | None
    counts: ItemCounts
    manifest_sha256: str
    manifest_bytes: int
    manifest_uri: str
    pipeline_run: str | None = None
    producing_step: str | None = None

    @property
    def item_count(self) -> int:
        return self.counts.total


@dataclass(frozen=True)
class CreatedVersion:
    """Result of :func:`create_version`: the version and whether this call wrote it."""

    version: DatasetVersion
    created: bool


@dataclass(frozen=True)
class ModelRecord:
    """A model trained on a dataset version (lineage, appended after the version exists)."""

    model_uri: str
    recorded_at: str
    pipeline_run: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetState:
    """Small per-dataset state (e.g. the active-learning round and spend) and its revision."""

    values: dict[str, Any]
    revision: int
    updated_at: str | None


@dataclass(frozen=True)
class ManifestDigest:
    """A manifest's SHA-256, size in bytes and item counts."""

    sha256: str
    size: int
    counts: ItemCounts


# ---------------------------------------------------------------------------------------------
# Paths


def _join(*parts: str) -> str:
    return "/".join(part.rstrip("/") for part in parts)


def _dataset_dir(store_uri: str, dataset: str) -> str:
    check_dataset_name(dataset)
    return _join(store_uri, dataset)


def _version_dir(store_uri: str, dataset: str, version_id: str) -> str:
    check_version_id(version_id)
    return _join(_dataset_dir(store_uri, dataset), "versions", version_id)


def check_dataset_name(dataset: str) -> None:
    """Raise unless ``dataset`` is usable as one path segment (letters, digits, ``_.-``)."""
    if not isinstance(dataset, str) or not _DATASET_NAME.match(dataset):
        raise VersionStoreError(
            f"dataset name {dataset!r} is not allowed; use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


def check_version_id(version_id: str) -> None:
    """Raise unless ``version_id`` looks like a version id (32 lowercase hex digits)."""
    if not isinstance(version_id, str) or not _VERSION_ID.match(version_id):
        raise VersionStoreError(f"version id {version_id!r} is not 32 lowercase hex digits; see list_versions")


def _filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    return fsspec.core.url_to_fs(uri)


def _exists(uri: str) -> bool:
    fs, path = _filesystem(uri)
    return fs.exists(path)


def _now_iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def _read_json(uri: str) -> dict:
    with open_file(uri, "rb") as handle:
        raw = handle.read()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise VersionStoreError(f"{uri}: not valid JSON ({err}); the store is damaged, restore the file") from None
    if not isinstance(data, dict):
        raise VersionStoreError(f"{uri}: expected a JSON object; the store is damaged, restore the file")
    return data


def _write_json(uri: str, data: dict) -> None:
    with atomic_writer(uri) as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


# ---------------------------------------------------------------------------------------------
# Digesting a manifest


def digest_manifest(manifest_path: str) -> ManifestDigest:
    """Hash a manifest's bytes and count its items in one streaming pass.

    Raises:
        ManifestError: on a line that is not a JSON object or an item without a labelloop id,
            naming the file and line.
    """
    sha = hashlib.sha256()
    size = 0
    total = 0
    by_label: Counter[str] = Counter()
    by_split: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    with open_file(manifest_path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            sha.update(raw)
            size += len(raw)
            if not raw.strip():
                continue
            record = _parse_item(raw, manifest_path, number)
            total += 1
            by_label.update(labels_of(record) or ["(none)"])
            by_split[ml_use_of(record) or "(none)"] += 1
            by_source[label_source_of(record) or "(none)"] += 1
    counts = ItemCounts(
        total, dict(sorted(by_label.items())), dict(sorted(by_split.items())), dict(sorted(by_source.items()))
    )
    return ManifestDigest(sha.hexdigest(), size, counts)


def _parse_item(raw: bytes, path: str, number: int) -> dict:
    record = parse_line(raw, path, number)
    try:
        item_id(record)
        labels_of(record)
    except (KeyError, TypeError) as err:
        raise ManifestError(f"{path}:{number}: {err}; only manifests of imported items can be versioned") from None
    return record


# ---------------------------------------------------------------------------------------------
# Versions


def create_version(
    store_uri: str,
    dataset: str,
    manifest_path: str,
    *,
    description: str = "",
    parent: str | None = LATEST,
    pipeline_run: str | None = None,
    producing_step: str | None = None,
    now: datetime | None = None,
) -> CreatedVersion:
    """Store ``manifest_path`` as a version of ``dataset`` and make it the latest.

    Identical content returns the existing version (``created=False``) and moves ``latest`` to
    it, so re-running a step is harmless and going back to old content is a restore.

    Args:
        store_uri: Store root, a local folder or fsspec URL.
        dataset: Dataset name (one path segment).
        manifest_path: The JSONL manifest to version.
        description: What changed, for people reading ``list_versions``.
        parent: Parent version id; ``LATEST`` (default) uses the current latest version, None
            makes a root version.
        pipeline_run: The pipeline run that produced the manifest.
        producing_step: The step that produced it.
        now: Creation time (defaults to the current UTC time).

    Returns:
        The version and whether this call created it.

    Raises:
        ManifestError: if the manifest has a bad line; nothing is written then.
        VersionStoreError: if the manifest is empty or ``parent`` does not exist.
    """
    check_dataset_name(dataset)
    digest = digest_manifest(manifest_path)
    if digest.counts.total == 0:
        raise VersionStoreError(f"{manifest_path}: manifest has no items; nothing to version for {dataset!r}")
    version_id = digest.sha256[:32]
    existing = _load_version_if_complete(store_uri, dataset, version_id)
    if existing is not None:
        _point_latest(store_uri, dataset, version_id, now)
        return CreatedVersion(existing, created=False)
    version = DatasetVersion(
        dataset=dataset,
        version_id=version_id,
        created_at=_now_iso(now),
        description=description,
        parent=_resolve_parent(store_uri, dataset, parent, version_id),
        counts=digest.counts,
        manifest_sha256=digest.sha256,
        manifest_bytes=digest.size,
        manifest_uri=_join(_version_dir(store_uri, dataset, version_id), "manifest.jsonl"),
        pipeline_run=pipeline_run or None,
        producing_step=producing_step or None,
    )
    _copy_verified(
        manifest_path,
        version.manifest_uri,
        digest.sha256,
        f"{manifest_path} changed while it was being versioned; run the step again",
    )
    _write_json(_join(_version_dir(store_uri, dataset, version_id), "version.json"), _version_to_json(version))
    _point_latest(store_uri, dataset, version_id, now)
    return CreatedVersion(version, created=True)


def _resolve_parent(store_uri: str, dataset: str, parent: str | None, version_id: str) -> str | None:
    if parent is None or parent == "":
        return None
    if parent == LATEST:
        latest = latest_version_id(store_uri, dataset)
        return latest if latest != version_id else None
    if _load_version_if_complete(store_uri, dataset, parent) is None:
        raise VersionStoreError(
            f"parent version {parent} of dataset {dataset!r} does not exist in {store_uri}; "
            "pass an id from list_versions, LATEST or None"
        )
    return parent


def _copy_verified(source: str, target: str, sha256: str, mismatch: str) -> None:
    """Copy ``source`` to ``target`` atomically; raise ``mismatch`` if its bytes do not hash to ``sha256``."""
    sha = hashlib.sha256()
    with open_file(source, "rb") as reader, atomic_writer(target) as writer:
        while chunk := reader.read(_CHUNK):
            sha.update(chunk)
            writer.write(chunk)
        if sha.hexdigest() != sha256:
            raise VersionStoreError(mismatch)


def _point_latest(store_uri: str, dataset: str, version_id: str, now: datetime | None) -> None:
    pointer = _join(_dataset_dir(store_uri, dataset), "latest.json")
    _write_json(pointer, {"version_id": version_id, "updated_at": _now_iso(now)})


def latest_version_id(store_uri: str, dataset: str) -> str | None:
    """Id of the dataset's latest version, or None when it has none."""
    pointer = _join(_dataset_dir(store_uri, dataset), "latest.json")
    if not _exists(pointer):
        return None
    version_id = _read_json(pointer).get("version_id")
    check_version_id(version_id)
    return version_id


def latest_version(store_uri: str, dataset: str) -> DatasetVersion | None:
    """The dataset's latest version, or None when it has none."""
    version_id = latest_version_id(store_uri, dataset)
    return None if version_id is None else get_version(store_uri, dataset, version_id)


def get_version(
    store_uri: str, dataset: str, version_id: str = LATEST, *, restore_to: str | None = None
) -> DatasetVersion:
    """Look up one version (``LATEST`` for the current one); optionally restore its manifest.

    Args:
        store_uri: Store root.
        dataset: Dataset name.
        version_id: A version id or ``LATEST``.
        restore_to: If given, the manifest is copied there (atomically, checked against its hash).

    Raises:
        VersionStoreError: if the dataset or version does not exist, or the stored manifest does
            not match its hash.
    """
    if version_id == LATEST:
        resolved = latest_version_id(store_uri, dataset)
        if resolved is None:
            raise VersionStoreError(f"dataset {dataset!r} has no versions in {store_uri}; create one first")
        version_id = resolved
    version = _load_version_if_complete(store_uri, dataset, version_id)
    if version is None:
        raise VersionStoreError(
            f"dataset {dataset!r} has no version {version_id} in {store_uri}; see list_versions for the ids"
        )
    if restore_to is not None:
        _copy_verified(
            version.manifest_uri,
            restore_to,
            version.manifest_sha256,
            f"stored manifest {version.manifest_uri} does not match its sha256 {version.manifest_sha256}; "
            "the store is damaged: restore the file from a backup or create the version again from its source",
        )
    return version


def list_versions(store_uri: str, dataset: str) -> list[DatasetVersion]:
    """Every complete version of ``dataset``, oldest first (empty if it has none)."""
    fs, root = _filesystem(_join(_dataset_dir(store_uri, dataset), "versions"))
    if not fs.exists(root):
        return []
    ids = sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in fs.ls(root, detail=False))
    versions = [_load_version_if_complete(store_uri, dataset, vid) for vid in ids if _VERSION_ID.match(vid)]
    return sorted((v for v in versions if v is not None), key=lambda v: (v.created_at, v.version_id))


def list_datasets(store_uri: str) -> list[str]:
    """Names of the datasets that have at least one version in the store."""
    fs, root = _filesystem(store_uri)
    if not fs.exists(root):
        return []
    names = (path.rstrip("/").rsplit("/", 1)[-1] for path in fs.ls(root, detail=False))
    return sorted(n for n in names if _DATASET_NAME.match(n) and _exists(_join(store_uri, n, "latest.json")))


def _load_version_if_complete(store_uri: str, dataset: str, version_id: str) -> DatasetVersion | None:
    path = _join(_version_dir(store_uri, dataset, version_id), "version.json")
    if not _exists(path):
        return None
    return _version_from_json(_read_json(path), path)


def _version_to_json(version: DatasetVersion) -> dict:
    return {"schema_version": SCHEMA_VERSION, **asdict(version)}


def _version_from_json(data: dict, path: str) -> DatasetVersion:
    try:
        counts = ItemCounts(**data["counts"])
        fields = {k: v for k, v in data.items() if k not in ("schema_version", "counts")}
        return DatasetVersion(counts=counts, **fields)
    except (KeyError, TypeError) as err:
        raise VersionStoreError(f"{path}: not a version record ({err}); the store is damaged or newer") from None


# ---------------------------------------------------------------------------------------------
# Lineage: models trained on a version


def record_model(
    store_uri: str,
    dataset: str,
    version_id: str,
    model_uri: str,
    *,
    pipeline_run: str | None = None,
    metrics: dict[str, float] | None = None,
    now: datetime | None = None,
) -> ModelRecord:
    """Record that ``model_uri`` was trained on a version; one new object per call, never a rewrite."""
    get_version(store_uri, dataset, version_id)
    record = ModelRecord(model_uri, _now_iso(now), pipeline_run or None, dict(metrics or {}))
    key = hashlib.sha256(f"{model_uri}\n{record.recorded_at}".encode()).hexdigest()[:12]
    stamp = record.recorded_at.replace(":", "").replace("-", "").replace("+", "Z")
    _write_json(_join(_version_dir(store_uri, dataset, version_id), "models", f"{stamp}-{key}.json"), asdict(record))
    return record


def models_trained_on(store_uri: str, dataset: str, version_id: str) -> list[ModelRecord]:
    """The models recorded against a version, oldest first."""
    fs, root = _filesystem(_join(_version_dir(store_uri, dataset, version_id), "models"))
    if not fs.exists(root):
        return []
    records = []
    for path in sorted(fs.ls(root, detail=False)):
        uri = fs.unstrip_protocol(path)
        try:
            records.append(ModelRecord(**_read_json(uri)))
        except TypeError as err:
            raise VersionStoreError(f"{uri}: not a model record ({err}); the store is damaged") from None
    return sorted(records, key=lambda r: r.recorded_at)


# ---------------------------------------------------------------------------------------------
# Per-dataset state (active-learning round counter, spend, ...)


def read_state(store_uri: str, dataset: str) -> DatasetState:
    """The dataset's state; empty values at revision 0 when none was written yet."""
    path = _join(_dataset_dir(store_uri, dataset), "state.json")
    if not _exists(path):
        return DatasetState({}, 0, None)
    data = _read_json(path)
    try:
        return DatasetState(dict(data["values"]), int(data["revision"]), data.get("updated_at"))
    except (KeyError, TypeError, ValueError) as err:
        raise VersionStoreError(f"{path}: not a state record ({err}); the store is damaged") from None


def write_state(
    store_uri: str,
    dataset: str,
    values: dict[str, Any],
    *,
    expected_revision: int,
    now: datetime | None = None,
) -> DatasetState:
    """Replace the dataset's state atomically if it is still at ``expected_revision``.

    The revision check catches a concurrent writer that finished first; it is not a lock, so
    runs that share state should also be serialised (a schedule with max one concurrent run).

    Raises:
        StateConflictError: if the stored revision is not ``expected_revision``.
        VersionStoreError: if ``values`` cannot be stored as JSON.
    """
    current = read_state(store_uri, dataset)
    if current.revision != expected_revision:
        raise StateConflictError(
            f"state of dataset {dataset!r} is at revision {current.revision}, expected {expected_revision}; "
            "another run changed it, read it again and redo the update"
        )
    new = DatasetState(dict(values), current.revision + 1, _now_iso(now))
    try:
        _write_json(_join(_dataset_dir(store_uri, dataset), "state.json"), asdict(new))
    except TypeError as err:
        raise VersionStoreError(f"state of dataset {dataset!r} must be JSON-serialisable: {err}") from None
    return new


def update_state(store_uri: str, dataset: str, changes: dict[str, Any], *, now: datetime | None = None) -> DatasetState:
    """Merge ``changes`` into the dataset's state (read, merge, write with a revision check)."""
    current = read_state(store_uri, dataset)
    return write_state(store_uri, dataset, {**current.values, **changes}, expected_revision=current.revision, now=now)
