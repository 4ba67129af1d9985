"""A simulated crowd: labelers with known accuracy and confusion, answering from hidden ground truth.

For demos, tests and benchmarks, so consensus and active learning can be measured honestly. The
ground truth lives in its own JSONL file (``{"id": ..., "label": ...}``, or ``"labels": [...]``
for multi-label items) that only the simulated labeler backend reads; manifests flowing through
the pipeline never carry it, so it cannot leak into training.

Each labeler is a row-stochastic confusion matrix ``P(says j | true class k)``:

* ``uniform``: accuracy ``a`` on every class, errors spread evenly over the other classes;
* ``class_dependent``: per-class accuracies that average ``a`` (some classes are harder for some
  labelers), errors concentrated on one confusable class per true class;
* spammers answer uniformly at random whatever the item.

Answers are deterministic in ``(seed, labeler, item)``, so a re-run or a different labeling
order gives the same labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import manifest

NOISE_MODELS = ("uniform", "class_dependent")


class GroundTruthError(ValueError):
    """The ground-truth file is unusable; the message names the file, line and item."""


@dataclass(frozen=True)
class CrowdConfig:
    """How to make a simulated crowd."""

    n_labelers: int = 5
    accuracy: float = 0.75
    noise: str = "class_dependent"
    n_spammers: int = 0
    confusion_concentration: float = 0.8  # share of a class's errors that go to its confusable class
    accuracy_spread: float = 0.2  # class_dependent: half-range of per-class accuracies around `accuracy`
    seed: int = 0

    def __post_init__(self):
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"noise must be one of {NOISE_MODELS}, got {self.noise!r}")
        if not 0.0 < self.accuracy <= 1.0:
            raise ValueError(f"accuracy must be in (0, 1], got {self.accuracy}")
        if self.n_labelers < 1 or not 0 <= self.n_spammers <= self.n_labelers:
            raise ValueError(
                f"need n_labelers ≥ 1 and 0 ≤ n_spammers ≤ n_labelers, got {self.n_labelers}, {self.n_spammers}"
            )

    @classmethod
    def from_dict(cls, raw: Mapping) -> CrowdConfig:
        """Build from JSON keys (``nLabelers``, ``accuracy``, ``noise``, ``nSpammers``, ``seed``, …)."""
        names = {
            "nLabelers": "n_labelers",
            "accuracy": "accuracy",
            "noise": "noise",
            "nSpammers": "n_spammers",
            "confusionConcentration": "confusion_concentration",
            "accuracySpread": "accuracy_spread",
            "seed": "seed",
        }
        unknown = set(raw) - set(names)
        if unknown:
            raise ValueError(f"unknown simulated crowd settings {sorted(unknown)}; known: {sorted(names)}")
        return cls(**{names[k]: v for k, v in raw.items()})


def crowd_config(settings: Mapping, *, reviewers: bool = False) -> CrowdConfig:
    """The crowd of a ``simulated_crowd`` JSON object, or with ``reviewers`` its ``reviewers`` entry:
    the second pool that reviews disputed labels (e.g. ``{"nLabelers": 1, "accuracy": 0.97, "seed": 8}``;
    another seed than the crowd's, or the reviewers would repeat the crowd's answers)."""
    if not isinstance(settings, Mapping):
        raise ValueError(f"simulated crowd settings must be a JSON object, got {settings!r}")
    crowd = {k: v for k, v in settings.items() if k != "reviewers"}
    if not reviewers:
        return CrowdConfig.from_dict(crowd)
    if not isinstance(settings.get("reviewers"), Mapping):
        raise ValueError(
            'a simulated dispute review needs the crowd settings\' "reviewers" object, '
            'e.g. {"reviewers": {"nLabelers": 1, "accuracy": 0.97, "seed": 8}}'
        )
    return CrowdConfig.from_dict(settings["reviewers"])


@dataclass(frozen=True)
class SimulatedLabeler:
    """One simulated labeler: ``confusion[k, j] = P(says class j | true class k)``."""

    labeler_id: str
    confusion: np.ndarray
    is_spammer: bool = False

    @property
    def accuracy(self) -> float:
        """Accuracy under a uniform class prior."""
        return float(np.mean(np.diag(self.confusion)))


def make_crowd(classes: Sequence[str], config: CrowdConfig) -> tuple[SimulatedLabeler, ...]:
    """The crowd's labelers (spammers last), reproducible from ``config.seed``."""
    k = len(classes)
    if k < 2:
        raise ValueError(f"a crowd needs at least two classes to confuse, got {list(classes)}")
    rng = np.random.default_rng(config.seed)
    confusable = _confusable_classes(k, rng)
    labelers = []
    for index in range(config.n_labelers):
        labeler_id = f"sim-{index:02d}"
        if index >= config.n_labelers - config.n_spammers:
            labelers.append(SimulatedLabeler(labeler_id, np.full((k, k), 1.0 / k), is_spammer=True))
        elif config.noise == "uniform":
            labelers.append(SimulatedLabeler(labeler_id, uniform_confusion(k, config.accuracy)))
        else:
            accuracies = _class_accuracies(k, config.accuracy, config.accuracy_spread, rng)
            matrix = class_dependent_confusion(accuracies, confusable, config.confusion_concentration)
            labelers.append(SimulatedLabeler(labeler_id, matrix))
    return tuple(labelers)


def uniform_confusion(k: int, accuracy: float) -> np.ndarray:
    """Accuracy on the diagonal, the rest spread evenly."""
    matrix = np.full((k, k), (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(matrix, accuracy)
    return matrix


def class_dependent_confusion(accuracies: np.ndarray, confusable: np.ndarray, concentration: float) -> np.ndarray:
    """Per-class accuracy on the diagonal; ``concentration`` of each row's error goes to its confusable class."""
    k = len(accuracies)
    matrix = np.zeros((k, k))
    for true in range(k):
        error = 1.0 - accuracies[true]
        others = [j for j in range(k) if j != true]
        spread = error * (1.0 - concentration) / max(1, len(others) - 1) if len(others) > 1 else 0.0
        for j in others:
            matrix[true, j] = spread
        matrix[true, confusable[true]] = error * concentration if len(others) > 1 else error
        matrix[true, true] = accuracies[true]
    return matrix / matrix.sum(axis=1, keepdims=True)


def _confusable_classes(k: int, rng: np.random.Generator) -> np.ndarray:
    """For each class, the other class it is mistaken for (a shared property of the data)."""
    order = rng.permutation(k)
    confusable = np.empty(k, dtype=int)
    for position, cls in enumerate(order):
        confusable[cls] = order[(position + 1) % k]
    return confusable


def _class_accuracies(k: int, mean: float, spread: float, rng: np.random.Generator) -> np.ndarray:
    """Per-class accuracies in ``[mean - spread, mean + spread]`` whose average is exactly ``mean``."""
    raw = rng.uniform(-1.0, 1.0, size=k)
    raw -= raw.mean()
    scale = spread / max(1e-12, np.max(np.abs(raw)))
    accuracies = mean + raw * scale
    if accuracies.max() > 1.0 or accuracies.min() < 1.0 / k:
        raise ValueError(f"accuracy {mean} ± {spread} leaves [1/k, 1]; lower accuracy_spread")
    return accuracies


# ---------------------------------------------------------------------------------------------
# Answers


def answer_single(labeler: SimulatedLabeler, true_class: int, item_id: str, seed: int) -> int:
    """The class the labeler gives an item whose true class index is ``true_class``."""
    u = _uniform(seed, labeler.labeler_id, item_id)
    cumulative = np.cumsum(labeler.confusion[true_class])
    return int(min(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1))


def answer_multi(
    labeler: SimulatedLabeler, true_labels: Sequence[str], classes: Sequence[str], item_id: str, seed: int
) -> list[str]:
    """Multi-label answer: each true label kept with the labeler's accuracy, each other label
    added with the labeler's per-class error rate spread over the other classes."""
    chosen = []
    for index, name in enumerate(classes):
        u = _uniform(seed, labeler.labeler_id, f"{item_id}\t{name}")
        keep_probability = labeler.confusion[index, index]
        false_probability = (1.0 - keep_probability) / max(1, len(classes) - 1)
        if (name in true_labels and u < keep_probability) or (name not in true_labels and u < false_probability):
            chosen.append(name)
    return chosen


def _uniform(seed: int, labeler_id: str, key: str) -> float:
    digest = hashlib.sha256(f"{seed}\t{labeler_id}\t{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assignment_order(labelers: Sequence[SimulatedLabeler], item_id: str, seed: int) -> list[SimulatedLabeler]:
    """The order in which the crowd's labelers pick up an item (distinct labelers per item)."""
    return sorted(labelers, key=lambda labeler: _uniform(seed, labeler.labeler_id, f"order\t{item_id}"))


# ---------------------------------------------------------------------------------------------
# Ground truth I/O


def read_ground_truth(path: str, classes: Sequence[str]) -> dict[str, str | list[str]]:
    """Read ``{"id", "label"}`` (or ``"labels"`` for multi-label) lines into ``{id: label(s)}``.

    Raises:
        GroundTruthError: naming file, line and item for a missing id or label, a label outside
            ``classes`` or an id given twice.
    """
    allowed = set(classes)
    truth: dict[str, str | list[str]] = {}
    for line in manifest.read_lines(path):
        where = f"{path}:{line.number}"
        record = line.record
        item_id = record.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise GroundTruthError(f'{where}: needs a string "id" (the item\'s labelloop_id)')
        value = record.get("label", record.get("labels"))
        names = value if isinstance(value, list) else [value]
        if value is None or not all(isinstance(n, str) for n in names):
            raise GroundTruthError(f'{where}: item {item_id} needs "label" (a string) or "labels" (a list of strings)')
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise GroundTruthError(
                f"{where}: item {item_id} has labels {unknown} outside the label set {list(classes)}"
            )
        if item_id in truth:
            raise GroundTruthError(f"{where}: item {item_id} appears twice; keep one line per item")
        truth[item_id] = value
    return truth


def write_ground_truth(path: str, truth: Mapping[str, str | list[str]]) -> int:
    """Write ground truth as JSONL (``label`` for a string, ``labels`` for a list)."""
    return manifest.write_jsonl(
        path,
        ({"id": k, ("labels" if isinstance(v, list) else "label"): v} for k, v in truth.items()),
    )
