"""Split a manifest into shards that separate machines can work on, deterministically by content id.

An item's shard is a hash of its ``labelloop_id`` modulo the shard count, so the same item lands in
the same shard on every run and byte-identical copies (which share a content id) always share one.
Items without an id go by line number (every step rejects them anyway). Each shard is a manifest in
the one item format (``shard-00003.jsonl``) beside a list of the source line number of each of its
items (``shard-00003.lines``), so a merge step can restore the source order exactly; ``index.json``
lists the shards and their sizes. The shard numbers are what ``dsl.ParallelFor`` fans out over.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from contextlib import ExitStack
from dataclasses import dataclass

from . import manifest

INDEX_FILE = "index.json"
#: Most shards one split may make: every shard is a task and a pair of open files while splitting.
MAX_SHARDS = 1000


@dataclass(frozen=True)
class ShardItem:
    """One item of a shard: its line number and position in the source manifest, and the record."""

    number: int
    position: int
    record: dict


@dataclass(frozen=True)
class ShardPlan:
    """How a manifest was split: the shard numbers and the items in each."""

    shard_numbers: list[int]
    counts: list[int]

    @property
    def items(self) -> int:
        return sum(self.counts)


def shard_count(items: int, *, shards: int = 0, shard_size: int = 0) -> int:
    """How many shards: ``shards`` when given, else enough for at most ``shard_size`` items each."""
    if (shards > 0) == (shard_size > 0):
        raise ValueError(f"give exactly one of shards ({shards}) and shard_size ({shard_size}) as a positive number")
    count = shards if shards > 0 else max(1, math.ceil(items / shard_size))
    if count > MAX_SHARDS:
        raise ValueError(
            f"{count} shards is more than {MAX_SHARDS}; raise shard_size or lower shards (each shard is one task)"
        )
    return count


def shard_of(item_id: str, shards: int) -> int:
    """The shard of an item id: stable across runs, machines and Python versions (no ``hash()``)."""
    digest = hashlib.sha256(item_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def shard_paths(folder: str, shard: int) -> tuple[str, str]:
    """The manifest and line-number files of one shard inside a shards folder."""
    stem = os.path.join(folder, f"shard-{shard:05d}")
    return f"{stem}.jsonl", f"{stem}.lines"


def _line_shard(record: dict, number: int, shards: int) -> int:
    labels = record.get("dataItemResourceLabels")
    item_id = labels.get(manifest.ID_KEY) if isinstance(labels, dict) else None
    if isinstance(item_id, str) and item_id:
        return shard_of(item_id, shards)
    return number % shards


def split_manifest(input_path: str, folder: str, *, shards: int = 0, shard_size: int = 0) -> ShardPlan:
    """Write ``input_path``'s items into shard manifests under ``folder``; every item goes to one shard.

    Args:
        input_path: JSONL manifest.
        folder: Local folder for the shard files (a KFP artifact's path).
        shards: Number of shards; or
        shard_size: Largest number of items per shard wanted (the count follows from the manifest).

    Returns:
        A :class:`ShardPlan`; ``index.json`` in ``folder`` holds the same.
    """
    items = sum(1 for _ in manifest.read_lines(input_path)) if shard_size > 0 else 0
    count = shard_count(items, shards=shards, shard_size=shard_size)
    os.makedirs(folder, exist_ok=True)
    counts = [0] * count
    with ExitStack() as stack:
        outputs = [
            (stack.enter_context(open(records, "wb")), stack.enter_context(open(lines, "w")))
            for records, lines in (shard_paths(folder, shard) for shard in range(count))
        ]
        for position, line in enumerate(manifest.read_lines(input_path)):
            shard = _line_shard(line.record, line.number, count)
            records, lines = outputs[shard]
            records.write(manifest.dumps(line.record))
            lines.write(f"{line.number}\t{position}\n")
            counts[shard] += 1
    plan = ShardPlan(list(range(count)), counts)
    with open(os.path.join(folder, INDEX_FILE), "w") as handle:
        json.dump({"shards": count, "items": plan.items, "counts": counts, "source": input_path}, handle)
    return plan


def read_shard(folder: str, shard: int) -> list[ShardItem]:
    """One shard's items with their SOURCE line numbers and positions, in the source's order."""
    records_path, lines_path = shard_paths(folder, shard)
    if not os.path.exists(records_path):
        raise FileNotFoundError(f"{records_path}: no shard {shard} in {folder}; was it written by shard_items?")
    with open(lines_path) as handle:
        numbers = [tuple(int(value) for value in text.split("\t")) for text in handle]
    records = [line.record for line in manifest.read_lines(records_path)]
    if len(records) != len(numbers):
        raise ValueError(
            f"{records_path} has {len(records)} items but {lines_path} {len(numbers)} line numbers; re-run shard_items"
        )
    return [ShardItem(number, position, record) for (number, position), record in zip(numbers, records)]
