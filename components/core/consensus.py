"""Consensus labels and labeling quality from several labelers' annotations.

Single-label classification: majority vote and Dawid–Skene (EM over each labeler's confusion
matrix), per-item agreement and confidence, inter-annotator agreement (percent agreement, Fleiss'
kappa, Krippendorff's alpha), per-labeler accuracy, the labelers-vs-consensus confusion matrix and
the items that need a review. Multi-label items are aggregated by a vote per label, boxes by
clustering on IoU, text spans by a vote per exact span.

Annotations come in as ``(item_id, labeler_id, label)`` triples and are turned into an
:class:`AnnotationMatrix` (items × labelers, ``-1`` where a labeler did not label an item).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

MISSING = -1


class ConsensusError(ValueError):
    """Annotations cannot be aggregated; the message names the item and labeler."""


# ---------------------------------------------------------------------------------------------
# The annotation matrix


@dataclass(frozen=True)
class AnnotationMatrix:
    """Single-label annotations as an items × labelers matrix of class indices (``-1``: none)."""

    item_ids: tuple[str, ...]
    labeler_ids: tuple[str, ...]
    classes: tuple[str, ...]
    codes: np.ndarray  # shape (items, labelers), int, MISSING where absent

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def counts(self) -> np.ndarray:
        """Votes per item and class, shape (items, classes)."""
        counts = np.zeros((len(self.item_ids), self.n_classes), dtype=float)
        rows, cols = np.nonzero(self.codes != MISSING)
        np.add.at(counts, (rows, self.codes[rows, cols]), 1.0)
        return counts

    def labels_per_item(self) -> np.ndarray:
        return (self.codes != MISSING).sum(axis=1)


def build_matrix(annotations: Iterable[tuple[str, str, str]], classes: Sequence[str]) -> AnnotationMatrix:
    """Build the annotation matrix from ``(item_id, labeler_id, label)`` triples.

    Items and labelers keep the order in which they first appear.

    Raises:
        ConsensusError: on a label outside ``classes`` or two different labels from one labeler
            for one item.
    """
    class_index = {name: i for i, name in enumerate(classes)}
    if len(class_index) != len(classes):
        raise ConsensusError(f"class names must be unique, got {list(classes)}")
    items: dict[str, int] = {}
    labelers: dict[str, int] = {}
    cells: dict[tuple[int, int], int] = {}
    for item_id, labeler_id, label in annotations:
        if label not in class_index:
            raise ConsensusError(
                f"item {item_id}: labeler {labeler_id} gave {label!r}, which is not in the label set "
                f"{list(classes)}; fix the annotation or add the label to the job's annotationSpecs"
            )
        row = items.setdefault(item_id, len(items))
        col = labelers.setdefault(labeler_id, len(labelers))
        code = class_index[label]
        previous = cells.setdefault((row, col), code)
        if previous != code:
            raise ConsensusError(
                f"item {item_id}: labeler {labeler_id} gave two labels ({classes[previous]!r} and {label!r}); "
                "keep one annotation per item and labeler"
            )
    codes = np.full((len(items), len(labelers)), MISSING, dtype=np.int64)
    for (row, col), code in cells.items():
        codes[row, col] = code
    return AnnotationMatrix(tuple(items), tuple(labelers), tuple(classes), codes)


# ---------------------------------------------------------------------------------------------
# Consensus


@dataclass(frozen=True)
class Consensus:
    """Consensus label per item with its posterior; ``confidence`` is the posterior of the label."""

    method: str
    item_ids: tuple[str, ...]
    classes: tuple[str, ...]
    posteriors: np.ndarray  # shape (items, classes), rows sum to 1
    iterations: int = 0
    converged: bool = True
    confusions: np.ndarray | None = None  # Dawid–Skene: (labelers, true class, given class)
    priors: np.ndarray | None = None

    @property
    def codes(self) -> np.ndarray:
        return np.argmax(self.posteriors, axis=1)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.classes[code] for code in self.codes)

    @property
    def confidence(self) -> np.ndarray:
        return np.max(self.posteriors, axis=1)

    def label_of(self, item_id: str) -> str:
        return self.labels[self.item_ids.index(item_id)]


def majority_vote(matrix: AnnotationMatrix) -> Consensus:
    """Majority vote; the posterior is the vote share and ties go to the earlier class in the label set."""
    counts = matrix.counts()
    totals = counts.sum(axis=1, keepdims=True)
    if np.any(totals == 0):
        empty = matrix.item_ids[int(np.flatnonzero(totals[:, 0] == 0)[0])]
        raise ConsensusError(f"item {empty} has no annotations; drop it before computing consensus")
    return Consensus("majority_vote", matrix.item_ids, matrix.classes, counts / totals)


def dawid_skene(
    matrix: AnnotationMatrix,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    smoothing: float = 0.01,
) -> Consensus:
    """Dawid–Skene consensus: EM over one confusion matrix per labeler and the class priors.

    Starts from the majority-vote posteriors. ``smoothing`` is a Dirichlet pseudo-count added to
    every confusion-matrix cell so a labeler seen on few items does not get zero probabilities.
    """
    posteriors = majority_vote(matrix).posteriors
    onehot = _labeler_onehot(matrix)  # (items, labelers, classes)
    converged = False
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - read after the loop
        priors, confusions = _ds_m_step(posteriors, onehot, smoothing)
        updated = _ds_e_step(priors, confusions, onehot)
        change = float(np.max(np.abs(updated - posteriors)))
        posteriors = updated
        if change < tolerance:
            converged = True
            break
    priors, confusions = _ds_m_step(posteriors, onehot, smoothing)
    return Consensus(
        "dawid_skene", matrix.item_ids, matrix.classes, posteriors, iteration, converged, confusions, priors
    )


def _labeler_onehot(matrix: AnnotationMatrix) -> np.ndarray:
    onehot = np.zeros((*matrix.codes.shape, matrix.n_classes), dtype=float)
    rows, cols = np.nonzero(matrix.codes != MISSING)
    onehot[rows, cols, matrix.codes[rows, cols]] = 1.0
    return onehot


def _ds_m_step(posteriors: np.ndarray, onehot: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    priors = (posteriors.sum(axis=0) + smoothing) / (posteriors.shape[0] + smoothing * posteriors.shape[1])
    # confusions[l, k, j] = P(labeler l says j | true class k)
    confusions = np.einsum("ik,ilj->lkj", posteriors, onehot) + smoothing
    confusions /= confusions.sum(axis=2, keepdims=True)
    return priors, confusions


def _ds_e_step(priors: np.ndarray, confusions: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    log_likelihood = np.einsum("ilj,lkj->ik", onehot, np.log(confusions)) + np.log(priors)
    log_likelihood -= log_likelihood.max(axis=1, keepdims=True)
    posteriors = np.exp(log_likelihood)
    return posteriors / posteriors.sum(axis=1, keepdims=True)


def consensus(matrix: AnnotationMatrix, method: str) -> Consensus:
    """Run the named consensus method (``majority_vote`` or ``dawid_skene``)."""
    methods = {"majority_vote": majority_vote, "dawid_skene": dawid_skene}
    if method not in methods:
        raise ConsensusError(f"unknown consensus method {method!r}; use one of {sorted(methods)}")
    return methods[method](matrix)


# ---------------------------------------------------------------------------------------------
# Agreement


def item_agreement(matrix: AnnotationMatrix) -> np.ndarray:
    """Per item, the share of labeler pairs that agree (NaN for items with fewer than two labels)."""
    counts = matrix.counts()
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = ((counts * (counts - 1)).sum(axis=1)) / (n * (n - 1))
    return np.where(n >= 2, agreement, np.nan)


def percent_agreement(matrix: AnnotationMatrix) -> float:
    """Mean pairwise agreement over items with at least two labels (NaN when there are none)."""
    agreement = item_agreement(matrix)
    valid = agreement[~np.isnan(agreement)]
    return float(valid.mean()) if valid.size else float("nan")


def fleiss_kappa(matrix: AnnotationMatrix) -> float:
    """Fleiss' kappa over items with at least two labels.

    Items may have different numbers of labels: each item's agreement uses its own count, the
    chance agreement uses the pooled class shares (equal to Fleiss' formula when counts are equal).
    NaN when no item has two labels or when every label is the same class (kappa is undefined).
    """
    counts = matrix.counts()
    n = counts.sum(axis=1)
    keep = n >= 2
    if not keep.any():
        return float("nan")
    counts, n = counts[keep], n[keep]
    observed = float(np.mean((counts * (counts - 1)).sum(axis=1) / (n * (n - 1))))
    shares = counts.sum(axis=0) / counts.sum()
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return float("nan")
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha_nominal(matrix: AnnotationMatrix) -> float:
    """Krippendorff's alpha for nominal data; items with fewer than two labels are not pairable.

    NaN when fewer than two pairable values exist or all pairable values are one class.
    """
    counts = matrix.counts()
    n_u = counts.sum(axis=1)
    counts = counts[n_u >= 2]
    n_u = n_u[n_u >= 2]
    total = counts.sum()
    if total < 2:
        return float("nan")
    # coincidence matrix o[c, k] = sum_u counts[u,c] * (counts[u,k] - [c==k]) / (n_u - 1)
    weighted = counts / (n_u - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    marginals = coincidence.sum(axis=1)
    observed_disagreement = coincidence.sum() - np.trace(coincidence)
    expected_disagreement = (marginals.sum() ** 2 - (marginals**2).sum()) / (total - 1)
    if expected_disagreement == 0:
        return float("nan")
    return float(1.0 - observed_disagreement / expected_disagreement)


# ---------------------------------------------------------------------------------------------
# Labelers and review


@dataclass(frozen=True)
class LabelerQuality:
    """How one labeler did against the consensus (and, with Dawid–Skene, the model's estimate)."""

    labeler_id: str
    labels: int
    agreement_with_consensus: float
    estimated_accuracy: float | None


def labeler_quality(matrix: AnnotationMatrix, result: Consensus) -> tuple[LabelerQuality, ...]:
    """Per labeler: labels given, share equal to the consensus, and Dawid–Skene's accuracy estimate.

    The estimate is ``sum_k prior_k * P(says k | true k)`` from the fitted confusion matrix.
    """
    consensus_codes = result.codes
    out = []
    for col, labeler_id in enumerate(matrix.labeler_ids):
        given = matrix.codes[:, col]
        mask = given != MISSING
        n = int(mask.sum())
        agree = float(np.mean(given[mask] == consensus_codes[mask])) if n else float("nan")
        estimate = None
        if result.confusions is not None and result.priors is not None:
            estimate = float(np.sum(result.priors * np.diag(result.confusions[col])))
        out.append(LabelerQuality(labeler_id, n, agree, estimate))
    return tuple(out)


def confusion_vs_consensus(matrix: AnnotationMatrix, result: Consensus) -> np.ndarray:
    """Counts of (consensus class, labeler's class) over every annotation, shape (classes, classes)."""
    table = np.zeros((matrix.n_classes, matrix.n_classes), dtype=np.int64)
    rows, cols = np.nonzero(matrix.codes != MISSING)
    np.add.at(table, (result.codes[rows], matrix.codes[rows, cols]), 1)
    return table


@dataclass(frozen=True)
class ReviewFlag:
    """An item whose labelers disagree more than the review threshold allows."""

    item_id: str
    label: str
    confidence: float
    disagreement: float
    votes: Mapping[str, int]


def items_needing_review(
    matrix: AnnotationMatrix, result: Consensus, *, max_disagreement: float, min_confidence: float = 0.0
) -> tuple[ReviewFlag, ...]:
    """Items whose share of labels that differ from the consensus exceeds ``max_disagreement``,
    or whose consensus confidence is below ``min_confidence``."""
    counts = matrix.counts()
    codes = result.codes
    totals = counts.sum(axis=1)
    disagreement = 1.0 - counts[np.arange(len(codes)), codes] / totals
    confidence = result.confidence
    flags = []
    for row in np.flatnonzero((disagreement > max_disagreement) | (confidence < min_confidence)):
        votes = {matrix.classes[c]: int(counts[row, c]) for c in np.flatnonzero(counts[row])}
        flags.append(
            ReviewFlag(
                matrix.item_ids[row],
                matrix.classes[codes[row]],
                float(confidence[row]),
                float(disagreement[row]),
                votes,
            )
        )
    return tuple(flags)


# ---------------------------------------------------------------------------------------------
# Multi-label, boxes and spans


@dataclass(frozen=True)
class MultiLabelConsensus:
    """Labels chosen by a strict majority of an item's labelers, with each label's vote share."""

    item_id: str
    labels: tuple[str, ...]
    shares: Mapping[str, float]
    labelers: int

    @property
    def confidence(self) -> float:
        """Mean over all voted labels of the share agreeing with the decision on that label."""
        if not self.shares:
            return 1.0
        return float(np.mean([s if name in self.labels else 1.0 - s for name, s in self.shares.items()]))


def per_label_vote(item_id: str, label_sets: Mapping[str, Iterable[str]]) -> MultiLabelConsensus:
    """Multi-label consensus for one item: keep a label when more than half the labelers chose it.

    ``label_sets`` maps labeler id to the labels that labeler chose (possibly none).
    """
    if not label_sets:
        raise ConsensusError(f"item {item_id} has no annotations; drop it before computing consensus")
    n = len(label_sets)
    votes: dict[str, int] = {}
    for chosen in label_sets.values():
        for name in set(chosen):
            votes[name] = votes.get(name, 0) + 1
    shares = {name: count / n for name, count in sorted(votes.items())}
    kept = tuple(name for name, count in sorted(votes.items()) if 2 * count > n)
    return MultiLabelConsensus(item_id, kept, shares, n)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in normalized image coordinates (0–1)."""

    label: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def __post_init__(self):
        if not (0.0 <= self.x_min <= self.x_max <= 1.0 and 0.0 <= self.y_min <= self.y_max <= 1.0):
            raise ConsensusError(f"box {self} is not a normalized box (need 0 <= min <= max <= 1 on both axes)")

    @property
    def area(self) -> float:
        return (self.x_max - self.x_min) * (self.y_max - self.y_min)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    width = min(a.x_max, b.x_max) - max(a.x_min, b.x_min)
    height = min(a.y_max, b.y_max) - max(a.y_min, b.y_min)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a.area + b.area - inter)


@dataclass(frozen=True)
class BoxConsensus:
    """A consensus box: the mean of a cluster of same-label boxes from distinct labelers."""

    box: Box
    support: float  # share of the item's labelers who drew it
    mean_iou: float  # mean IoU of the cluster's boxes with the consensus box
    labelers: tuple[str, ...]


def aggregate_boxes(
    boxes_by_labeler: Mapping[str, Sequence[Box]], *, iou_threshold: float = 0.5, min_support: float = 0.5
) -> tuple[BoxConsensus, ...]:
    """Cluster boxes of one item by label and IoU and keep clusters drawn by enough labelers.

    Greedy: boxes are visited largest first and join the same-label cluster whose mean box they
    overlap most (IoU ≥ ``iou_threshold``) unless that cluster already holds a box from the same
    labeler. A cluster is kept when its labelers are more than ``min_support`` of all labelers.
    """
    n = len(boxes_by_labeler)
    entries = sorted(
        ((labeler, box) for labeler, boxes in boxes_by_labeler.items() for box in boxes),
        key=lambda entry: (-entry[1].area, entry[0]),
    )
    clusters: list[list[tuple[str, Box]]] = []
    for labeler, box in entries:
        best, best_iou = None, iou_threshold
        for cluster in clusters:
            if cluster[0][1].label != box.label or any(member == labeler for member, _ in cluster):
                continue
            overlap = iou(_mean_box(cluster), box)
            if overlap >= best_iou:
                best, best_iou = cluster, overlap
        if best is None:
            clusters.append([(labeler, box)])
        else:
            best.append((labeler, box))
    out = []
    for cluster in clusters:
        support = len(cluster) / n
        if support > min_support:
            mean = _mean_box(cluster)
            mean_iou = float(np.mean([iou(mean, box) for _, box in cluster]))
            out.append(BoxConsensus(mean, support, mean_iou, tuple(sorted(m for m, _ in cluster))))
    return tuple(sorted(out, key=lambda c: (c.box.label, c.box.x_min, c.box.y_min)))


def _mean_box(cluster: Sequence[tuple[str, Box]]) -> Box:
    coords = np.mean([[b.x_min, b.y_min, b.x_max, b.y_max] for _, b in cluster], axis=0)
    return Box(cluster[0][1].label, *(float(c) for c in coords))


@dataclass(frozen=True)
class Span:
    """A labeled text span ``[start, end)`` in character offsets."""

    label: str
    start: int
    end: int


def aggregate_spans(item_id: str, spans_by_labeler: Mapping[str, Iterable[Span]]) -> tuple[tuple[Span, ...], float]:
    """Entity spans kept by a strict majority of labelers (exact offsets and label), and the
    mean agreement over all spans anyone marked."""
    as_keys = {
        labeler: {f"{s.label}\t{s.start}\t{s.end}" for s in spans} for labeler, spans in spans_by_labeler.items()
    }
    vote = per_label_vote(item_id, as_keys)
    kept = []
    for key in vote.labels:
        label, start, end = key.split("\t")
        kept.append(Span(label, int(start), int(end)))
    return tuple(sorted(kept, key=lambda s: (s.start, s.end, s.label))), vote.confidence


# ---------------------------------------------------------------------------------------------
# One job's annotations → per-item results and quality figures

TASK_KINDS = ("single_label", "multi_label", "boxes", "spans")


@dataclass(frozen=True)
class ItemResult:
    """The consensus for one item.

    ``value`` is a label (single-label), a tuple of labels (multi-label), a tuple of
    :class:`BoxConsensus` or of :class:`Span`.
    """

    item_id: str
    value: object
    confidence: float
    labels: int
    needs_review: bool


@dataclass(frozen=True)
class QualitySummary:
    """Consensus per item and the labeling quality of a whole job."""

    kind: str
    method: str
    items: Mapping[str, ItemResult]
    percent_agreement: float
    fleiss_kappa: float
    krippendorff_alpha: float
    labelers: tuple[LabelerQuality, ...]
    classes: tuple[str, ...]
    confusion: np.ndarray | None  # consensus × labeler answer counts (single-label only)

    @property
    def items_needing_review(self) -> tuple[str, ...]:
        return tuple(item_id for item_id, result in self.items.items() if result.needs_review)


def summarize(
    kind: str,
    annotations: Sequence[tuple[str, str, object]],
    classes: Sequence[str],
    *,
    method: str = "dawid_skene",
    review_threshold: float = 0.34,
    model_answers: Mapping[str, str] | None = None,
    item_posteriors: Mapping[str, np.ndarray] | None = None,
) -> QualitySummary:
    """Consensus and quality for ``(item_id, labeler_id, value)`` annotations of one task kind.

    Two ways for a model to inform a single-label consensus; agreement, labeler quality and label
    counts stay about the humans only:

    * ``model_answers``: the model's top class per item joins the consensus as one more labeler
      (:data:`MODEL_LABELER`), whose confusion matrix the method estimates like anyone's.
    * ``item_posteriors``: P(true class) per item (in ``classes`` order) computed elsewhere with the
      model's full probabilities as the prior (the labeling job's own estimate,
      ``adaptive.estimated_posteriors``); they decide each listed item's label and confidence.

    Single-label uses ``method``; multi-label votes per label and spans per exact span, and both
    measure agreement on the binary decisions (labeler marked it or not) over every candidate any
    labeler marked; boxes cluster on IoU and report no kappa. An item needs review when the share
    of its labels that disagree with the consensus exceeds ``review_threshold``.
    """
    if kind not in TASK_KINDS:
        raise ConsensusError(f"unknown task kind {kind!r}; use one of {TASK_KINDS}")
    if not annotations:
        nan = float("nan")
        return QualitySummary(kind, method, {}, nan, nan, nan, (), tuple(classes), None)
    if kind == "single_label":
        return _summarize_single(annotations, classes, method, review_threshold, model_answers, item_posteriors)
    if kind == "boxes":
        return _summarize_boxes(annotations, classes, review_threshold)
    return _summarize_sets(kind, annotations, classes, review_threshold)


def _summarize_single(
    annotations, classes, method, review_threshold, model_answers=None, item_posteriors=None
) -> QualitySummary:
    matrix = build_matrix(((item, label, labeler) for item, label, labeler in annotations), classes)
    result = consensus(matrix, method)
    if model_answers:
        result = _with_model_consensus(annotations, classes, method, matrix, model_answers)
    if item_posteriors:
        result = _with_item_posteriors(result, item_posteriors)
    flagged = {flag.item_id for flag in items_needing_review(matrix, result, max_disagreement=review_threshold)}
    per_item = matrix.labels_per_item()
    items = {
        item_id: ItemResult(
            item_id, result.labels[row], float(result.confidence[row]), int(per_item[row]), item_id in flagged
        )
        for row, item_id in enumerate(matrix.item_ids)
    }
    return QualitySummary(
        "single_label",
        result.method,
        items,
        percent_agreement(matrix),
        fleiss_kappa(matrix),
        krippendorff_alpha_nominal(matrix),
        labeler_quality(matrix, result),
        tuple(classes),
        confusion_vs_consensus(matrix, result),
    )


MODEL_LABELER = "__model__"


def _with_item_posteriors(result: Consensus, item_posteriors: Mapping[str, np.ndarray]) -> Consensus:
    """``result`` with the rows of the items in ``item_posteriors`` replaced by those posteriors."""
    posteriors = result.posteriors.copy()
    for row, item_id in enumerate(result.item_ids):
        given = item_posteriors.get(item_id)
        if given is None:
            continue
        given = np.asarray(given, dtype=float)
        if given.shape != (len(result.classes),) or not np.isclose(given.sum(), 1.0):
            raise ConsensusError(
                f"item {item_id}: its posterior must be {len(result.classes)} probabilities summing to 1 "
                f"(one per class, in {list(result.classes)} order), got {given.tolist()}"
            )
        posteriors[row] = given
    return replace(result, posteriors=posteriors)


def _with_model_consensus(annotations, classes, method, matrix: AnnotationMatrix, model_answers) -> Consensus:
    """The consensus of the humans plus the model as one more labeler, rows in ``matrix``'s item order."""
    humans = set(matrix.item_ids)
    extra = [(item, MODEL_LABELER, label) for item, label in model_answers.items() if item in humans]
    joint = build_matrix(list(annotations) + extra, classes)  # humans first: same items and labelers, model last
    result = consensus(joint, method)
    if joint.item_ids != matrix.item_ids or joint.labeler_ids[: len(matrix.labeler_ids)] != matrix.labeler_ids:
        raise ConsensusError("internal: the model's answers changed the item or labeler order")
    confusions = None if result.confusions is None else result.confusions[: len(matrix.labeler_ids)]
    return replace(result, confusions=confusions)


def _summarize_sets(kind, annotations, classes, review_threshold) -> QualitySummary:
    by_item: dict[str, dict[str, set]] = {}
    for item_id, labeler_id, value in annotations:
        keys = {_set_key(kind, v, classes, item_id, labeler_id) for v in value}
        by_item.setdefault(item_id, {})[labeler_id] = keys
    items, binary = {}, []
    for item_id, sets in by_item.items():
        vote = per_label_vote(item_id, sets)
        disagreement = 1.0 - vote.confidence
        value = vote.labels if kind == "multi_label" else _spans_from_keys(vote.labels)
        items[item_id] = ItemResult(item_id, value, vote.confidence, len(sets), disagreement > review_threshold)
        candidates = set().union(*sets.values())
        binary.extend(
            (f"{item_id}\t{c}", labeler, "yes" if c in chosen else "no")
            for labeler, chosen in sets.items()
            for c in candidates
        )
    if binary:
        matrix = build_matrix(binary, ("no", "yes"))
        decisions = majority_vote(matrix)
        figures = (percent_agreement(matrix), fleiss_kappa(matrix), krippendorff_alpha_nominal(matrix))
        quality = labeler_quality(matrix, decisions)
    else:
        figures, quality = (float("nan"),) * 3, ()
    return QualitySummary(kind, "per_label_vote", items, *figures, quality, tuple(classes), None)


def _set_key(kind, value, classes, item_id, labeler_id) -> str:
    if kind == "multi_label":
        if value not in classes:
            raise ConsensusError(
                f"item {item_id}: labeler {labeler_id} gave {value!r}, which is not in the label set {list(classes)}"
            )
        return value
    span = (
        value
        if isinstance(value, Span)
        else Span(value["displayName"], int(value["startOffset"]), int(value["endOffset"]))
    )
    if span.label not in classes or span.start < 0 or span.end <= span.start:
        raise ConsensusError(f"item {item_id}: labeler {labeler_id} gave an invalid span {value!r}")
    return f"{span.label}\t{span.start}\t{span.end}"


def _spans_from_keys(keys: Iterable[str]) -> tuple[Span, ...]:
    spans = []
    for key in keys:
        label, start, end = key.split("\t")
        spans.append(Span(label, int(start), int(end)))
    return tuple(sorted(spans, key=lambda s: (s.start, s.end, s.label)))


def _summarize_boxes(annotations, classes, review_threshold) -> QualitySummary:
    by_item: dict[str, dict[str, list[Box]]] = {}
    for item_id, labeler_id, value in annotations:
        boxes = []
        for raw in value:
            box = (
                raw
                if isinstance(raw, Box)
                else Box(raw["displayName"], raw["xMin"], raw["yMin"], raw["xMax"], raw["yMax"])
            )
            if box.label not in classes:
                raise ConsensusError(
                    f"item {item_id}: labeler {labeler_id} drew a {box.label!r} box, not in {list(classes)}"
                )
            boxes.append(box)
        by_item.setdefault(item_id, {})[labeler_id] = boxes
    items, agreements = {}, []
    for item_id, drawn in by_item.items():
        kept = aggregate_boxes(drawn)
        total = sum(len(b) for b in drawn.values())
        matched = sum(len(c.labelers) for c in kept)
        agreement = matched / total if total else 1.0
        confidence = float(np.mean([c.support * c.mean_iou for c in kept])) if kept else agreement
        agreements.append(agreement)
        items[item_id] = ItemResult(item_id, kept, confidence, len(drawn), 1.0 - agreement > review_threshold)
    nan = float("nan")
    return QualitySummary(
        "boxes", "iou_clustering", items, float(np.mean(agreements)), nan, nan, (), tuple(classes), None
    )
