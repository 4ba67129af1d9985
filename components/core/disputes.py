"""Disputed evaluation labels: validation and test items whose human label the model contradicts.

The validation and test labels certify everything else (the gate's test accuracy, the machine
labels' thresholds and their check), so a wrong one costs more than a wrong training label. A
crowd's errors are correlated (labelers confuse the same classes: two of them saying 6 for a 3
settle an item at a consensus posterior of 0.9999), and no further vote from the same crowd fixes
that. The final model is an independent witness: where its prediction for an item it did not train
on is another class, at ``min_confidence`` or more, the item is *disputed* and goes to reviewers
(``labelloop.disputeReview`` in the job spec), whose label then replaces the crowd's.

Validation items are judged by the trainer's held-out (out-of-fold) predictions, test items by the
final model, which never trained on them. Measured on the demo (``README.md``): of the disputes at
confidence 0.5 or more, 12 of 15 were wrong human labels. Only disputed labels are reviewed, so a
wrong label the model agrees with stays and still counts in the model's favour; reviewers who
side with the crowd leave the label as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from . import manifest

#: The splits whose labels are reviewed when disputed: the ones that evaluate the model and its machine labels.
EVALUATION_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class Dispute:
    """One evaluation item whose human label the model contradicts."""

    item_id: str
    split: str
    given_label: str
    suggested_label: str
    confidence: float


@dataclass(frozen=True)
class DisputeSummary:
    """What :func:`write_disputes` checked and sent for review.

    Attributes:
        checked: evaluation items with a human label and a prediction that can judge them.
        unjudged: evaluation items with a human label but no usable prediction (validation items
            without a held-out one, when the model has held-out predictions).
        disputes: every dispute found, most confident first.
        sent: how many of them were written for review (``max_items`` caps it).
    """

    checked: int
    unjudged: int
    disputes: tuple[Dispute, ...]
    sent: int

    def metrics(self) -> dict[str, float]:
        by_split = {split: sum(d.split == split for d in self.disputes) for split in EVALUATION_SPLITS}
        return {
            "evaluation_items_checked": self.checked,
            "evaluation_items_unjudged": self.unjudged,
            "disputed_items": len(self.disputes),
            **{f"disputed_{split}_items": count for split, count in by_split.items()},
            "sent_for_review": self.sent,
        }


def find_disputes(
    records: Iterable[dict],
    predictions_by_id: dict[str, np.ndarray],
    classes: Sequence[str],
    *,
    min_confidence: float,
    heldout_by_id: dict[str, np.ndarray] | None = None,
) -> tuple[list[tuple[Dispute, dict]], int, int]:
    """The disputed evaluation items with their records (most confident first), and the counts of
    items checked and left unjudged.

    A validation item is judged by its held-out prediction when ``heldout_by_id`` is given (the final
    model trained on it), else by ``predictions_by_id``; a test item always by ``predictions_by_id``.
    Machine labels and unlabeled items are skipped.
    """
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    found, checked, unjudged = [], 0, 0
    for record in records:
        split = manifest.ml_use_of(record)
        label = manifest.label_of(record)
        if split not in EVALUATION_SPLITS or label is None or manifest.label_source_of(record) == "machine":
            continue
        rid = manifest.item_id(record)
        source = heldout_by_id if split == "validation" and heldout_by_id is not None else predictions_by_id
        row = source.get(rid)
        if row is None:
            unjudged += 1
            continue
        checked += 1
        top = int(np.argmax(row))
        if classes[top] != label and float(row[top]) >= min_confidence:
            found.append((Dispute(rid, split, label, classes[top], float(row[top])), record))
    found.sort(key=lambda pair: -pair[0].confidence)
    return found, checked, unjudged


def write_disputes(
    records: Iterable[dict],
    out_path: str,
    predictions_by_id: dict[str, np.ndarray],
    classes: Sequence[str],
    *,
    min_confidence: float,
    max_items: int | None = None,
    heldout_by_id: dict[str, np.ndarray] | None = None,
) -> DisputeSummary:
    """Write the disputed items for a review job, most confident dispute first.

    Each is written with its label removed (reviewers label it afresh, unswayed by the old answer)
    and ``labelloop.{given_label, suggested_label, dispute_confidence, review_rank}`` set; merging the
    review's labels back replaces the old label and keeps it in ``labelloop.label_history``.
    """
    found, checked, unjudged = find_disputes(
        records, predictions_by_id, classes, min_confidence=min_confidence, heldout_by_id=heldout_by_id
    )
    chosen = found if max_items is None else found[:max_items]
    sent = manifest.write_jsonl(
        out_path,
        (
            manifest.with_extra(
                manifest.without_label(record),
                given_label=dispute.given_label,
                suggested_label=dispute.suggested_label,
                dispute_confidence=round(dispute.confidence, 6),
                review_rank=rank,
            )
            for rank, (dispute, record) in enumerate(chosen)
        ),
    )
    return DisputeSummary(checked, unjudged, tuple(d for d, _ in found), sent)


def disputes_from_manifests(
    items_path: str,
    predictions_path: str,
    out_path: str,
    *,
    min_confidence: float,
    max_items: int | None = None,
    heldout_by_id: dict[str, np.ndarray] | None = None,
) -> DisputeSummary:
    """:func:`write_disputes` for a labeled manifest and a predict step's output (which must carry
    class names: the disputes name the suggested class)."""
    from .sampling import read_class_probabilities

    by_id, classes = read_class_probabilities(predictions_path, needed_for="disputes")
    return write_disputes(
        manifest.read_jsonl(items_path),
        out_path,
        by_id,
        classes,
        min_confidence=min_confidence,
        max_items=max_items,
        heldout_by_id=heldout_by_id,
    )
