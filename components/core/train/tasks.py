"""The task vocabulary: which tasks the trainer knows, what kind of features each reads, and
how targets are named and encoded (label indices, an indicator matrix, or values)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TASKS = (
    "image_classification",
    "image_multilabel",
    "text_classification",
    "tabular_classification",
    "tabular_regression",
)
TRAINING_USES = ("training", "validation")


class TrainingError(ValueError):
    """Training cannot proceed; the message says what was wrong with the data and what to do."""


def check_task(task: str) -> str:
    if task not in TASKS:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def feature_kind(task: str) -> str:
    return check_task(task).split("_", 1)[0]


def is_regression(task: str) -> bool:
    return task == "tabular_regression"


def is_multilabel(task: str) -> bool:
    return task == "image_multilabel"


def label_set(targets: Sequence, task: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Sorted label names seen in ``targets`` plus ``extra``."""
    names = set(extra)
    for target in targets:
        names.update(target if is_multilabel(task) else [target])
    return tuple(sorted(names))


def encode_targets(targets: Sequence, labels: Sequence[str], task: str) -> np.ndarray:
    """Targets as label indices, an indicator matrix (multi-label) or floats (regression)."""
    if is_regression(task):
        return np.asarray(targets, dtype=np.float64)
    index = {name: i for i, name in enumerate(labels)}
    if is_multilabel(task):
        matrix = np.zeros((len(targets), len(labels)), dtype=np.int64)
        for row, target in enumerate(targets):
            matrix[row, [index[name] for name in target]] = 1
        return matrix
    return np.asarray([index[t] for t in targets], dtype=np.int64)
