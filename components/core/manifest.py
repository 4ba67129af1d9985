"""The one item format between steps: JSON Lines in the Vertex AI import schema.

Readers and writers stream, so a 10 GB manifest is never held in memory. Records are plain dicts;
the helpers here read and set the fields labelloop cares about and carry every other field through
untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import orjson

ML_USE_KEY = "aiplatform.googleapis.com/ml_use"
ID_KEY = "labelloop_id"
SOURCE_KEY = "labelloop_source"
ML_USES = ("training", "validation", "test")
BOM = b"\xef\xbb\xbf"
#: A run of 19+ digits may be an integer beyond 64 bits, which orjson reads as a float (losing
#: digits); such lines are read by the standard library, which keeps every integer exact.
_LONG_DIGITS_RE = re.compile(rb"\d{19}")
URI_FIELDS = ("imageGcsUri", "textGcsUri")
CONTENT_FIELDS = ("imageGcsUri", "textGcsUri", "textContent")
#: A table row as an item: its columns by name (``table_items``).
TABLE_ROW_KEY = "tableRow"


class ManifestError(ValueError):
    """A manifest line cannot be read; the message names the file and line."""


def content_id(data: bytes | str) -> str:
    """Stable id of an item's content: the first 32 hex digits of its SHA-256."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# Field accessors


def item_id(record: dict) -> str:
    """The item's stable id; raises KeyError with a hint when the record has none."""
    try:
        return record["dataItemResourceLabels"][ID_KEY]
    except (KeyError, TypeError):
        raise KeyError(f"record has no dataItemResourceLabels.{ID_KEY}; run it through import_dataset first") from None


def with_id(record: dict, value: str) -> dict:
    """A copy of ``record`` carrying ``value`` as its id."""
    labels = dict(record.get("dataItemResourceLabels") or {})
    labels[ID_KEY] = value
    return {**record, "dataItemResourceLabels": labels}


def content_of(record: dict) -> tuple[str, Any]:
    """``(field, value)`` of the item's content: an image/text URI, inline text, or a table row's
    ``tableRow`` object (``table_items``)."""
    for field in CONTENT_FIELDS:
        value = record.get(field)
        if value is not None:
            return field, value
    if isinstance(record.get(TABLE_ROW_KEY), dict):
        return TABLE_ROW_KEY, record[TABLE_ROW_KEY]
    raise KeyError(f"record has none of {', '.join((*CONTENT_FIELDS, TABLE_ROW_KEY))}")


def labels_of(record: dict) -> list[str]:
    """Classification labels of an item: one for single-label, several for multi-label, or none."""
    single = record.get("classificationAnnotation")
    if single is not None:
        return [single["displayName"]]
    return [a["displayName"] for a in record.get("classificationAnnotations") or ()]


def label_of(record: dict) -> str | None:
    """The single classification label of an item, or None when it is unlabeled."""
    labels = labels_of(record)
    if len(labels) > 1:
        raise ValueError(f"item {record_name(record)} is multi-label ({labels}); use labels_of")
    return labels[0] if labels else None


def with_label(
    record: dict,
    label: str | list[str],
    *,
    source: str,
    confidence: float | None = None,
    model_version: str | None = None,
) -> dict:
    """A copy of ``record`` labeled ``label`` (a list makes it multi-label).

    ``source`` says where the label came from (``human``, ``machine``, ``import``, ``consensus``);
    it is stored as an annotation resource label so it survives an import into Vertex.
    """
    out = {k: v for k, v in record.items() if k not in ("classificationAnnotation", "classificationAnnotations")}
    resource = {SOURCE_KEY: source}
    if isinstance(label, str):
        out["classificationAnnotation"] = {"displayName": label, "annotationResourceLabels": resource}
    else:
        out["classificationAnnotations"] = [
            {"displayName": name, "annotationResourceLabels": dict(resource)} for name in label
        ]
    extra = dict(out.get("labelloop") or {})
    extra["label_source"] = source
    for key, value in (("label_confidence", confidence), ("model_version", model_version)):
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    out["labelloop"] = extra
    return out


def without_label(record: dict) -> dict:
    """A copy of ``record`` with its classification annotation(s) removed."""
    out = {k: v for k, v in record.items() if k not in ("classificationAnnotation", "classificationAnnotations")}
    if "labelloop" in out:
        out["labelloop"] = {
            k: v for k, v in out["labelloop"].items() if k not in ("label_source", "label_confidence", "model_version")
        }
    return out


def label_source_of(record: dict) -> str | None:
    """Where the item's label came from (``human``, ``machine``, …), or None."""
    return (record.get("labelloop") or {}).get("label_source")


def ml_use_of(record: dict) -> str | None:
    """The item's split (``training``/``validation``/``test``) or None."""
    return (record.get("dataItemResourceLabels") or {}).get(ML_USE_KEY)


def with_ml_use(record: dict, ml_use: str) -> dict:
    """A copy of ``record`` assigned to split ``ml_use``."""
    if ml_use not in ML_USES:
        raise ValueError(f"ml_use must be one of {ML_USES}, got {ml_use!r}")
    labels = dict(record.get("dataItemResourceLabels") or {})
    labels[ML_USE_KEY] = ml_use
    return {**record, "dataItemResourceLabels": labels}


def extra_of(record: dict) -> dict:
    """labelloop's own per-item facts (the top-level ``labelloop`` object)."""
    return record.get("labelloop") or {}


def with_extra(record: dict, **facts: Any) -> dict:
    """A copy of ``record`` with ``facts`` merged into its ``labelloop`` object."""
    return {**record, "labelloop": {**extra_of(record), **facts}}


def record_name(record: dict) -> str:
    """A short human name for error messages: the id, else the content URI or a text prefix."""
    labels = record.get("dataItemResourceLabels") or {}
    if ID_KEY in labels:
        return labels[ID_KEY]
    for field in CONTENT_FIELDS:
        if field in record:
            return repr(str(record[field])[:60])
    return "<record without content>"


# ---------------------------------------------------------------------------------------------
# Streaming I/O


@dataclass(frozen=True)
class Line:
    """One parsed manifest line with its 1-based line number."""

    number: int
    record: dict


def is_local(path: str) -> bool:
    """Whether ``path`` is a plain local path (or ``file://`` URL) rather than ``gs://`` and the like."""
    return "://" not in path or path.startswith("file://")


def local_path(path: str) -> str:
    """A local path or ``file://`` URL as a plain path, with ``~`` expanded."""
    return os.path.expanduser(path.removeprefix("file://"))


def open_file(path: str, mode: str = "rb") -> IO:
    """Open a local path or any fsspec URL (``gs://…``).

    Local paths skip fsspec, whose import costs a component about 0.2 s of start-up.
    """
    if is_local(path):
        return open(local_path(path), mode)
    import fsspec

    return fsspec.open(path, mode).open()


def read_lines(path: str) -> Iterator[Line]:
    """Stream a JSONL file as :class:`Line` objects; blank lines are skipped.

    Raises:
        ManifestError: on a line that is not a JSON object, naming the file and line number.
    """
    with open_file(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(BOM)
            if raw.strip():
                yield Line(number, parse_line(raw, path, number))


def parse_line(raw: bytes, path: str, number: int) -> dict:
    """One manifest line as a dict; a ManifestError names ``path`` and ``number`` otherwise."""
    try:
        record = loads(raw)
    except orjson.JSONDecodeError as err:
        raise ManifestError(f"{path}:{number}: not valid JSON ({err}); fix or remove the line") from None
    if not isinstance(record, dict):
        raise ManifestError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    return record


def read_jsonl(path: str) -> Iterator[dict]:
    """Stream the records of a JSONL file."""
    return (line.record for line in read_lines(path))


def loads(raw: bytes | str) -> Any:
    """One JSON value, with integers beyond 64 bits kept exact (orjson would make them floats).

    Raises:
        orjson.JSONDecodeError: when ``raw`` is not valid JSON (a subclass of ``ValueError``).
    """
    value = orjson.loads(raw)
    data = raw.encode() if isinstance(raw, str) else raw
    if _LONG_DIGITS_RE.search(data):
        return json.loads(data)  # orjson accepted it, so it holds no NaN and is not too deep
    return value


def dumps(record: dict) -> bytes:
    """One JSONL line (with its newline); integers beyond 64 bits are written digit for digit."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as err:  # orjson: an integer beyond 64 bits, or nesting deeper than 255 levels
        if "64-bit" not in str(err) and "Recursion" not in str(err):
            raise
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_plain)
        return text.encode() + b"\n"


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain Python values, for the standard library's JSON writer."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@contextmanager
def atomic_writer(path: str) -> Iterator[IO]:
    """Write a file so readers never see it half-written.

    Local files are written beside the target and renamed into place; object stores (``gs://``)
    publish an object only when its upload completes, so they are written directly.
    """
    if is_local(path):
        local = local_path(path)
        os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
        tmp = f"{local}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            with open(tmp, "wb") as handle:
                yield handle
            os.replace(tmp, local)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        import fsspec

        with fsspec.open(path, "wb") as handle:
            yield handle


def write_jsonl(path: str, records: Iterable[dict]) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    count = 0
    with atomic_writer(path) as handle:
        for record in records:
            handle.write(dumps(record))
            count += 1
    return count


class RejectsWriter:
    """Collects rejected items into a rejects manifest, one JSON object per rejected item.

    Each line is ``{"step", "line", "id", "reason_code", "reason", "record"}`` so nothing an input
    held is lost. Use as a context manager; the file is written atomically on exit.
    """

    def __init__(self, path: str, step: str):
        self.path = path
        self.step = step
        self.counts: dict[str, int] = {}
        self._context = None
        self._handle: IO | None = None

    def __enter__(self) -> RejectsWriter:
        self._context = atomic_writer(self.path)
        self._handle = self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def reject(self, record: Any, reason_code: str, reason: str, *, line: int | None = None) -> None:
        """Record one rejected item with a machine-readable code and a sentence a person can act on."""
        labels = record.get("dataItemResourceLabels") if isinstance(record, dict) else None
        rid = labels.get(ID_KEY) if isinstance(labels, dict) else None
        entry = {
            "step": self.step,
            "line": line,
            "id": rid,
            "reason_code": reason_code,
            "reason": reason,
            "record": record,
        }
        self._handle.write(dumps(entry))
        self.counts[reason_code] = self.counts.get(reason_code, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_by(records: Iterable[dict], key) -> dict[str, int]:
    """Count records by ``key(record)`` (e.g. ``label_of`` or ``ml_use_of``); None counts as ``"(none)"``."""
    counts: dict[str, int] = {}
    for record in records:
        value = key(record)
        name = "(none)" if value is None else str(value)
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))
