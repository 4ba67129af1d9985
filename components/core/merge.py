"""Merging newly labeled items back into a dataset, keyed by item id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import manifest as mf


class MergeError(ValueError):
    """Updates that do not fit the base manifest."""


@dataclass(frozen=True)
class MergeResult:
    """How many base items were kept as they were, replaced by an update, or added."""

    kept: int
    replaced: int
    added: int

    @property
    def total(self) -> int:
        return self.kept + self.replaced + self.added


def merge_manifests(base: str, updates: Sequence[str], destination: str, *, allow_new: bool = False) -> MergeResult:
    """Write ``base`` with every record replaced by its newer version from ``updates`` (later wins).

    Updates are held in memory (they are the small side: a round's labels); the base streams.

    Raises:
        MergeError: when an update names an item the base lacks and ``allow_new`` is false.
    """
    newer: dict[str, dict] = {}
    for path in updates:
        for line in mf.read_lines(path):
            newer[mf.item_id(line.record)] = line.record
    seen: set[str] = set()

    def merged():
        for record in mf.read_jsonl(base):
            key = mf.item_id(record)
            seen.add(key)
            yield newer.get(key, record)
        unknown = [key for key in newer if key not in seen]
        if unknown and not allow_new:
            raise MergeError(
                f"{len(unknown)} updated item(s) are not in the base manifest {base} (first: {unknown[0]}); "
                "merge into the manifest they were selected from, or pass allow_new=True"
            )
        for key in unknown:
            yield newer[key]

    total = mf.write_jsonl(destination, merged())
    added = len(newer) - len(newer.keys() & seen)
    replaced = len(newer) - added
    return MergeResult(kept=total - replaced - added, replaced=replaced, added=added)
