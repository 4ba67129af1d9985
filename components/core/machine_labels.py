"""Machine labels for the items humans did not label ("the rest will be labeled by machine").

A confidence threshold is chosen on the validation split: the smallest threshold at which the
*lower* confidence bound (Wilson score interval) of the precision of items at or above it reaches
the target. The lower bound keeps a small validation split from overclaiming: 20 of 20 correct is
a Wilson 95% lower bound of 0.84, not 1.0. Pool items at or above the threshold get the predicted
label, marked ``source=machine`` with the confidence and model version; the rest stay unlabeled.
The precision actually reached is then measured on the held-out test split, and when it falls
short of the target nothing is machine-labeled (:func:`confirmed_on_test`).

The predictions thresholds are chosen on must be held out from the model: a model refitted on
training + validation (as the local trainer's final model is) is right about nearly every
validation item, and thresholds chosen on those in-sample predictions accept its errors freely.
:func:`apply_to_manifests` therefore calibrates on the trainer's held-out predictions (fits on
the training split scored on validation, or out-of-fold) when the model comes with them.

Per-class thresholds (:func:`choose_class_thresholds`, what :func:`apply_to_manifests` uses): a
model is rarely equally sure of every class, so one global threshold either lets a hard class's
errors through or refuses an easy class's sure items. Each predicted class gets its own threshold,
the largest confidence prefix whose smoothed precision reaches a common level; the level is the
lowest whose *overall* accepted validation precision has a one-sided Clopper–Pearson (exact) lower
bound at or above the target. Coverage is reported beside it (SageMaker Ground Truth's automated
labeling works the same way: a threshold on validation items, then the confident rest by machine).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from . import manifest
from .labeling_job import DEFAULT_DISPUTE_CONFIDENCE

_Z = {0.90: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}


def wilson_lower_bound(correct: np.ndarray | int, total: np.ndarray | int, confidence_level: float = 0.95):
    """Lower end of the Wilson score interval for a proportion (vectorised; 0 where total is 0)."""
    if confidence_level not in _Z:
        raise ValueError(f"confidence_level must be one of {sorted(_Z)}, got {confidence_level!r}")
    z = _Z[confidence_level]
    correct = np.asarray(correct, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = correct / total
        centre = p + z * z / (2 * total)
        spread = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
        bound = (centre - spread) / (1 + z * z / total)
    return np.where(total > 0, bound, 0.0)


def clopper_pearson_lower_bound(correct, total, confidence_level: float = 0.95):
    """One-sided exact (Clopper–Pearson) lower bound of a proportion (vectorised; 0 where nothing is correct)."""
    from scipy.stats import beta

    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
    correct = np.asarray(correct, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = beta.ppf(1 - confidence_level, correct, total - correct + 1)
    return np.where((total > 0) & (correct > 0), np.nan_to_num(bound), 0.0)


@dataclass(frozen=True)
class ThresholdChoice:
    """The confidence threshold for machine labels and what validation says about it.

    Attributes:
        threshold: minimum predicted confidence for a machine label; ``inf`` when no threshold
            reaches the target (then nothing is machine-labeled).
        target_precision: the precision asked for.
        validation_precision: observed precision of validation items at or above the threshold.
        precision_lower_bound: its Wilson lower bound (>= target when a threshold was found).
        validation_accepted: validation items at or above the threshold.
        validation_items: validation items considered.
        reason: a sentence on the outcome.
    """

    threshold: float
    target_precision: float
    validation_precision: float
    precision_lower_bound: float
    validation_accepted: int
    validation_items: int
    reason: str

    @property
    def found(self) -> bool:
        return math.isfinite(self.threshold)


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, *, target_precision: float = 0.98, confidence_level: float = 0.95
) -> ThresholdChoice:
    """The smallest confidence threshold whose validation precision lower bound reaches the target.

    Args:
        confidence: predicted top-1 probability of each validation item.
        correct: whether the top-1 prediction equals the human label.
        target_precision: precision the machine labels must reach, in (0, 1).
        confidence_level: of the Wilson bound (0.90, 0.95 or 0.99).
    """
    if not 0 < target_precision < 1:
        raise ValueError(f"target_precision must be in (0, 1), got {target_precision!r}")
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape or confidence.ndim != 1:
        raise ValueError(f"confidence {confidence.shape} and correct {correct.shape} must be equal-length vectors")
    n = len(confidence)
    if n == 0:
        return ThresholdChoice(math.inf, target_precision, 0.0, 0.0, 0, 0, "no validation items with human labels")
    order = np.argsort(-confidence, kind="stable")
    sorted_conf = confidence[order]
    hits = np.cumsum(correct[order])
    counts = np.arange(1, n + 1)
    # a threshold can only sit at the last of a run of equal confidences
    ends = np.r_[sorted_conf[1:] != sorted_conf[:-1], True]
    bounds = wilson_lower_bound(hits, counts, confidence_level)
    ok = np.flatnonzero(ends & (bounds >= target_precision))
    if not len(ok):
        best = int(np.argmax(np.where(ends, bounds, -1)))
        return ThresholdChoice(
            math.inf,
            target_precision,
            float(hits[best] / counts[best]),
            float(bounds[best]),
            0,
            n,
            f"no threshold reaches a precision lower bound of {target_precision} on {n} validation items "
            f"(best {bounds[best]:.4f}); label more validation items or lower the target",
        )
    i = int(ok[-1])  # the most items accepted = the smallest threshold
    return ThresholdChoice(
        float(sorted_conf[i]),
        target_precision,
        float(hits[i] / counts[i]),
        float(bounds[i]),
        int(counts[i]),
        n,
        f"{counts[i]} of {n} validation items at confidence >= "
        f"{sorted_conf[i]:.4f}, precision {hits[i] / counts[i]:.4f} "
        f"(lower bound {bounds[i]:.4f} >= {target_precision})",
    )


@dataclass(frozen=True)
class PrecisionCheck:
    """Precision of machine labels measured on held-out human labels (the test split)."""

    accepted: int
    items: int
    precision: float
    lower_bound: float

    @property
    def coverage(self) -> float:
        return self.accepted / self.items if self.items else 0.0


def measure_precision(
    confidence: np.ndarray, correct: np.ndarray, threshold: float, *, confidence_level: float = 0.95
) -> PrecisionCheck:
    """Precision (and its Wilson lower bound) of items at or above ``threshold`` on held-out labels."""
    confidence = np.asarray(confidence, dtype=np.float64)
    accepted = confidence >= threshold
    count = int(accepted.sum())
    hits = int(np.asarray(correct, dtype=bool)[accepted].sum())
    precision = hits / count if count else 0.0
    return PrecisionCheck(count, len(confidence), precision, float(wilson_lower_bound(hits, count, confidence_level)))


@dataclass(frozen=True)
class ClassThresholds:
    """Per-class confidence thresholds for machine labels and what validation says about them.

    Attributes:
        thresholds: predicted class -> minimum confidence (``inf``: never machine-labeled).
        target_precision: the precision asked for.
        validation_precision: observed precision of the validation items the thresholds accept.
        precision_lower_bound: its one-sided Clopper–Pearson lower bound (>= target when found).
        validation_accepted: validation items accepted.
        validation_items: validation items considered.
        reason: a sentence on the outcome.
    """

    thresholds: dict
    target_precision: float
    validation_precision: float
    precision_lower_bound: float
    validation_accepted: int
    validation_items: int
    reason: str

    @property
    def threshold(self) -> float:
        """The lowest class threshold (``inf`` when no class is machine-labeled), for one-number reports."""
        return min(self.thresholds.values(), default=math.inf)

    @property
    def found(self) -> bool:
        return math.isfinite(self.threshold)

    @property
    def validation_coverage(self) -> float:
        return self.validation_accepted / self.validation_items if self.validation_items else 0.0

    def threshold_of(self, label: str) -> float:
        return self.thresholds.get(label, math.inf)


def _class_prefixes(confidence: np.ndarray, correct: np.ndarray):
    """Per class: confidences sorted high to low, cumulative hits and counts at each run end."""
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    counts = np.arange(1, len(conf) + 1)
    ends = np.r_[conf[1:] != conf[:-1], True] if len(conf) else np.zeros(0, bool)
    return conf[ends], hits[ends], counts[ends]


#: Fewest validation items accepted in a class for that class to be machine-labeled at all.
MIN_CLASS_ITEMS = 10


def choose_class_thresholds(
    confidence: np.ndarray,
    predicted: Sequence[str],
    correct: np.ndarray,
    *,
    target_precision: float = 0.98,
    confidence_level: float = 0.95,
    levels: int = 251,
    min_class_items: int = MIN_CLASS_ITEMS,
) -> ClassThresholds:
    """Per-class thresholds whose accepted validation items reach ``target_precision`` with a lower bound.

    For a level ``l``, class ``c``'s threshold is the lowest confidence whose prefix (items predicted
    ``c`` at or above it) has smoothed precision ``hits / (count + 1)`` >= ``l`` (the +1 keeps a tiny
    perfect prefix from counting as certain). Of ``levels`` levels from 0.5 to 1, the one accepting
    the most validation items whose *overall* one-sided Clopper–Pearson bound reaches the target
    wins: the guarantee is on all machine labels together, a class's own level may sit below it. (Choosing among
    levels on the same items makes the bound slightly optimistic; the
    test split measures the precision independently.) A class gets a threshold only where at least
    ``min_class_items`` validation items back it: the pool's class mix differs from validation's,
    and a class judged on three items could carry many of the pool's machine labels.
    """
    if not 0 < target_precision < 1:
        raise ValueError(f"target_precision must be in (0, 1), got {target_precision!r}")
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    predicted = np.asarray(predicted, dtype=object)
    if not (confidence.shape == correct.shape == predicted.shape) or confidence.ndim != 1:
        raise ValueError("confidence, predicted and correct must be equal-length vectors")
    n = len(confidence)
    names = sorted(set(predicted.tolist()))
    prefixes = {c: _class_prefixes(confidence[predicted == c], correct[predicted == c]) for c in names}
    best = None
    for level in np.linspace(0.5, 1.0, levels):
        chosen, hits, count = {}, 0, 0
        for c, (conf, h, k) in prefixes.items():
            ok = np.flatnonzero((h / (k + 1.0) >= level) & (k >= min_class_items))
            if len(ok):
                j = int(ok[-1])
                chosen[c], hits, count = float(conf[j]), hits + int(h[j]), count + int(k[j])
        bound = float(clopper_pearson_lower_bound(hits, count, confidence_level))
        if count and bound >= target_precision and (best is None or count > best[2]):
            best = (chosen, hits, count, bound)
    if best is None:
        return ClassThresholds(
            {},
            target_precision,
            0.0,
            0.0,
            0,
            n,
            f"no per-class thresholds reach a precision lower bound of {target_precision} on {n} validation "
            f"items ({_shortfall(confidence, correct, target_precision, confidence_level)}); label more "
            "validation items, verify the disputed ones, improve the model or lower the target",
        )
    chosen, hits, count, bound = best
    return ClassThresholds(
        {c: chosen.get(c, math.inf) for c in names},
        target_precision,
        hits / count,
        bound,
        count,
        n,
        f"{count} of {n} validation items accepted by per-class thresholds, precision {hits / count:.4f} "
        f"(one-sided {confidence_level:.0%} Clopper-Pearson lower bound {bound:.4f} >= {target_precision})",
    )


def error_free_items_needed(target_precision: float, confidence_level: float = 0.95) -> int:
    """Fewest accepted items, all correct, whose one-sided Clopper–Pearson bound reaches the target.

    With ``n`` of ``n`` correct the bound is ``(1 - confidence_level) ** (1 / n)``: 149 items for
    0.98 at 95 %; each wrong one among them costs roughly another 90.
    """
    return math.ceil(math.log(1 - confidence_level) / math.log(target_precision))


def _shortfall(confidence: np.ndarray, correct: np.ndarray, target_precision: float, confidence_level: float) -> str:
    """Why no thresholds pass, in numbers a user can act on: the error-free items the bound needs and
    the validation items whose human label the model disputes (a wrong human label counts as a
    machine error here; in labelloop's demo most confident disagreements are wrong human labels)."""
    needed = error_free_items_needed(target_precision, confidence_level)
    disputed = ~correct
    sure = int(np.count_nonzero(disputed & (confidence >= DEFAULT_DISPUTE_CONFIDENCE)))
    return (
        f"a bound of {target_precision} needs at least {needed} accepted items and no error among them; the "
        f"model disputes {int(disputed.sum())} human labels, {sure} at confidence >= {DEFAULT_DISPUTE_CONFIDENCE}"
    )


def accepted_by(confidence: np.ndarray, predicted: Sequence[str], choice) -> np.ndarray:
    """Which items a threshold choice (global :class:`ThresholdChoice` or :class:`ClassThresholds`) accepts."""
    confidence = np.asarray(confidence, dtype=np.float64)
    if isinstance(choice, ClassThresholds):
        limits = np.asarray([choice.threshold_of(str(c)) for c in predicted], dtype=np.float64)
        return confidence >= limits
    return confidence >= choice.threshold


def measure_precision_of(
    confidence: np.ndarray, predicted: Sequence[str], correct: np.ndarray, choice, *, confidence_level: float = 0.95
) -> PrecisionCheck:
    """Precision, Wilson lower bound and coverage of what ``choice`` accepts among held-out labeled items."""
    accepted = accepted_by(confidence, predicted, choice)
    count = int(accepted.sum())
    hits = int(np.asarray(correct, dtype=bool)[accepted].sum())
    return PrecisionCheck(
        count, len(accepted), hits / count if count else 0.0, float(wilson_lower_bound(hits, count, confidence_level))
    )


# ---------------------------------------------------------------------------------------------
# Applying to manifests


def confirmed_on_test(choice, check: PrecisionCheck):
    """``choice`` when the test split agrees with it, else the same choice accepting nothing.

    The thresholds are chosen on held-out predictions of fits that saw less data than the model
    that labels the pool, whose confidences run higher; the test split, scored by that model and
    never trained on, is the independent check. When the precision it measures above the
    thresholds falls short of the target, no item is machine-labeled and the reason says so.
    """
    if not choice.found or not check.accepted or check.precision >= choice.target_precision:
        return choice
    reason = (
        f"{choice.reason}; not applied: on the test split the model's precision above these thresholds is "
        f"{check.precision:.4f} ({check.accepted} items), below the target {choice.target_precision}"
    )
    if isinstance(choice, ClassThresholds):
        return dataclasses.replace(choice, thresholds={c: math.inf for c in choice.thresholds}, reason=reason)
    return dataclasses.replace(choice, threshold=math.inf, reason=reason)


@dataclass(frozen=True)
class HeldOut:
    """Top-1 confidence and correctness of the human-labeled items of one split."""

    confidence: np.ndarray
    correct: np.ndarray
    predicted: tuple[str, ...] = ()


def held_out_scores(
    records: Iterable[dict],
    split: str,
    probabilities_by_id: dict[str, np.ndarray],
    classes: Sequence[str],
    *,
    every_item: bool = True,
) -> HeldOut:
    """Confidence/correctness of the human-labeled ``split`` items that have predictions.

    Raises:
        KeyError: with ``every_item``, when a labeled item of the split has no prediction (naming it);
            without, such items are left out.
    """
    confidence, correct, predicted = [], [], []
    for record in records:
        if manifest.ml_use_of(record) != split:
            continue
        label = manifest.label_of(record)
        if label is None or manifest.label_source_of(record) == "machine":
            continue
        rid = manifest.item_id(record)
        if rid not in probabilities_by_id:
            if not every_item:
                continue
            raise KeyError(f"{split} item {rid} has no prediction; run predict over the {split} split too")
        row = probabilities_by_id[rid]
        top = int(np.argmax(row))
        confidence.append(float(row[top]))
        correct.append(classes[top] == label)
        predicted.append(classes[top])
    return HeldOut(np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=bool), tuple(predicted))


def calibration_scores(
    records: Iterable[dict], heldout_by_id: dict[str, np.ndarray], classes: Sequence[str]
) -> HeldOut:
    """Confidence/correctness of the human-labeled validation items that have a held-out prediction.

    ``heldout_by_id`` holds predictions from fits that did not see those items (the trainer's
    validation-split or out-of-fold predictions); items without one are not used. Training items
    are left out even when they have out-of-fold predictions: active learning picked them because
    they are hard (for labelers too), so they are neither a sample of the rest nor reliably labeled;
    the validation split is a random sample.
    """
    return held_out_scores(records, "validation", heldout_by_id, classes, every_item=False)


def machine_label(
    records: Iterable[dict],
    probabilities_by_id: dict[str, np.ndarray],
    classes: Sequence[str],
    *,
    threshold: float | ClassThresholds,
    model_version: str,
) -> Iterator[tuple[bool, dict]]:
    """Yield ``(machine_labeled, record)`` for each unlabeled pool record, in input order.

    Records at or above ``threshold`` (one number, or per predicted class) come back labeled with
    ``source=machine``, their confidence
    and ``model_version``; the rest come back untouched (still for humans).

    Raises:
        KeyError: when a pool record has no prediction (naming it).
        ValueError: when a pool record already carries a label.
    """
    for number, record in enumerate(records, start=1):
        rid = manifest.item_id(record)
        if manifest.labels_of(record):
            raise ValueError(f"pool item {rid} (record {number}) already has a label; pass only unlabeled items")
        if rid not in probabilities_by_id:
            raise KeyError(f"pool item {rid} (record {number}) has no prediction; run predict over the whole pool")
        row = probabilities_by_id[rid]
        top = int(np.argmax(row))
        limit = threshold.threshold_of(classes[top]) if isinstance(threshold, ClassThresholds) else threshold
        if row[top] >= limit:
            yield (
                True,
                manifest.with_label(
                    record,
                    classes[top],
                    source="machine",
                    confidence=round(float(row[top]), 6),
                    model_version=model_version,
                ),
            )
        else:
            yield False, record


@dataclass(frozen=True)
class MachineLabelSummary:
    """What :func:`apply_to_manifests` decided and measured."""

    choice: ThresholdChoice | ClassThresholds
    test: PrecisionCheck
    machine_labeled: int
    still_unlabeled: int
    calibration: str = ""  # which predictions the thresholds were chosen on


def apply_to_manifests(
    pool_path: str,
    labeled_path: str,
    predictions_path: str,
    machine_labeled_path: str,
    unlabeled_path: str,
    *,
    target_precision: float,
    confidence_level: float,
    model_version: str,
    per_class: bool = True,
    heldout_by_id: dict[str, np.ndarray] | None = None,
    heldout_fitted_on: str = "",
) -> MachineLabelSummary:
    """Choose the threshold(s) on held-out predictions, machine-label the pool, measure precision on test.

    ``per_class`` (default) chooses :func:`choose_class_thresholds`, else one global
    :func:`choose_threshold`. ``labeled_path`` holds the human-labeled validation and test items;
    ``predictions_path`` the predict step's output covering them and the pool. With
    ``heldout_by_id`` (the trainer's held-out predictions, from fits on ``heldout_fitted_on``,
    columns in the predictions' class order) the thresholds are chosen on the labeled items it
    covers (:func:`calibration_scores`); without it, on the model's own predictions of the
    validation items, which are in-sample when the model was refitted on them.
    """
    from .sampling import read_class_probabilities

    by_id, classes = read_class_probabilities(predictions_path, needed_for="machine labels")
    if heldout_by_id is not None:
        width = {len(row) for row in heldout_by_id.values()}
        if width - {len(classes)}:
            raise ValueError(
                f"held-out predictions have {sorted(width)} columns, the predictions {len(classes)} "
                "classes; pass the held-out predictions of the model that predicted"
            )
        validation = calibration_scores(manifest.read_jsonl(labeled_path), heldout_by_id, classes)
        count = len(validation.confidence)
        calibration = f"{count} held-out predictions of validation items (fits on {heldout_fitted_on})"
    else:
        validation = held_out_scores(manifest.read_jsonl(labeled_path), "validation", by_id, classes)
        calibration = (
            f"the model's own predictions of {len(validation.confidence)} validation items "
            "(in-sample if it was trained on them)"
        )
    if per_class:
        choice = choose_class_thresholds(
            validation.confidence,
            validation.predicted,
            validation.correct,
            target_precision=target_precision,
            confidence_level=confidence_level,
        )
    else:
        choice = choose_threshold(
            validation.confidence,
            validation.correct,
            target_precision=target_precision,
            confidence_level=confidence_level,
        )
    test = held_out_scores(manifest.read_jsonl(labeled_path), "test", by_id, classes)
    check = measure_precision_of(
        test.confidence, test.predicted, test.correct, choice, confidence_level=confidence_level
    )
    choice = confirmed_on_test(choice, check)
    outcome = list(
        machine_label(
            manifest.read_jsonl(pool_path),
            by_id,
            classes,
            threshold=choice if per_class else choice.threshold,
            model_version=model_version,
        )
    )
    n_machine = manifest.write_jsonl(machine_labeled_path, (r for labeled, r in outcome if labeled))
    n_rest = manifest.write_jsonl(unlabeled_path, (r for labeled, r in outcome if not labeled))
    return MachineLabelSummary(choice, check, n_machine, n_rest, calibration)
