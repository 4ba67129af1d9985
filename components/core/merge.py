"""Merging newly labeled items back into a dataset, keyed by item id.

A newer label replaces the old one, and the old one is never lost: it is appended to the item's
``labelloop.label_history`` (label, source, confidence). An update that carries no label (an item a
labeling job could not finish: over budget, no answer yet) never erases a label the dataset already
has, and neither does a disputed one (``labelloop.needs_review``: the labelers disagreed) unless its
votes (``labelloop.human_votes``) beat the item's label counted as one more vote; a disputed label
that loses is kept beside the item's label as ``labelloop.disputed_label`` for a person to settle.
Unlabeled items merge as before: the update replaces the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import manifest as mf


class MergeError(ValueError):
    """Updates that do not fit the base manifest."""


@dataclass(frozen=True)
class MergeResult:
    """How many base items were kept as they were, replaced by an update, or added.

    Of the replaced ones, ``relabeled`` got a label different from the one they had, and
    ``labels_kept`` kept their label because the update had none or a disputed one (``disputed``).
    """

    kept: int
    replaced: int
    added: int
    relabeled: int = 0
    labels_kept: int = 0
    disputed: int = 0

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
    changes = {"relabeled": 0, "labels_kept": 0, "disputed": 0}

    def merged():
        for record in mf.read_jsonl(base):
            key = mf.item_id(record)
            seen.add(key)
            if key not in newer:
                yield record
                continue
            out = merged_record(record, newer[key])
            old, new = _label_value(record), _label_value(out)
            changes["relabeled"] += old is not None and new != old
            update = newer[key]
            disputed = old is not None and _label_value(update) is not None and _disputed(update, record)
            changes["labels_kept"] += old is not None and (_label_value(update) is None or disputed)
            changes["disputed"] += disputed
            yield out
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
    return MergeResult(kept=total - replaced - added, replaced=replaced, added=added, **changes)


#: The ``labelloop`` facts that belong to an item's current label.
LABEL_FACTS = ("label_source", "label_confidence", "model_version")
LABEL_FIELDS = ("classificationAnnotation", "classificationAnnotations")


def _label_value(record: dict) -> str | tuple[str, ...] | None:
    if "classificationAnnotations" in record:
        return tuple(mf.labels_of(record))
    labels = mf.labels_of(record)
    return labels[0] if labels else None


def _disputed(update: dict, base: dict) -> bool:
    """The update's label is disputed and does not outvote the base's label (which counts as one more vote)."""
    facts = mf.extra_of(update)
    if not facts.get("needs_review"):
        return False
    votes = facts.get("human_votes") or {}
    new, old = _label_value(update), _label_value(base)
    if new == old:  # the labelers' consensus is the label the item had
        return False
    if not isinstance(new, str) or not isinstance(old, str):
        return True
    return votes.get(new, 0) <= votes.get(old, 0) + 1


def _label_part(record: dict) -> tuple[dict, dict]:
    """The item's label annotations and the facts about them."""
    extra = mf.extra_of(record)
    return (
        {k: record[k] for k in LABEL_FIELDS if k in record},
        {k: extra[k] for k in LABEL_FACTS if k in extra},
    )


def history_entry(record: dict) -> dict:
    """The item's current label as a ``label_history`` entry: label, and source/confidence/model when known."""
    value = _label_value(record)
    facts = _label_part(record)[1]
    entry = {"label": list(value) if isinstance(value, tuple) else value}
    for fact, key in (
        ("label_source", "source"),
        ("label_confidence", "confidence"),
        ("model_version", "model_version"),
    ):
        if fact in facts:
            entry[key] = facts[fact]
    return entry


def merged_record(base: dict, update: dict) -> dict:
    """``update`` in place of ``base`` without losing a label.

    * update labeled, base labeled: the update's label wins; the base's label (unless it is the
      very same annotation) is appended to ``labelloop.label_history``, after the base's history.
    * update unlabeled, or disputed (``needs_review``) without more votes than the base's label plus
      one, base labeled: the base's label and its facts stay; the update's other facts join them, a
      disputed label as ``labelloop.disputed_label``.
    * base unlabeled: the update, as it is.
    """
    if _label_value(base) is None:
        return update
    history = list(mf.extra_of(base).get("label_history") or ())
    if _label_value(update) is None or _disputed(update, base):
        disputed = {"disputed_label": history_entry(update)} if _label_value(update) is not None else {}
        annotations, facts = _label_part(base)
        out = {k: v for k, v in update.items() if k not in LABEL_FIELDS}
        out.update(annotations)
        extra = {k: v for k, v in mf.extra_of(out).items() if k not in LABEL_FACTS}
        out["labelloop"] = {**extra, **facts, **disputed, **({"label_history": history} if history else {})}
        return out
    if _label_part(update) != _label_part(base):
        history.append(history_entry(base))
    return mf.with_extra(update, label_history=history) if history else update
