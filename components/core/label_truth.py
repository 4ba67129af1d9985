"""How right the labels are, where the true labels are known (simulated labeling).

Machine-label precision "measured on test" compares machine predictions with *human* test labels,
so it can be no better than those labels are. With a simulated crowd the answer key is known, and
this module says what a real run cannot: the share of human labels per split that are right, and
the precision of the machine labels against the truth. The run report shows both beside the
measured figures, so a low test precision can be told apart from a wrong model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import manifest


@dataclass(frozen=True)
class LabelTruth:
    """Labels checked against the truth: ``(right, checked)`` counts per split and for machine labels.

    Attributes:
        human: split (``training``, ``validation``, ``test``) -> (right, checked) of human labels.
        machine: (right, checked) of machine labels.
    """

    human: Mapping[str, tuple[int, int]]
    machine: tuple[int, int]

    def human_accuracy(self, split: str) -> float | None:
        right, checked = self.human.get(split, (0, 0))
        return right / checked if checked else None

    @property
    def machine_precision(self) -> float | None:
        right, checked = self.machine
        return right / checked if checked else None


def check_labels(records: Iterable[dict], truth: Mapping[str, str]) -> LabelTruth:
    """Count the labels of ``records`` (single-label) that equal ``truth[item id]``; items without truth are skipped."""
    human: dict[str, list[int]] = {}
    machine = [0, 0]
    for record in records:
        label, rid = manifest.label_of(record), manifest.item_id(record)
        if label is None or rid not in truth:
            continue
        right = int(label == truth[rid])
        if manifest.label_source_of(record) == "machine":
            machine[0] += right
            machine[1] += 1
        else:
            counts = human.setdefault(manifest.ml_use_of(record) or "(no split)", [0, 0])
            counts[0] += right
            counts[1] += 1
    return LabelTruth({k: (v[0], v[1]) for k, v in sorted(human.items())}, (machine[0], machine[1]))


def label_truth(dataset_path: str, ground_truth_uri: str) -> LabelTruth:
    """:func:`check_labels` of a dataset manifest against a ground-truth JSONL's single-label
    ``{"id", "label"}`` lines (multi-label ``"labels"`` lines are not checked)."""
    truth = {}
    for line in manifest.read_lines(ground_truth_uri):
        rid, label = line.record.get("id"), line.record.get("label")
        if isinstance(rid, str) and isinstance(label, str):
            truth[rid] = label
    return check_labels(manifest.read_jsonl(dataset_path), truth)
