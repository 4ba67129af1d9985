"""Append-only store of paid-for annotations and the labeling spend ledger.

Labels cost money, so every delivered annotation is written here before anything else can fail,
and a re-run reads them back instead of buying them again. The store is a folder (local or
``gs://``) that outlives pipeline runs:

    <store>/annotations/part-<time>-<random>.jsonl   one line per annotation, never rewritten
    <store>/ledger/part-<time>-<random>.jsonl        one line per labeling round: what it asked for
    <store>/state/<name>.json                        small backend facts (e.g. the Label Studio project)

Appending writes a new part file atomically (local: rename; GCS: an object appears only when its
upload completes), so a crash leaves either a whole part or none. Annotations are keyed by
``(item_id, labeler_id)``: the first stored wins and later duplicates are never written.

Spend is journaled with the annotations themselves: each stored annotation carries its cost, run
and round, in the same atomic part that stores it. A round's ledger entry (:meth:`load_ledger`)
takes what the round *asked for* from its ledger line and what it *delivered and cost* from the
annotations stored for it, so a kill between storing a round's annotations and writing its ledger
line (or in the middle of either) can never leave spend unrecorded or counted twice: the ledger's
total is always the cost of the stored annotations, to the nano-dollar.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import fsspec

from . import manifest


class AnnotationStoreError(ValueError):
    """The store holds something it cannot read; the message names the file and line."""


@dataclass(frozen=True)
class StoredAnnotation:
    """One labeler's answer for one item, with what it cost and where it came from.

    ``value`` is a label (single-label), a list of labels (multi-label), or a list of box/span
    dicts (``{"displayName", "xMin", "yMin", "xMax", "yMax"}`` / ``{"displayName", "startOffset", "endOffset"}``).
    """

    item_id: str
    labeler_id: str
    value: Any
    cost_usd: float
    round: int
    run_id: str
    backend: str
    backend_ref: str | None = None
    created_at: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.item_id, self.labeler_id)


@dataclass(frozen=True)
class LedgerEntry:
    """What one labeling round asked for, got and paid."""

    run_id: str
    round: int
    labels_requested: int
    labels_delivered: int
    cost_usd: float
    items_requested: int
    created_at: str


ANNOTATION_FIELDS = tuple(StoredAnnotation.__dataclass_fields__)
LEDGER_FIELDS = tuple(LedgerEntry.__dataclass_fields__)


def utc_now() -> str:
    """The current time as an RFC 3339 UTC timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


#: Folder below a job's store that holds its dispute review's annotations and ledger (their own
#: store: the review's reviewers answer items the crowd already answered, and must not be mistaken
#: for more of the crowd's votes).
REVIEW_FOLDER = "review"


def review_store_uri(uri: str) -> str:
    """The dispute review's store for the labeling job whose store is ``uri``."""
    return f"{uri.rstrip('/')}/{REVIEW_FOLDER}"


class AnnotationStore:
    """The append-only annotations, ledger and backend state under one folder or ``gs://`` prefix."""

    def __init__(self, uri: str):
        if not uri:
            raise AnnotationStoreError(
                "annotation_store_uri is empty; give a persistent folder or gs:// prefix that outlives the run"
            )
        self.uri = uri.rstrip("/")
        self._fs, self._root = fsspec.core.url_to_fs(self.uri)

    # -- annotations ---------------------------------------------------------------------------

    def load_annotations(self) -> tuple[StoredAnnotation, ...]:
        """Every stored annotation, oldest part first, one per ``(item_id, labeler_id)``."""
        seen: dict[tuple[str, str], StoredAnnotation] = {}
        for path in self._parts("annotations"):
            for line in manifest.read_lines(path):
                annotation = _annotation_from(line.record, f"{path}:{line.number}")
                seen.setdefault(annotation.key, annotation)
        return tuple(seen.values())

    def append_annotations(self, annotations: Iterable[StoredAnnotation]) -> tuple[StoredAnnotation, ...]:
        """Persist the annotations not stored yet; returns those that were new."""
        known = {a.key for a in self.load_annotations()}
        new: list[StoredAnnotation] = []
        for annotation in annotations:
            if annotation.key not in known:
                known.add(annotation.key)
                new.append(annotation)
        if new:
            self._write_part("annotations", (asdict(a) for a in new))
        return tuple(new)

    def spent_usd(self) -> float:
        """Total cost of every stored annotation (the ledger's total, see :meth:`load_ledger`)."""
        return _usd(sum(_nano_usd(a.cost_usd) for a in self.load_annotations()))

    # -- ledger --------------------------------------------------------------------------------

    def append_ledger(self, entry: LedgerEntry) -> None:
        """Record what a round asked for; its delivered count and cost are read from the stored annotations."""
        self._write_part("ledger", [asdict(entry)])

    def load_ledger(self) -> tuple[LedgerEntry, ...]:
        """One entry per ``(run_id, round)`` that asked for labels or stored any.

        ``labels_delivered`` and ``cost_usd`` count the annotations stored for the round (the spend
        journal); ``labels_requested`` / ``items_requested`` come from the round's ledger lines, or,
        for a round killed before its line was written, from what it delivered.
        """
        asked: dict[tuple[str, int], list[LedgerEntry]] = {}
        for path in self._parts("ledger"):
            for line in manifest.read_lines(path):
                entry = _ledger_from(line.record, f"{path}:{line.number}")
                asked.setdefault((entry.run_id, entry.round), []).append(entry)
        paid: dict[tuple[str, int], list[StoredAnnotation]] = {}
        for annotation in self.load_annotations():
            paid.setdefault((annotation.run_id, annotation.round), []).append(annotation)
        entries = [_round_entry(key, asked.get(key, []), paid.get(key, [])) for key in {**asked, **paid}]
        return tuple(sorted(entries, key=lambda e: (e.created_at, e.run_id, e.round)))

    # -- backend state -------------------------------------------------------------------------

    def read_state(self, name: str) -> dict[str, Any] | None:
        path = self._path("state", f"{name}.json")
        if not self._fs.exists(path):
            return None
        with manifest.open_file(self._url(path), "rb") as handle:
            try:
                return json.loads(handle.read())
            except json.JSONDecodeError as err:
                raise AnnotationStoreError(
                    f"{self._url(path)}: not valid JSON ({err}); delete it to start over"
                ) from None

    def write_state(self, name: str, state: dict[str, Any]) -> None:
        with manifest.atomic_writer(self._url(self._path("state", f"{name}.json"))) as handle:
            handle.write(json.dumps(state, sort_keys=True).encode())

    # -- files ---------------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return "/".join((self._root.rstrip("/"), *parts))

    def _url(self, path: str) -> str:
        protocol = self._fs.protocol[0] if isinstance(self._fs.protocol, tuple) else self._fs.protocol
        return path if protocol in ("file", "local") else f"{protocol}://{path}"

    def _parts(self, folder: str) -> list[str]:
        pattern = self._path(folder, "part-*.jsonl")
        return [self._url(p) for p in sorted(self._fs.glob(pattern))]

    def _write_part(self, folder: str, records: Iterable[dict]) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"part-{stamp}-{time.time_ns() % 10**9:09d}-{uuid.uuid4().hex[:8]}.jsonl"
        manifest.write_jsonl(self._url(self._path(folder, name)), records)


def _nano_usd(cost: float) -> int:
    """A cost in whole nano-dollars: sums of these are exact, whatever their order."""
    return round(float(cost) * 1e9)


def _usd(nano: int) -> float:
    return nano / 1e9


def _round_entry(key: tuple[str, int], asked: list[LedgerEntry], paid: list[StoredAnnotation]) -> LedgerEntry:
    run_id, round_number = key
    stamps = [e.created_at for e in asked] or [a.created_at for a in paid]
    return LedgerEntry(
        run_id=run_id,
        round=round_number,
        labels_requested=sum(e.labels_requested for e in asked) if asked else len(paid),
        labels_delivered=len(paid),
        cost_usd=_usd(sum(_nano_usd(a.cost_usd) for a in paid)),
        items_requested=sum(e.items_requested for e in asked) if asked else len({a.item_id for a in paid}),
        created_at=min(stamps) if stamps else "",
    )


def _annotation_from(record: dict, where: str) -> StoredAnnotation:
    missing = [f for f in ("item_id", "labeler_id", "value", "cost_usd") if f not in record]
    if missing:
        raise AnnotationStoreError(f"{where}: annotation lacks {missing}; the store was edited by hand or is corrupt")
    return StoredAnnotation(**{k: record.get(k, _DEFAULTS.get(k)) for k in ANNOTATION_FIELDS})


def _ledger_from(record: dict, where: str) -> LedgerEntry:
    missing = [f for f in LEDGER_FIELDS if f not in record]
    if missing:
        raise AnnotationStoreError(f"{where}: ledger entry lacks {missing}; the store was edited by hand or is corrupt")
    return LedgerEntry(**{k: record[k] for k in LEDGER_FIELDS})


_DEFAULTS = {"round": 0, "run_id": "", "backend": "", "backend_ref": None, "created_at": ""}
