"""Label verification: which labeled items are most likely mislabeled (confident learning).

1. Out-of-fold predicted probabilities (:func:`out_of_fold_probabilities`): every item is scored by
   a model that never saw its label (stratified k-fold; logistic regression by default, any
   scikit-learn-style factory otherwise), so a wrong label cannot vouch for itself.
2. The confident joint (Northcutt et al. 2021, "Confident Learning", the method behind cleanlab):
   class ``k``'s threshold is the mean probability of ``k`` over items labeled ``k``; an item counts
   as "labeled ``i``, truly ``j``" when ``j`` is its most probable class among those above their
   thresholds. Its off-diagonal count estimates how many labels are wrong.
3. Ranking (:func:`find_label_issues`): every item gets a label quality, the normalized margin
   ``p[given] - max_{k != given} p[k]`` (low = suspect); the estimated number of issues, lowest
   quality first, are flagged. Counting with the joint and ranking by margin avoids the per-cell
   pruning's rounding, and an item never needs to clear a class threshold to be flagged.

The flagged items, most suspect first, are what a verification job sends back to humans
(``find_label_issues`` component -> ``label_items``), within a relabeling budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("rank_by_margin", "confident_joint")


@dataclass(frozen=True)
class LabelIssues:
    """Items flagged as likely mislabeled, most suspect first.

    Attributes:
        indices: positions of the flagged items, most suspect first.
        quality: each flagged item's label quality (normalized margin; lower = more suspect).
        suggested: each flagged item's most probable class (column index).
        estimated_issues: how many labels the confident joint estimates are wrong (before any cap).
        thresholds: per-class confidence thresholds of the confident joint.
        method: how the items were flagged (:data:`METHODS`).
    """

    indices: np.ndarray
    quality: np.ndarray
    suggested: np.ndarray
    estimated_issues: int
    thresholds: np.ndarray
    method: str

    def mask(self, n: int) -> np.ndarray:
        """A boolean vector of ``n`` items, True where flagged."""
        out = np.zeros(n, dtype=bool)
        out[self.indices] = True
        return out


def _check_inputs(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(f"probabilities must be an N x C array with C >= 2, got shape {probabilities.shape}")
    if labels.shape != (len(probabilities),):
        raise ValueError(f"{labels.shape} labels for {len(probabilities)} probability rows; give one label per row")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min(initial=0) < 0:
        raise ValueError("labels must be class column indices (integers >= 0); encode class names first")
    if len(labels) and labels.max() >= probabilities.shape[1]:
        raise ValueError(f"label {labels.max()} has no probability column (only {probabilities.shape[1]})")
    return labels.astype(np.int64), probabilities


def label_quality(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Normalized margin per item: ``p[given] - max_{k != given} p[k]``, in [-1, 1] (low = suspect)."""
    labels, probabilities = _check_inputs(labels, probabilities)
    rows = np.arange(len(labels))
    given = probabilities[rows, labels]
    others = probabilities.copy()
    others[rows, labels] = -np.inf
    return given - others.max(axis=1)


def confident_joint(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(C x C counts [given, true], per-class thresholds, per-item true-class guess or -1)``.

    A class nobody is labeled with gets threshold 1 + eps (no item can be confidently it).
    """
    labels, probabilities = _check_inputs(labels, probabilities)
    classes = probabilities.shape[1]
    counts = np.bincount(labels, minlength=classes)
    sums = np.bincount(labels, weights=probabilities[np.arange(len(labels)), labels], minlength=classes)
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0 + 1e-9)
    above = probabilities >= thresholds[None, :]
    masked = np.where(above, probabilities, -np.inf)
    guess = np.where(above.any(axis=1), masked.argmax(axis=1), -1)
    joint = np.zeros((classes, classes), dtype=np.int64)
    counted = guess >= 0
    np.add.at(joint, (labels[counted], guess[counted]), 1)
    return joint, thresholds, guess


def estimated_issue_count(joint: np.ndarray, given_counts: np.ndarray) -> int:
    """Wrong labels the confident joint implies, each row calibrated to its class's item count.

    Items above no class threshold are not in the joint; calibrating a row to the number of items
    given that label assumes they are wrong at the row's rate (Northcutt et al., eq. 3).
    """
    rows = joint.sum(axis=1)
    off = rows - np.diag(joint)
    rate = np.divide(off, rows, out=np.zeros(len(rows)), where=rows > 0)
    return int(round(float((rate * given_counts).sum())))


def find_label_issues(
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    method: str = "rank_by_margin",
    max_issues: int | None = None,
) -> LabelIssues:
    """Flag the items most likely mislabeled, most suspect first.

    Args:
        labels: given class index per item.
        probabilities: ``N x C`` out-of-fold predicted probabilities (see :func:`out_of_fold_probabilities`).
        method: ``rank_by_margin`` (default: the joint's off-diagonal count of lowest-margin items)
            or ``confident_joint`` (exactly the items the joint puts off its diagonal).
        max_issues: cap on flagged items (a relabeling budget); None for no cap.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    labels, probabilities = _check_inputs(labels, probabilities)
    joint, thresholds, guess = confident_joint(labels, probabilities)
    estimated = estimated_issue_count(joint, np.bincount(labels, minlength=probabilities.shape[1]))
    quality = label_quality(labels, probabilities)
    order = np.lexsort((np.arange(len(labels)), quality))  # lowest quality first, ties by position
    if method == "rank_by_margin":
        flagged = order[:estimated]
    else:
        off = (guess >= 0) & (guess != labels)
        flagged = order[off[order]]
    if max_issues is not None:
        if max_issues < 0:
            raise ValueError(f"max_issues must be >= 0, got {max_issues}")
        flagged = flagged[:max_issues]
    return LabelIssues(
        indices=flagged.astype(np.int64),
        quality=quality[flagged],
        suggested=probabilities[flagged].argmax(axis=1).astype(np.int64),
        estimated_issues=estimated,
        thresholds=thresholds,
        method=method,
    )


def default_model(seed: int):
    """Logistic regression on standardized features: fast, calibrated enough for confident learning."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000, random_state=seed))


def out_of_fold_probabilities(
    inputs,
    labels: np.ndarray,
    *,
    classes: int | None = None,
    folds: int = 5,
    seed: int = 0,
    make_model: Callable[[int], object] = default_model,
) -> np.ndarray:
    """``N x C`` probabilities, each row from a model trained on the other folds.

    Args:
        inputs: model inputs indexable by row arrays (an array, a sparse matrix, an object array of texts).
        labels: class index per row.
        classes: number of classes (default: ``labels.max() + 1``).
        folds: stratified folds (fewer when the rarest class has fewer items; at least 2).
        seed: shuffles the folds and seeds the model.
        make_model: ``seed -> estimator`` with ``fit`` and ``predict_proba``.

    Raises:
        ValueError: when fewer than two classes, or a class has a single item (it cannot be held out).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, dtype=np.int64)
    classes = int(labels.max()) + 1 if classes is None else classes
    present, counts = np.unique(labels, return_counts=True)
    if len(present) < 2:
        raise ValueError("label verification needs items of at least two classes")
    if counts.min() < 2:
        rare = present[counts.argmin()]
        raise ValueError(f"class {rare} has one labeled item; it cannot be scored out of fold — label more of it")
    splitter = StratifiedKFold(n_splits=max(2, min(folds, int(counts.min()))), shuffle=True, random_state=seed)
    out = np.zeros((len(labels), classes), dtype=np.float64)
    for train_rows, test_rows in splitter.split(np.zeros(len(labels)), labels):
        model = make_model(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(inputs[train_rows], labels[train_rows])
        out[np.ix_(test_rows, model.classes_)] = model.predict_proba(inputs[test_rows])
    return out


# ---------------------------------------------------------------------------------------------
# Manifests


@dataclass(frozen=True)
class VerificationSummary:
    """What :func:`suspects_from_manifest` read, flagged and wrote."""

    items: int
    labeled: int
    skipped_unlabeled: int
    estimated_issues: int
    suspects: int
    budget: int
    classes: tuple[str, ...]
    suspect_rows: tuple[tuple[str, str, str, float], ...] = ()

    def metrics(self) -> dict[str, float]:
        """The figures a component logs."""
        return {
            "items": self.items,
            "labeled_items": self.labeled,
            "skipped_unlabeled_items": self.skipped_unlabeled,
            "estimated_label_issues": self.estimated_issues,
            "estimated_issue_rate": self.estimated_issues / self.labeled if self.labeled else 0.0,
            "relabel_budget": self.budget,
            "suspects": self.suspects,
        }


def report_html(summary: VerificationSummary, *, top: int = 50) -> str:
    """A small self-contained HTML page: the counts and the most suspect items."""
    from html import escape

    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{escape(rid)}</td><td>{escape(given)}</td><td>{escape(suggested)}</td>"
        f"<td>{quality:+.3f}</td></tr>"
        for i, (rid, given, suggested, quality) in enumerate(summary.suspect_rows[:top])
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Label verification</title></head><body>"
        "<h1>Label verification</h1>"
        f"<p>{summary.labeled} labeled items scored out of fold ({summary.skipped_unlabeled} unlabeled skipped); "
        f"the confident joint estimates {summary.estimated_issues} wrong labels "
        f"({summary.estimated_issues / max(summary.labeled, 1):.1%}). "
        f"{summary.suspects} suspects sent for verification (budget {summary.budget}).</p>"
        "<table border='1' cellpadding='3'><tr><th>rank</th><th>item</th><th>given label</th>"
        f"<th>model's label</th><th>label quality</th></tr>{rows}</table></body></html>"
    )


def relabel_budget(labeled: int, *, max_suspects: int, max_fraction: float) -> int:
    """Most items a verification job may send: ``max_suspects`` (0 = no count cap) and ``max_fraction`` of them."""
    if max_suspects < 0 or not 0 <= max_fraction <= 1:
        raise ValueError(f"max_suspects must be >= 0 and max_fraction in [0, 1], got {max_suspects}, {max_fraction}")
    by_fraction = int(np.floor(max_fraction * labeled + 1e-9))
    return by_fraction if max_suspects == 0 else min(max_suspects, by_fraction)


def inputs_of_records(records: Sequence[dict], kind: str, *, image_size: int = 32):
    """Model inputs and a model factory for labeled records: image features, or texts for TF-IDF."""
    from . import features as feats
    from . import manifest

    if kind == "image":
        spec = feats.image_spec_for([manifest.content_of(r)[1] for r in records[:16]], image_size=image_size)
        images = [feats.read_image(manifest.content_of(r)[1], spec) for r in records]
        return feats.image_features(images, spec), default_model
    if kind == "text":
        from .train import text_of

        def text_model(seed: int):
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline

            return make_pipeline(feats.text_vectorizer(), LogisticRegression(C=10.0, max_iter=1000, random_state=seed))

        return np.asarray([text_of(r) for r in records], dtype=object), text_model
    raise ValueError(f"label verification reads image or text items, got kind {kind!r}")


def suspects_from_manifest(
    items_path: str,
    suspects_path: str,
    *,
    kind: str,
    max_suspects: int = 0,
    max_fraction: float = 0.15,
    folds: int = 5,
    seed: int = 0,
    image_size: int = 32,
) -> VerificationSummary:
    """Write the likely mislabeled items of a labeled manifest, most suspect first.

    Every single-label item is scored out of fold; the flagged ones (at most the budget) are written
    with their label removed (humans label them afresh, unbiased by the old answer) and
    ``labelloop.{verification_rank, label_quality, given_label, suggested_label}`` set. Unlabeled
    items are counted, not scored.
    """
    from . import manifest

    records, skipped = [], 0
    for line in manifest.read_lines(items_path):
        record = line.record
        manifest.item_id(record)
        if manifest.label_of(record) is None:
            skipped += 1
        else:
            records.append(record)
    names = tuple(sorted({manifest.label_of(r) for r in records}))
    labels = np.asarray([names.index(manifest.label_of(r)) for r in records], dtype=np.int64)
    budget = relabel_budget(len(records), max_suspects=max_suspects, max_fraction=max_fraction)
    inputs, make_model = inputs_of_records(records, kind, image_size=image_size)
    probabilities = out_of_fold_probabilities(
        inputs, labels, classes=len(names), folds=folds, seed=seed, make_model=make_model
    )
    issues = find_label_issues(labels, probabilities, max_issues=budget)

    def suspects():
        for rank, (row, quality, suggested) in enumerate(zip(issues.indices, issues.quality, issues.suggested)):
            record = records[int(row)]
            yield manifest.with_extra(
                manifest.without_label(record),
                verification_rank=rank,
                label_quality=round(float(quality), 6),
                given_label=manifest.label_of(record),
                suggested_label=names[int(suggested)],
            )

    written = manifest.write_jsonl(suspects_path, suspects())
    return VerificationSummary(
        items=len(records) + skipped,
        labeled=len(records),
        skipped_unlabeled=skipped,
        estimated_issues=issues.estimated_issues,
        suspects=written,
        budget=budget,
        classes=names,
        suspect_rows=tuple(
            (
                manifest.item_id(records[int(row)]),
                manifest.label_of(records[int(row)]),
                names[int(suggested)],
                float(quality),
            )
            for row, quality, suggested in zip(issues.indices, issues.quality, issues.suggested)
        ),
    )
