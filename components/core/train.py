"""The local AutoML trainer: a time-budgeted search over model families on labelloop features.

``search`` fits the kind's unsupervised preprocessing (TF-IDF, scaling, one-hot) once on the
training + validation inputs, then hands the hyper-parameter search to FLAML's cost-frugal tuner
(``flaml.tune``). The first candidate is the kind's cheap, strong scikit-learn default (SGD on
TF-IDF for text, a linear model on image descriptors, default boosting for tables), fitted in this
process while the fork server for the others starts; the tuner then tries every family's cheap
starting point and grows configurations only while they pay off. Each candidate is fitted on the
training split (with sample weights) in a child process that is killed at the deadline and scored
on the validation split (boosting stops early on it); cheap candidates (text) are instead
cross-validated on training + validation. Greedy ensemble selection (Caruana et al., 2004) over
the candidates' validation (or out-of-fold) predictions picks a weighted soft-voting average; its
members are refitted on training + validation, with time for those refits kept inside the budget
when the budget allows. The test split is never touched.

``fit_quick`` is the fast path for active-learning rounds: one class-balanced logistic regression,
robust with a handful of labels per class.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import features as feats
from . import manifest

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


# ---------------------------------------------------------------------------------------------
# Examples: model inputs + targets + weights per split, and an account of every input item


@dataclass(frozen=True)
class Split:
    """Inputs of one split with their targets, weights and item ids (rows in manifest order)."""

    inputs: Any
    targets: tuple
    weights: np.ndarray
    ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Examples:
    """Everything the trainer needs from a manifest, plus where every input item went."""

    task: str
    spec: feats.FeatureSpec
    training: Split
    validation: Split
    test: Split
    accounting: dict[str, int]


@dataclass(frozen=True)
class WeightPolicy:
    """How much an item counts: its ``labelloop.weight`` fact times, for machine labels,
    ``machine_label_weight`` and the label's confidence."""

    machine_label_weight: float = 1.0

    def weight_of(self, record: dict) -> float:
        extra = manifest.extra_of(record)
        weight = float(extra.get("weight", 1.0))
        if manifest.label_source_of(record) == "machine":
            weight *= self.machine_label_weight * float(extra.get("label_confidence", 1.0))
        if not math.isfinite(weight) or weight < 0:
            raise TrainingError(
                f"item {manifest.record_name(record)} has invalid weight {weight}; fix labelloop.weight"
            )
        return weight


def _target_of(record: dict, task: str):
    labels = manifest.labels_of(record)
    if not labels:
        return None
    return tuple(sorted(labels)) if is_multilabel(task) else manifest.label_of(record)


def _record_inputs(records: list[dict], spec: feats.FeatureSpec):
    if spec.kind == "image":
        uris = [manifest.content_of(r)[1] for r in records]
        return feats.image_features([feats.read_image(u, spec) for u in uris], spec)
    return feats.text_inputs([text_of(r) for r in records], spec)


def text_of(record: dict) -> str:
    """An item's text: inline ``textContent`` or the file at ``textGcsUri``."""
    field_name, value = manifest.content_of(record)
    if field_name == "textContent":
        return value
    if field_name == "textGcsUri":
        with manifest.open_file(value, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    raise TrainingError(f"item {manifest.record_name(record)} has {field_name}, not text")


def _split_from_records(records: list[dict], task: str, spec, policy: WeightPolicy) -> Split:
    return Split(
        inputs=_record_inputs(records, spec),
        targets=tuple(_target_of(r, task) for r in records),
        weights=np.asarray([policy.weight_of(r) for r in records], dtype=np.float64),
        ids=tuple(manifest.item_id(r) for r in records),
    )


def examples_from_manifest(
    path: str,
    task: str,
    *,
    spec: feats.FeatureSpec | None = None,
    policy: WeightPolicy = WeightPolicy(),
    image_size: int = 32,
    text_encoding: str = "tfidf",
) -> Examples:
    """Read a JSONL manifest into per-split model inputs for an image or text task.

    Labeled items with ``ml_use`` training/validation/test go to that split; every other item is
    counted under ``skipped_unlabeled`` or ``skipped_no_ml_use`` so all input items are accounted for.
    """
    kind = feature_kind(task)
    if kind == "tabular":
        raise TrainingError(f"task {task} reads a table; use examples_from_table")
    by_use: dict[str, list[dict]] = {use: [] for use in manifest.ML_USES}
    accounting = {"input_items": 0, "skipped_unlabeled": 0, "skipped_no_ml_use": 0}
    for line in manifest.read_lines(path):
        accounting["input_items"] += 1
        record = line.record
        manifest.item_id(record)  # fail early, naming the hint, on records without an id
        use = manifest.ml_use_of(record)
        if not manifest.labels_of(record):
            accounting["skipped_unlabeled"] += 1
        elif use not in by_use:
            accounting["skipped_no_ml_use"] += 1
        else:
            by_use[use].append(record)
    if spec is None:
        if kind == "image":
            sample = [manifest.content_of(r)[1] for r in by_use["training"][:16]]
            spec = feats.image_spec_for(sample, image_size=image_size)
        else:
            spec = feats.FeatureSpec(kind="text", text_encoding=text_encoding)
    splits = {use: _split_from_records(records, task, spec, policy) for use, records in by_use.items()}
    accounting.update({f"{use}_items": len(split) for use, split in splits.items()})
    return Examples(task, spec, splits["training"], splits["validation"], splits["test"], accounting)


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet table (local or fsspec URL); Parquet is recognised by its magic bytes."""
    with manifest.open_file(path, "rb") as handle:
        data = handle.read()
    if data[:4] == b"PAR1":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data))


def examples_from_table(
    frame: pd.DataFrame,
    task: str,
    target_column: str,
    *,
    spec: feats.FeatureSpec | None = None,
    ml_use_column: str = "ml_use",
    weight_column: str = "weight",
) -> Examples:
    """Per-split inputs from a table with an ``ml_use`` column; rows without a target are skipped."""
    if feature_kind(task) != "tabular":
        raise TrainingError(f"task {task} reads a manifest; use examples_from_manifest")
    if ml_use_column not in frame.columns:
        raise TrainingError(f"the table has no {ml_use_column!r} column; run split_dataset first")
    if target_column not in frame.columns:
        raise TrainingError(
            f"target column {target_column!r} is not in the table ({', '.join(map(str, frame.columns))})"
        )
    ignore = [c for c in (ml_use_column, weight_column, "id", manifest.ID_KEY) if c in frame.columns]
    spec = spec or feats.tabular_spec_for(frame, target_column, ignore=ignore)
    target = frame[target_column]
    if is_regression(task):
        target = pd.to_numeric(target, errors="coerce")
    labeled = target.notna() & (target.astype(str).str.len() > 0)
    uses = frame[ml_use_column].astype(str)
    ids = frame["id"].astype(str) if "id" in frame.columns else pd.Series([str(i) for i in range(len(frame))])
    weights = frame[weight_column].astype(float) if weight_column in frame.columns else pd.Series(np.ones(len(frame)))
    splits = {}
    for use in manifest.ML_USES:
        rows = (labeled & (uses == use)).to_numpy()
        values = target[rows]
        targets = tuple(float(v) for v in values) if is_regression(task) else tuple(str(v) for v in values)
        splits[use] = Split(
            inputs=feats.tabular_inputs(frame[rows].reset_index(drop=True), spec),
            targets=targets,
            weights=weights[rows].to_numpy(dtype=np.float64),
            ids=tuple(ids[rows]),
        )
    accounting = {
        "input_items": len(frame),
        "skipped_unlabeled": int((~labeled).sum()),
        "skipped_no_ml_use": int((labeled & ~uses.isin(manifest.ML_USES)).sum()),
        **{f"{use}_items": len(split) for use, split in splits.items()},
    }
    return Examples(task, spec, splits["training"], splits["validation"], splits["test"], accounting)


# ---------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class TrainedModel:
    """A fitted scikit-learn estimator and what is needed to use it.

    Classifiers are fitted on label indices ``0..len(labels)-1`` (or an indicator matrix for
    multi-label), so probabilities align with ``labels``.
    """

    estimator: Any
    task: str
    labels: tuple[str, ...]
    spec: feats.FeatureSpec
    family: str
    params: dict

    def predict_proba(self, inputs) -> np.ndarray:
        """Class probabilities ``(n, len(labels))``; independent per label for multi-label."""
        if is_regression(self.task):
            raise TrainingError("a regression model has no class probabilities; use predict_values")
        raw = self.estimator.predict_proba(inputs)
        if is_multilabel(self.task):
            return np.asarray(raw, dtype=np.float64)
        out = np.zeros((len(raw), len(self.labels)))
        out[:, np.asarray(self.estimator.classes_, dtype=int)] = raw
        return out

    def predict_values(self, inputs) -> np.ndarray:
        if not is_regression(self.task):
            raise TrainingError("a classifier predicts probabilities; use predict_proba")
        return np.asarray(self.estimator.predict(inputs), dtype=np.float64)


class SoftVotingEnsemble:
    """A weighted average of fitted models' class probabilities (or predicted values, for regression).

    The final model of a search whose ensemble selection kept more than one candidate. Members are
    fitted on label indices; each member's probabilities are spread onto ``n_labels`` columns by
    its ``classes_`` (a label a member never saw gets 0 from it), so ``classes_`` is
    ``0..n_labels-1``. Saved by :mod:`model_io` (skops), where this class is on the allow-list.
    """

    def __init__(self, members: Sequence, weights: Sequence[float], task: str, n_labels: int):
        if len(members) != len(weights) or not members:
            raise TrainingError(
                f"an ensemble needs one weight per member, got {len(members)} members, {len(weights)} weights"
            )
        total = float(sum(weights))
        self.members = list(members)
        self.weights = [float(w) / total for w in weights]
        self.task = task
        self.n_labels = int(n_labels)
        if not is_regression(task):
            self.classes_ = np.arange(self.n_labels)

    def fit(self, X, y=None, **kwargs):
        """Members are fitted by the search; an ensemble is never refitted as a whole."""
        raise TrainingError("a SoftVotingEnsemble is built from fitted members; run search to train a new one")

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self):
        """scikit-learn's default tags (a Pipeline asks for them), without importing scikit-learn
        when this module is imported."""
        from sklearn.base import BaseEstimator

        return BaseEstimator.__sklearn_tags__(self)

    def predict_proba(self, X) -> np.ndarray:
        return sum(w * _aligned_proba(m, X, self.task, self.n_labels) for m, w in zip(self.members, self.weights))

    def predict(self, X) -> np.ndarray:
        if is_regression(self.task):
            return sum(w * np.asarray(m.predict(X), dtype=np.float64) for m, w in zip(self.members, self.weights))
        proba = self.predict_proba(X)
        return (proba >= 0.5).astype(np.int64) if is_multilabel(self.task) else proba.argmax(axis=1)


@dataclass(frozen=True)
class EnsembleChoice:
    """Which candidates ensemble selection kept (``counts[i]`` times candidate ``i``) and its score."""

    counts: tuple[int, ...]
    score: float

    def members(self) -> list[tuple[int, float]]:
        """``(candidate index, weight)`` of the kept candidates, heaviest first."""
        total = sum(self.counts)
        kept = [(i, c / total) for i, c in enumerate(self.counts) if c > 0]
        return sorted(kept, key=lambda pair: -pair[1])


def greedy_ensemble(predictions: Sequence[np.ndarray], score, *, rounds: int = 25) -> EnsembleChoice:
    """Ensemble selection (Caruana et al., 2004): start from the best single candidate, then add,
    with replacement, the candidate whose addition to the running average scores best; keep the
    best-scoring step (the first on ties, so the smallest ensemble).

    Args:
        predictions: each candidate's predictions on the same selection rows.
        score: higher-is-better score of an averaged prediction.
        rounds: the most candidates (counted with repetition) the average may hold.
    """
    singles = [score(p) for p in predictions]
    first = int(np.argmax(singles))
    counts = np.zeros(len(predictions), dtype=int)
    counts[first] = 1
    total = np.array(predictions[first], dtype=np.float64)
    best = EnsembleChoice(tuple(int(c) for c in counts), float(singles[first]))
    for size in range(2, rounds + 1):
        trial = [score((total + p) / size) for p in predictions]
        pick = int(np.argmax(trial))
        total += predictions[pick]
        counts[pick] += 1
        if trial[pick] > best.score + 1e-12:
            best = EnsembleChoice(tuple(int(c) for c in counts), float(trial[pick]))
    return best


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


# ---------------------------------------------------------------------------------------------
# Model families and their search spaces


@dataclass(frozen=True)
class Family:
    """A model family: its search space, a cheap starting point, its full defaults and a cost measure.

    ``defaults`` fills parameters a configuration lacks (e.g. a base model saved by an older version).
    """

    name: str
    space: dict
    start: dict
    defaults: dict
    cost_key: str | None = None

    @property
    def fewest_units(self) -> float:
        """The smallest ``cost_key`` value the space allows (1 for a family without one)."""
        return float(getattr(self.space.get(self.cost_key), "lower", 1)) if self.cost_key else 1.0


HIST_GB_DEFAULTS = {
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "max_iter": 100,
    "l2_regularization": 1e-6,
    "min_samples_leaf": 20,
}
#: How run time grows with the number of rows, per family (kernel SVMs are about quadratic).
ROW_COST_EXPONENT = {"svc": 2.0}


def families_for(task: str, spec: feats.FeatureSpec | None = None) -> tuple[Family, ...]:
    """The families searched for ``task``, cheapest strong starting point first.

    The first family's ``start`` is fitted before anything else (in this process), so it is the
    kind's cheap, strong default: SGD on TF-IDF for text (logistic regression on embeddings), a
    linear model on image descriptors, scikit-learn's default boosting for tables (stopped early on
    the validation split, as scikit-learn itself does on more than 10,000 rows).
    """
    from flaml import tune

    kind = feature_kind(task)
    logistic = Family(
        "logistic",
        {"C": tune.loguniform(1e-3, 300.0), "balanced": tune.choice([False, True])},
        {"C": 0.1 if kind == "image" else 1.0, "balanced": False},
        {"C": 1.0, "balanced": False},
    )
    boosting = Family(
        "hist_gb",
        {
            "learning_rate": tune.loguniform(0.02, 0.5),
            "max_leaf_nodes": tune.lograndint(8, 128),
            "max_iter": tune.lograndint(10, 1000),
            "l2_regularization": tune.loguniform(1e-6, 10.0),
            "min_samples_leaf": tune.lograndint(2, 100),
        },
        HIST_GB_DEFAULTS if kind == "tabular" else {**HIST_GB_DEFAULTS, "learning_rate": 0.2, "max_iter": 10},
        HIST_GB_DEFAULTS,
        cost_key="max_iter",
    )
    trees = Family(
        "extra_trees",
        {
            "n_estimators": tune.lograndint(16, 800),
            "max_features": tune.uniform(0.05, 1.0),
            "min_samples_leaf": tune.lograndint(1, 16),
        },
        {"n_estimators": 32, "max_features": 0.3, "min_samples_leaf": 1},
        {"n_estimators": 100, "max_features": 0.3, "min_samples_leaf": 1},
        cost_key="n_estimators",
    )
    svc = Family(
        "svc",
        {"C": tune.loguniform(0.1, 300.0), "gamma_scale": tune.loguniform(0.05, 5.0)},
        {"C": 10.0, "gamma_scale": 1.0},
        {"C": 1.0, "gamma_scale": 1.0},
    )
    if kind == "text":
        sgd = Family("sgd", {"alpha": tune.loguniform(1e-6, 1e-3)}, {"alpha": 1e-4}, {"alpha": 1e-4})
        nb = Family("complement_nb", {"alpha": tune.loguniform(1e-3, 1.0)}, {"alpha": 0.1}, {"alpha": 0.1})
        # Embeddings are dense, low-dimensional and can be negative: logistic regression first, no naive Bayes.
        dense = spec is not None and spec.text_encoding != "tfidf"
        return (logistic, sgd) if dense else (sgd, nb, logistic)
    if is_regression(task):
        ridge = Family("ridge", {"alpha": tune.loguniform(1e-3, 1e3)}, {"alpha": 1.0}, {"alpha": 1.0})
        return (boosting, ridge, trees)
    if kind == "tabular":
        return (boosting, logistic, trees)
    if is_multilabel(task):
        return (logistic, trees, boosting)
    return (logistic, svc, trees, boosting)


def shared_preprocessor(spec: feats.FeatureSpec, *, category_codes: bool = False):
    """The unsupervised step in front of every model of ``spec``'s kind, fitted once per search.

    TF-IDF for text, impute + scale + one-hot for tables (plus category codes for boosting when
    ``category_codes``; see :class:`ColumnPlan`), standardisation for image descriptors and
    embeddings. Scaling is harmless for trees and needed by linear and kernel models.
    """
    from sklearn.preprocessing import StandardScaler

    if spec.kind == "text" and spec.text_encoding == "tfidf":
        return feats.text_vectorizer()
    if spec.kind == "tabular":
        return feats.tabular_preprocessor(spec, scale=True, category_codes=category_codes)
    return StandardScaler()


def build_model(
    task: str, family: str, params: dict, *, seed: int, n_jobs: int = 1, categorical: Sequence[bool] | None = None
):
    """An unfitted scikit-learn model of ``family`` (wrapped one-vs-rest for multi-label).

    ``categorical`` marks the columns boosting splits on as categories (codes, not numbers).
    """
    from sklearn import ensemble, linear_model, naive_bayes, svm
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.multiclass import OneVsRestClassifier

    regression = is_regression(task)
    if family == "logistic":
        model = linear_model.LogisticRegression(
            C=params["C"], max_iter=1000, class_weight="balanced" if params.get("balanced") else None
        )
    elif family == "sgd":
        model = linear_model.SGDClassifier(
            loss="modified_huber", alpha=params["alpha"], random_state=seed, max_iter=50, tol=1e-4
        )
    elif family == "complement_nb":
        model = naive_bayes.ComplementNB(alpha=params["alpha"])
    elif family == "ridge":
        model = linear_model.Ridge(alpha=params["alpha"])
    elif family == "svc":
        # Platt-scaled probabilities from 3 folds, then one SVM on all rows (scikit-learn's
        # replacement for SVC(probability=True)).
        kernel = svm.SVC(C=params["C"], gamma=params.get("gamma", "scale"), random_state=seed)
        model = CalibratedClassifierCV(kernel, method="sigmoid", cv=3, ensemble=False)
    elif family == "hist_gb":
        cls = ensemble.HistGradientBoostingRegressor if regression else ensemble.HistGradientBoostingClassifier
        model = cls(
            learning_rate=params["learning_rate"],
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            max_iter=int(params["max_iter"]),
            l2_regularization=params["l2_regularization"],
            min_samples_leaf=int(params.get("min_samples_leaf", 20)),
            early_stopping=bool(params.get("early_stopping", False)),
            n_iter_no_change=10,
            categorical_features=list(categorical) if categorical is not None else "from_dtype",
            random_state=seed,
        )
    elif family == "extra_trees":
        cls = ensemble.ExtraTreesRegressor if regression else ensemble.ExtraTreesClassifier
        model = cls(
            n_estimators=int(params["n_estimators"]),
            max_features=params["max_features"],
            min_samples_leaf=int(params["min_samples_leaf"]),
            n_jobs=n_jobs,
            random_state=seed,
        )
    else:
        raise TrainingError(f"unknown model family {family!r}")
    return OneVsRestClassifier(model) if is_multilabel(task) else model


def build_estimator(task: str, spec: feats.FeatureSpec, family: str, params: dict, *, seed: int, n_jobs: int = 1):
    """An unfitted pipeline: the kind's shared preprocessing then a ``family`` model."""
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("features", shared_preprocessor(spec)),
            ("model", build_model(task, family, params, seed=seed, n_jobs=n_jobs)),
        ]
    )


def fit_estimator(estimator, inputs, y: np.ndarray, weights: np.ndarray | None):
    """Fit a pipeline, passing sample weights to its model (one-vs-rest ignores them)."""
    kwargs = {}
    if weights is not None and not is_one_vs_rest(estimator):
        kwargs["model__sample_weight"] = weights
    with _quiet_single_thread():
        estimator.fit(inputs, y, **kwargs)
    return estimator


@contextlib.contextmanager
def _quiet_single_thread():
    """One BLAS/OpenMP thread (pools spin badly on a busy machine) and no convergence chatter."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*(converge|max_iter).*")
        yield


def is_one_vs_rest(estimator) -> bool:
    return type(estimator.named_steps["model"]).__name__ == "OneVsRestClassifier"


# ---------------------------------------------------------------------------------------------
# Scoring


def validation_score(model: TrainedModel, split: Split) -> float:
    """Higher is better: accuracy (minus a tiny log-loss tie-breaker), micro AP, or R²."""
    y = encode_targets(split.targets, model.labels, model.task)
    predicted = scores_for(model, split.inputs)
    return score_of(model.task, len(model.labels), y, predicted, split.weights)


def score_of(task: str, n_labels: int, y: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> float:
    """The search's objective for predictions ``predicted`` (probabilities or values) of targets ``y``."""
    from sklearn.metrics import average_precision_score, r2_score

    if is_regression(task):
        return float(r2_score(y, predicted, sample_weight=weights))
    if is_multilabel(task):
        return float(average_precision_score(y, predicted, average="micro"))
    accuracy = float(np.average(predicted.argmax(axis=1) == y, weights=weights))
    clipped = np.clip(predicted, 1e-7, 1.0)
    truth = clipped[np.arange(len(y)), y] / clipped.sum(axis=1)
    return accuracy - 1e-3 * float(np.average(-np.log(truth), weights=weights))


# ---------------------------------------------------------------------------------------------
# Search


@dataclass(frozen=True)
class Trial:
    family: str
    params: dict
    score: float | None
    seconds: float
    status: str  # "ok", "stopped_at_budget", "failed: …"


@dataclass(frozen=True)
class SearchResult:
    """The best model and the record of every candidate the search looked at."""

    model: TrainedModel
    validation_score: float
    trials: tuple[Trial, ...]
    seconds: float
    budget_seconds: float
    selection: str  # how the model was selected
    skipped_over_budget: int = 0
    refit: str = "training+validation"  # or "training only: <why the refit failed>"
    refit_seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "family": self.model.family,
            "params": self.model.params,
            "validation_score": self.validation_score,
            "trials": len(self.trials),
            "trials_fitted": sum(t.status == "ok" for t in self.trials),
            "trials_skipped_over_budget": self.skipped_over_budget,
            "search_seconds": round(self.seconds, 3),
            "budget_seconds": self.budget_seconds,
            "selection": self.selection,
            "refit": self.refit,
            "refit_seconds": round(self.refit_seconds, 3),
        }


@dataclass
class _CostModel:
    """Seconds per unit of cost (trees, rounds) seen so far per family: predicts a fit's time."""

    per_unit: dict = field(default_factory=dict)

    def predict(self, family: Family, params: dict) -> float:
        if family.name not in self.per_unit:
            return 0.0
        units = float(params.get(family.cost_key, 1)) if family.cost_key else 1.0
        return self.per_unit[family.name] * units

    def cheapest(self, families) -> float:
        """The least time any of ``families`` could take; 0 while one of them is untimed."""
        return min(self.per_unit.get(f.name, 0.0) * f.fewest_units for f in families)

    def record(self, family: Family, params: dict, seconds: float) -> None:
        units = float(params.get(family.cost_key, 1)) if family.cost_key else 1.0
        self.per_unit[family.name] = max(self.per_unit.get(family.name, 0.0), seconds / max(units, 1.0))


def holdout(training: Split, task: str, fraction: float, seed: int) -> tuple[Split, Split]:
    """Carve a validation split from training when the manifest has none (stratified if possible)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(training))
    stratify = None
    if not is_regression(task) and not is_multilabel(task):
        counts = pd.Series(training.targets).value_counts()
        if counts.min() >= 2 and len(rows) * fraction >= len(counts):
            stratify = list(training.targets)
    fit_rows, valid_rows = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    return take(training, fit_rows), take(training, valid_rows)


def take(split: Split, rows: np.ndarray) -> Split:
    inputs = (
        split.inputs.iloc[rows].reset_index(drop=True) if isinstance(split.inputs, pd.DataFrame) else split.inputs[rows]
    )
    return Split(inputs, tuple(split.targets[i] for i in rows), split.weights[rows], tuple(split.ids[i] for i in rows))


def _known_labels_only(validation: Split, labels: tuple[str, ...], task: str) -> Split:
    """Validation rows whose label the model can predict: with few labels (early active-learning
    rounds) a class may be in validation but not yet in training, and it cannot be scored."""
    if is_regression(task) or is_multilabel(task):
        return validation
    known = set(labels)
    rows = np.array([i for i, target in enumerate(validation.targets) if target in known], dtype=int)
    return validation if len(rows) == len(validation) else take(validation, rows)


def _check_trainable(examples: Examples, labels: tuple[str, ...]) -> None:
    if len(examples.training) == 0:
        raise TrainingError(
            f"no labeled training items (accounting: {examples.accounting}); label items and set ml_use=training"
        )
    if (
        not is_regression(examples.task)
        and len(set(examples.training.targets)) < 2
        and not is_multilabel(examples.task)
    ):
        raise TrainingError(
            "training items carry only one label "
            f"{sorted(set(examples.training.targets))}; a classifier needs at least two"
        )


@dataclass(frozen=True)
class Design:
    """Preprocessed model inputs with encoded targets and weights (one split)."""

    X: Any
    y: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return self.X.shape[0]


@dataclass(frozen=True)
class Prepared:
    """What every candidate shares: the fitted preprocessor and the fit/validation/all designs.

    The preprocessor is unsupervised (TF-IDF vocabulary, scaling, one-hot categories) and is
    fitted once on the training + validation *inputs*, never their labels, so candidates only fit
    their model, and the final refit on training + validation reuses the same features.
    """

    preprocessor: Any
    fit: Design
    validation: Design
    all: Design
    columns: ColumnPlan | None = None


@dataclass(frozen=True)
class ColumnPlan:
    """Which preprocessed columns each family reads, for tables with categorical columns.

    Boosting reads the numerics and the category codes and splits on categories natively (on all
    of diamonds 1.65x faster than on one-hot columns, and no less accurate); every other family
    reads the numerics and the one-hot columns.
    """

    one_hot: tuple[int, ...]
    native: tuple[int, ...]
    native_categorical: tuple[bool, ...]

    def for_family(self, family: str) -> tuple[tuple[int, ...], tuple[bool, ...] | None]:
        """``(columns, categorical mask or None)`` that ``family`` fits on."""
        return (self.native, self.native_categorical) if family == "hist_gb" else (self.one_hot, None)


def column_plan(preprocessor) -> ColumnPlan | None:
    """The :class:`ColumnPlan` of a fitted tabular preprocessor with category codes, else None."""
    blocks = getattr(preprocessor, "output_indices_", {})
    codes = blocks.get("category_codes")
    if codes is None or codes.stop == codes.start:
        return None

    def columns(name: str) -> tuple[int, ...]:
        block = blocks.get(name, slice(0, 0))
        return tuple(range(block.start, block.stop))

    numeric, one_hot, native_codes = columns("numeric"), columns("categorical"), columns("category_codes")
    return ColumnPlan(
        numeric + one_hot, numeric + native_codes, tuple([False] * len(numeric) + [True] * len(native_codes))
    )


def _fit_columns(family: str, plan: ColumnPlan | None, X):
    """``(X restricted to the family's columns, categorical mask)``; ``X`` itself without a plan."""
    if plan is None:
        return X, None
    columns, categorical = plan.for_family(family)
    return X[:, list(columns)], categorical


def _reading_columns(model, family: str, plan: ColumnPlan | None, X):
    """``model`` made to read the full preprocessed ``X``: a column picker in front of it."""
    if plan is None:
        return model
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    columns, _ = plan.for_family(family)
    picker = ColumnTransformer([("columns", "passthrough", list(columns))]).fit(X[:1])
    return Pipeline([("columns", picker), ("model", model)])


def prepare(task: str, spec: feats.FeatureSpec, fit: Split, validation: Split, labels: tuple[str, ...]) -> Prepared:
    """Fit the shared preprocessor on ``fit`` + ``validation`` inputs and transform both."""
    import scipy.sparse

    merged = concat_splits(fit, validation)
    preprocessor = shared_preprocessor(spec, category_codes=True)
    with _quiet_single_thread():
        X_all = preprocessor.fit_transform(merged.inputs)
    if not scipy.sparse.issparse(X_all):
        X_all = np.asarray(X_all, dtype=np.float64)
    y_all = encode_targets(merged.targets, labels, task)
    n = len(fit)
    return Prepared(
        preprocessor,
        Design(X_all[:n], y_all[:n], merged.weights[:n]),
        Design(X_all[n:], y_all[n:], merged.weights[n:]),
        Design(X_all, y_all, merged.weights),
        column_plan(preprocessor),
    )


@dataclass(frozen=True)
class CandidateFit:
    """A model fitted on the fit design, its selection score, the parameters to refit it with, and
    its predictions on the selection rows (validation split, or out-of-fold under
    cross-validation), which ensemble selection combines."""

    model: Any
    score: float
    refit_params: dict
    predicted: np.ndarray


def fit_candidate(
    task: str,
    family: str,
    params: dict,
    fit: Design,
    validation: Design,
    n_labels: int,
    seed: int,
    n_jobs: int = 1,
    *,
    early_stopping: bool = True,
    columns: ColumnPlan | None = None,
) -> CandidateFit:
    """Fit one candidate on ``fit`` and score it on ``validation`` (the child process's job).

    With ``early_stopping``, boosting stops early on the validation design and the number of
    rounds it kept becomes the refit's ``max_iter``. An SVM's ``gamma`` is its ``gamma_scale``
    over the feature variance. With ``columns``, the model fits on its family's columns and is
    returned with a column picker in front, so it reads the full design like every other.
    """
    params = _resolved_params(family, params, fit.X)
    early = early_stopping and family == "hist_gb" and not is_multilabel(task) and len(validation) > 0
    X_fit, categorical = _fit_columns(family, columns, fit.X)
    X_val, _ = _fit_columns(family, columns, validation.X)
    model = build_model(
        task, family, {**params, "early_stopping": early}, seed=seed, n_jobs=n_jobs, categorical=categorical
    )
    kwargs = {} if is_multilabel(task) else {"sample_weight": fit.weights}
    if early:
        kwargs.update(X_val=X_val, y_val=validation.y, sample_weight_val=validation.weights)
    with _quiet_single_thread():
        model.fit(X_fit, fit.y, **kwargs)
        predicted = _estimator_scores(model, X_val, task, n_labels)
    if early:
        params["max_iter"] = int(model.n_iter_)
    return CandidateFit(
        _reading_columns(model, family, columns, fit.X),
        score_of(task, n_labels, validation.y, predicted, validation.weights),
        params,
        np.asarray(predicted, dtype=np.float64),
    )


def _resolved_params(family: str, params: dict, X) -> dict:
    """``params`` with an SVM's ``gamma`` set to its ``gamma_scale`` over the feature variance of ``X``."""
    params = dict(params)
    if family == "svc" and "gamma_scale" in params:
        params["gamma"] = float(params["gamma_scale"] / (X.shape[1] * max(float(_variance(X)), 1e-12)))
    return params


def _variance(X) -> float:
    import scipy.sparse

    if scipy.sparse.issparse(X):
        mean = float(X.mean())
        return float(X.multiply(X).mean()) - mean * mean
    return float(np.var(X))


def cross_validate_candidate(
    task: str,
    family: str,
    params: dict,
    design: Design,
    n_labels: int,
    seed: int,
    folds: int,
    n_jobs: int = 1,
    columns: ColumnPlan | None = None,
) -> CandidateFit:
    """Score one candidate by ``folds``-fold cross-validation on ``design`` (training + validation).

    For cheap candidates this ranks far more steadily than one small validation split. The
    out-of-fold predictions cover every row; the last fold's model is kept as the fallback used
    when the refit on all rows does not fit in the budget.
    """
    params = _resolved_params(family, params, design.X)
    predicted = None
    model = None
    for fit_rows, held_rows in _fold_rows(task, design.y, folds, seed):
        part = Design(design.X[fit_rows], design.y[fit_rows], design.weights[fit_rows])
        model = refit_model(task, family, params, part, seed, n_jobs, columns)
        with _quiet_single_thread():
            scores = _estimator_scores(model, design.X[held_rows], task, n_labels)
        if predicted is None:
            predicted = np.zeros((len(design),) + np.shape(scores)[1:])
        predicted[held_rows] = scores
    return CandidateFit(model, score_of(task, n_labels, design.y, predicted, design.weights), params, predicted)


def _fold_rows(task: str, y: np.ndarray, folds: int, seed: int):
    """``(fit_rows, held_rows)`` per fold; stratified for single-label classes that allow it."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if not is_regression(task) and not is_multilabel(task):
        counts = np.bincount(y)
        if counts[counts > 0].min() >= folds:
            return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y))))


def _estimator_scores(model, X, task: str, n_labels: int) -> np.ndarray:
    """A fitted estimator's predicted values (regression) or probabilities over all ``n_labels``."""
    return model.predict(X) if is_regression(task) else _aligned_proba(model, X, task, n_labels)


def _aligned_proba(model, X, task: str, n_labels: int) -> np.ndarray:
    raw = model.predict_proba(X)
    if is_multilabel(task):
        return np.asarray(raw, dtype=np.float64)
    out = np.zeros((len(raw), n_labels))
    out[:, np.asarray(model.classes_, dtype=int)] = raw
    return out


def refit_model(
    task: str, family: str, params: dict, design: Design, seed: int, n_jobs: int = 1, columns: ColumnPlan | None = None
):
    """The chosen configuration fitted on ``design`` (training + validation), no early stopping."""
    X, categorical = _fit_columns(family, columns, design.X)
    model = build_model(
        task, family, {**params, "early_stopping": False}, seed=seed, n_jobs=n_jobs, categorical=categorical
    )
    kwargs = {} if is_multilabel(task) else {"sample_weight": design.weights}
    with _quiet_single_thread():
        model.fit(X, design.y, **kwargs)
    return _reading_columns(model, family, columns, design.X)


def search(
    examples: Examples,
    *,
    budget_seconds: float,
    seed: int = 0,
    extra_labels: Sequence[str] = (),
    start_from: dict | None = None,
    families: Sequence[str] | None = None,
    n_jobs: int = 1,
    cv_folds: int | None = None,
    clock=time.monotonic,
) -> SearchResult:
    """Search model families and hyper-parameters within ``budget_seconds``; return the best model.

    Every candidate is fitted on the training split and scored on the validation split, or, for
    cheap candidates (text), cross-validated on training + validation. Ensemble selection
    (Caruana et al., 2004) then averages the candidates whose predictions together score best; its
    members are refitted on training + validation.

    The budget is strict, as Vertex AutoML's ``budget_milli_node_hours`` is: once a model exists,
    no candidate starts that would leave too little time to refit the current ensemble, a
    candidate still fitting at the deadline is stopped, and a member whose refit would not finish
    in time keeps its training-only fit (``SearchResult.refit`` says which). The one exception is
    the first candidate, the kind's default, which runs in this process while the fork server for
    the others starts: a budget shorter than that one fit is overrun by it, and its model is
    returned without a refit.

    Args:
        examples: training/validation inputs (a validation split is carved from training if empty).
        budget_seconds: wall-clock budget of the search and the refits.
        seed: seed for the search and the models.
        extra_labels: labels to include even if absent from training (e.g. the base model's).
        start_from: ``{"family": ..., "params": ...}`` evaluated first (warm start from a base
            model; an ensemble's members are each evaluated first).
        families: restrict the search to these family names.
        n_jobs: cores per candidate for the tree ensembles.
        cv_folds: cross-validation folds for selection (0: the validation split); by default 5
            for text, whose candidates are cheap, else 0.
    """
    started = clock()
    deadline = started + float(budget_seconds)
    task = examples.task
    labels = () if is_regression(task) else label_set(examples.training.targets, task, extra_labels)
    _check_trainable(examples, labels)
    _start_fork_server()
    folds = default_cv_folds(examples.spec) if cv_folds is None else int(cv_folds)
    fit_split, validation = examples.training, _known_labels_only(examples.validation, labels, task)
    if folds:
        selection = f"{folds}-fold cross-validation on training+validation, ensemble selection"
    elif len(validation) == 0:
        fit_split, validation = holdout(fit_split, task, 0.2, seed)
        selection = "20% holdout of training (the manifest has no validation items), ensemble selection"
    else:
        selection = "validation split, ensemble selection"
    known = [f for f in families_for(task, examples.spec) if families is None or f.name in families]
    if not known:
        raise TrainingError(f"no model family among {families} for task {task}")
    prepared = prepare(task, examples.spec, fit_split, validation, labels)
    state = _SearchState(task, {f.name: f for f in known}, prepared, len(labels), seed, n_jobs, deadline, clock, folds)
    starts = _starting_points(known, start_from)
    state.evaluate(starts[0])  # always runs: even a tiny budget gets the kind's default
    _run_tuner(state, starts[1:])
    if state.choice is None:
        raise TrainingError(
            f"no candidate finished within {budget_seconds}s ({len(state.trials)} tried: "
            f"{[t.status for t in state.trials][:5]}); raise budget_seconds"
        )
    final = _refit_ensemble(state, state.choice)
    from sklearn.pipeline import Pipeline

    estimator = Pipeline([("features", prepared.preprocessor), ("model", final.model)])
    trained = TrainedModel(estimator, task, labels, examples.spec, final.family, final.params)
    return SearchResult(
        trained,
        state.choice.score,
        tuple(state.trials),
        clock() - started,
        float(budget_seconds),
        selection,
        state.skipped,
        final.how,
        final.seconds,
    )


def default_cv_folds(spec: feats.FeatureSpec) -> int:
    """Selection folds for a kind: 5 for text (linear models and naive Bayes fit in a fraction of a
    second, and a few hundred validation texts rank them noisily), else 0 (the validation split)."""
    return 5 if spec.kind == "text" else 0


def _start_fork_server() -> None:
    """Start the fork server now (it imports scikit-learn for a second or two) so it is ready by
    the time the second candidate needs it; the first runs in this process meanwhile."""
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(FORKSERVER_PRELOAD))
    forkserver.ensure_running()


def _starting_points(known: Sequence[Family], start_from: dict | None) -> list[dict]:
    """Each family's starting point (in ``known``'s order), the warm start first; then sklearn's
    default boosting where it was not already a start (a strong baseline on descriptors)."""
    by_name = {f.name: f for f in known}
    starts = [{"family": {"name": f.name, **f.start}} for f in known]
    if "hist_gb" in by_name and by_name["hist_gb"].start != HIST_GB_DEFAULTS:
        starts.append({"family": {"name": "hist_gb", **HIST_GB_DEFAULTS}})
    warm = [(name, params) for name, params in warm_start_configs(start_from) if name in by_name]
    for name, params in reversed(warm):
        family = by_name[name]
        given = {k: v for k, v in params.items() if k in family.defaults}
        starts.insert(0, {"family": {"name": family.name, **family.defaults, **given}})
    return starts


def warm_start_configs(start_from: dict | None) -> list[tuple[str, dict]]:
    """``(family, params)`` to evaluate first: the base model's, or each member of its ensemble."""
    if not start_from:
        return []
    members = start_from.get("params", {}).get("members")
    if str(start_from.get("family", "")).startswith("ensemble(") and isinstance(members, list):
        return [(m["family"], m.get("params", {})) for m in members if isinstance(m, dict) and "family" in m]
    return [(start_from.get("family", ""), start_from.get("params", {}))]


@dataclass(frozen=True)
class _Candidate:
    family: str
    fitted: CandidateFit
    seconds: float


#: The refit reserve is this many times the members' predicted refit time.
REFIT_RESERVE_MARGIN = 1.2
#: Ensemble selection looks at this many of the best-scoring candidates of each family, so that a
#: long search's many near-identical configurations of one family do not crowd out the others.
ENSEMBLE_POOL_PER_FAMILY = 5


@dataclass
class _SearchState:
    """The search's running record: candidates tried, the current ensemble, and the time rules."""

    task: str
    by_name: dict
    prepared: Prepared
    n_labels: int
    seed: int
    n_jobs: int
    deadline: float
    clock: Any
    folds: int = 0  # 0: score on the validation design; else cross-validate on the whole design
    trials: list = field(default_factory=list)
    cost: _CostModel = field(default_factory=_CostModel)
    pool: list = field(default_factory=list)  # _Candidate, best score first
    choice: EnsembleChoice | None = None
    skipped: int = 0  # candidates not started because their expected fit time exceeded the budget left

    def selection_design(self) -> Design:
        return self.prepared.all if self.folds else self.prepared.validation

    def one_fit_seconds(self, candidate: _Candidate) -> tuple[float, float]:
        """``(seconds, rows)`` of one fit of ``candidate`` (a cross-validated one made ``folds``)."""
        if self.folds:
            return candidate.seconds / self.folds, len(self.prepared.all) * (self.folds - 1) / self.folds
        return candidate.seconds, len(self.prepared.fit)

    def predicted_refit(self, candidate: _Candidate) -> float:
        seconds, rows = self.one_fit_seconds(candidate)
        return predicted_refit_seconds(candidate.family, seconds, int(rows), len(self.prepared.all))

    def refit_reserve(self) -> float:
        """Seconds to keep for refitting the current ensemble's members on training + validation,
        with a margin for timing noise on a busy machine."""
        if self.choice is None:
            return 0.0
        return REFIT_RESERVE_MARGIN * sum(self.predicted_refit(self.pool[i]) for i, _ in self.choice.members())

    def time_left(self) -> float:
        return self.deadline - self.clock() - self.refit_reserve()

    def evaluate(self, config: dict) -> dict | None:
        """FLAML's objective: fit one candidate within the time left; ``None`` ends the search."""
        choice = dict(config["family"])
        family = self.by_name[choice.pop("name")]
        choice = {**family.defaults, **choice}
        first = not self.pool and not self.trials
        left = self.time_left()
        if not first and left <= self.cost.cheapest(self.by_name.values()):
            return None  # not even the cheapest configuration of any family fits: stop proposing
        if not first and self.cost.predict(family, choice) > left:
            self.skipped += 1
            return {"score": -1e9}
        job = self._job(family, choice)
        t0 = self.clock()
        try:
            fitted = (
                job()
                if first
                else run_with_deadline(
                    job, _candidate_timeout(left, first_of_family=family.name not in self.cost.per_unit)
                )
            )
        except CandidateTimeout:
            self.cost.record(family, choice, self.clock() - t0)
            self.trials.append(Trial(family.name, _plain(choice), None, self.clock() - t0, "stopped_at_budget"))
            return {"score": -1e9}
        except (ValueError, np.linalg.LinAlgError) as err:
            self.trials.append(Trial(family.name, _plain(choice), None, self.clock() - t0, f"failed: {err}"))
            return {"score": -1e9}
        seconds = self.clock() - t0
        self.cost.record(family, choice, seconds)
        self.trials.append(Trial(family.name, _plain(fitted.refit_params), fitted.score, seconds, "ok"))
        self._add(_Candidate(family.name, fitted, seconds))
        return {"score": fitted.score}

    def _job(self, family: Family, params: dict):
        """The candidate's fit as a picklable call (boosting stops early on the validation split)."""
        if self.folds:
            return functools.partial(
                cross_validate_candidate,
                self.task,
                family.name,
                params,
                self.prepared.all,
                self.n_labels,
                self.seed,
                self.folds,
                self.n_jobs,
                self.prepared.columns,
            )
        return functools.partial(
            fit_candidate,
            self.task,
            family.name,
            params,
            self.prepared.fit,
            self.prepared.validation,
            self.n_labels,
            self.seed,
            self.n_jobs,
            columns=self.prepared.columns,
        )

    def _add(self, candidate: _Candidate) -> None:
        """Keep each family's best candidates and re-run ensemble selection over them."""
        self.pool = diverse_pool([*self.pool, candidate], ENSEMBLE_POOL_PER_FAMILY)
        design = self.selection_design()
        score = functools.partial(score_of, self.task, self.n_labels, design.y, weights=design.weights)
        self.choice = greedy_ensemble([c.fitted.predicted for c in self.pool], lambda p: score(predicted=p))


def diverse_pool(candidates: Sequence, per_family: int) -> list:
    """The best-scoring ``per_family`` candidates of each family, best score first."""
    kept, seen = [], {}
    for candidate in sorted(candidates, key=lambda c: -c.fitted.score):
        seen[candidate.family] = seen.get(candidate.family, 0) + 1
        if seen[candidate.family] <= per_family:
            kept.append(candidate)
    return kept


def _run_tuner(state: _SearchState, starts: list[dict]) -> None:
    """Let FLAML try ``starts`` then propose candidates until the time left (refit reserve
    deducted) runs out."""
    from flaml import tune

    if state.time_left() <= 0:
        return
    space = {"family": tune.choice([{"name": f.name, **f.space} for f in state.by_name.values()])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tune.run(
            state.evaluate,
            config=space,
            metric="score",
            mode="max",
            points_to_evaluate=starts,
            time_budget_s=state.deadline - state.clock(),
            num_samples=-1,
            verbose=0,
        )


def predicted_refit_seconds(family: str, fit_seconds: float, fit_rows: int, all_rows: int) -> float:
    """Expected time to refit a candidate on ``all_rows`` that took ``fit_seconds`` on ``fit_rows``."""
    growth = (all_rows / max(fit_rows, 1)) ** ROW_COST_EXPONENT.get(family, 1.0)
    return 1.1 * fit_seconds * growth


@dataclass(frozen=True)
class _FinalModel:
    model: Any
    family: str
    params: dict
    how: str  # "training+validation", or which members kept their training-only fit and why
    seconds: float


def _refit_ensemble(state: _SearchState, choice: EnsembleChoice) -> _FinalModel:
    """Refit the chosen members on training + validation, heaviest first; a member whose refit
    fails or does not fit in the budget keeps its fit from the search. One member is returned
    as itself, several as a :class:`SoftVotingEnsemble`."""
    t0 = state.clock()
    models, notes = [], []
    for index, _ in choice.members():
        candidate = state.pool[index]
        model, note = _refit_member(state, candidate)
        models.append(model)
        if note:
            notes.append(f"{candidate.family}: {note}")
    members = [(state.pool[i], w) for i, w in choice.members()]
    how = (
        "training+validation" if not notes else f"training only for {len(notes)} of {len(members)}: " + "; ".join(notes)
    )
    if len(members) == 1:
        candidate = members[0][0]
        return _FinalModel(models[0], candidate.family, _plain(candidate.fitted.refit_params), how, state.clock() - t0)
    names = list(dict.fromkeys(c.family for c, _ in members))
    params = {
        "members": [
            {"family": c.family, "params": _plain(c.fitted.refit_params), "weight": round(w, 6)} for c, w in members
        ]
    }
    ensemble = SoftVotingEnsemble(models, [w for _, w in members], state.task, state.n_labels)
    return _FinalModel(ensemble, f"ensemble({'+'.join(names)})", params, how, state.clock() - t0)


#: Refits expected to take less than this run in this process: a child process costs about a
#: second to start and to receive the data, which would dominate a short refit.
IN_PROCESS_REFIT_SECONDS = 2.0


def _refit_member(state: _SearchState, candidate: _Candidate):
    """``(model, note)``: the candidate refitted on all rows (note empty), or its search fit and why."""
    predicted = state.predicted_refit(candidate)
    left = state.deadline - state.clock()
    if predicted > left:
        return candidate.fitted.model, f"no time to refit (needs ~{predicted:.1f}s, {max(left, 0):.1f}s left)"
    job = functools.partial(
        refit_model,
        state.task,
        candidate.family,
        candidate.fitted.refit_params,
        state.prepared.all,
        state.seed,
        state.n_jobs,
        state.prepared.columns,
    )
    try:
        return (job() if predicted < IN_PROCESS_REFIT_SECONDS else run_with_deadline(job, left)), ""
    except (CandidateTimeout, ValueError, np.linalg.LinAlgError) as err:
        return candidate.fitted.model, f"refit failed ({err})"


def _candidate_timeout(remaining: float, *, first_of_family: bool) -> float:
    """Time a candidate may take: a family's first candidate (cost unknown) gets half of what is
    left, so one slow family cannot eat the whole budget."""
    return remaining / 2 if first_of_family else remaining


#: Imported once by the fork server so each candidate process starts warm.
FORKSERVER_PRELOAD = (
    "labelloop.components.core.train",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.naive_bayes",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.feature_extraction.text",
    "sklearn.svm",
    "sklearn.calibration",
)


class CandidateTimeout(TimeoutError):
    """A candidate's fit was stopped because the search budget ran out."""


def run_with_deadline(function, seconds: float):
    """Run ``function()`` (picklable) in a child process; return its result, killing it after ``seconds``.

    This is what makes the budget strict: a fit that would overrun is stopped, not awaited.
    Children come from a fork server with the libraries preloaded, not from a plain fork of this
    process: a process that already used OpenMP (e.g. predicted with a boosting model) would
    deadlock its forked children. Errors raised by ``function`` are re-raised as ValueError.
    """
    import multiprocessing

    if seconds <= 0:
        raise CandidateTimeout("no budget left")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(function, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise CandidateTimeout(f"candidate still fitting after {seconds:.1f}s")
        status, value = receiver.recv()
    except EOFError:
        status, value = "error", f"candidate process died (exit code {child.exitcode})"
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if status == "error":
        raise ValueError(value)
    return value


def _child_main(function, sender) -> None:
    try:
        result = ("ok", function())
    except Exception as err:  # noqa: BLE001 - any failure is reported to the parent, which raises it there
        result = ("error", f"{type(err).__name__}: {err}")
    sender.send(result)
    sender.close()


def _plain(params: dict) -> dict:
    """JSON-friendly hyper-parameters (numpy scalars to Python)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}


def fit_quick(examples: Examples, *, extra_labels: Sequence[str] = (), seed: int = 0, C: float = 1.0) -> TrainedModel:
    """One class-balanced logistic regression on training + validation: the active-learning fast path.

    Class balancing keeps small, skewed label sets (a few dozen labels) from collapsing to the
    majority class.
    """
    task = examples.task
    if is_regression(task):
        raise TrainingError("fit_quick is for classification; use search for regression")
    merged = concat_splits(examples.training, examples.validation)
    labels = label_set(merged.targets, task, extra_labels)
    _check_trainable(
        Examples(task, examples.spec, merged, examples.validation, examples.test, examples.accounting), labels
    )
    params = {"C": C, "balanced": True}
    estimator = build_estimator(task, examples.spec, "logistic", params, seed=seed)
    fit_estimator(estimator, merged.inputs, encode_targets(merged.targets, labels, task), merged.weights)
    return TrainedModel(estimator, task, labels, examples.spec, "logistic", params)


def concat_splits(first: Split, second: Split) -> Split:
    if len(second) == 0:
        return first
    if isinstance(first.inputs, pd.DataFrame):
        inputs = pd.concat([first.inputs, second.inputs], ignore_index=True)
    else:
        inputs = np.concatenate([first.inputs, second.inputs])
    return Split(
        inputs, first.targets + second.targets, np.concatenate([first.weights, second.weights]), first.ids + second.ids
    )


# ---------------------------------------------------------------------------------------------
# Entry points used by the components


def load_examples(
    path: str,
    task: str,
    *,
    target_column: str = "",
    spec: feats.FeatureSpec | None = None,
    machine_label_weight: float = 1.0,
) -> Examples:
    """Examples from a JSONL manifest (image/text tasks) or a CSV/Parquet table (tabular tasks)."""
    if feature_kind(task) == "tabular":
        if not target_column:
            raise TrainingError(f"task {task} needs target_column, the table column to predict")
        return examples_from_table(read_table(path), task, target_column, spec=spec)
    return examples_from_manifest(path, task, spec=spec, policy=WeightPolicy(machine_label_weight))


def scores_for(model: TrainedModel, inputs) -> np.ndarray:
    """Class probabilities (classification) or predicted values (regression)."""
    return model.predict_values(inputs) if is_regression(model.task) else model.predict_proba(inputs)


@dataclass(frozen=True)
class PredictionSummary:
    predicted: int
    rejected: int
    labels: tuple[str, ...]


def _prediction_line(item: str, model: TrainedModel, row: np.ndarray) -> dict:
    if is_regression(model.task):
        return {"id": item, "value": float(row)}
    top = int(np.argmax(row))
    return {
        "id": item,
        "probabilities": {name: float(p) for name, p in zip(model.labels, row)},
        "label": model.labels[top],
        "confidence": float(row[top]),
    }


def predict_manifest(
    model: TrainedModel, path: str, out_jsonl: str, out_npy: str, out_ids: str, rejects, *, chunk_size: int = 512
) -> PredictionSummary:
    """Stream predictions for every item of a manifest (or table rows) in chunks.

    Writes one JSONL line per item (``{"id", "probabilities", "label", "confidence"}``), a float32
    ``.npy`` of scores in manifest order and the ids, one per line. Items that cannot be featurized
    go to ``rejects`` (a :class:`manifest.RejectsWriter`) with the reason.
    """
    rows: list[np.ndarray] = []
    ids: list[str] = []
    with manifest.atomic_writer(out_jsonl) as lines:
        for chunk in _input_chunks(model, path, rejects, chunk_size):
            scores = scores_for(model, chunk[1])
            for item, row in zip(chunk[0], scores):
                lines.write(manifest.dumps(_prediction_line(item, model, row)))
            rows.append(np.asarray(scores, dtype=np.float32))
            ids.extend(chunk[0])
    width = () if is_regression(model.task) else (len(model.labels),)
    matrix = np.concatenate(rows) if rows else np.zeros((0, *width), dtype=np.float32)
    with manifest.atomic_writer(out_npy) as handle:
        np.save(handle, matrix)
    with manifest.atomic_writer(out_ids) as handle:
        handle.write("".join(f"{i}\n" for i in ids).encode("utf-8"))
    return PredictionSummary(len(ids), rejects.total, model.labels)


def _input_chunks(model: TrainedModel, path: str, rejects, chunk_size: int):
    """``(ids, inputs)`` chunks; unreadable items are rejected one by one, not the whole chunk."""
    if model.spec.kind == "tabular":
        frame = read_table(path)
        ids = frame["id"].astype(str).tolist() if "id" in frame.columns else [str(i) for i in range(len(frame))]
        for start in range(0, len(frame), chunk_size):
            part = frame.iloc[start : start + chunk_size].reset_index(drop=True)
            yield ids[start : start + chunk_size], feats.tabular_inputs(part, model.spec)
        return
    batch: list[tuple[str, object]] = []
    for line in manifest.read_lines(path):
        try:
            item = manifest.item_id(line.record)
            raw = (
                feats.read_image(manifest.content_of(line.record)[1], model.spec)
                if model.spec.kind == "image"
                else text_of(line.record)
            )
        except (KeyError, feats.FeatureError, TrainingError, OSError) as err:
            rejects.reject(line.record, "unreadable", f"{path}:{line.number}: {err}", line=line.number)
            continue
        batch.append((item, raw))
        if len(batch) >= chunk_size:
            yield _featurized(batch, model.spec)
            batch = []
    if batch:
        yield _featurized(batch, model.spec)


def _featurized(batch, spec: feats.FeatureSpec):
    ids = [item for item, _ in batch]
    raws = [raw for _, raw in batch]
    if spec.kind == "image":
        return ids, feats.image_features(raws, spec)
    return ids, feats.text_inputs(raws, spec)


@dataclass(frozen=True)
class ScoredSplit:
    """Targets and each model's scores on one split, aligned to one label list."""

    y: np.ndarray
    scores: tuple[np.ndarray, ...]
    labels: tuple[str, ...]


def score_split(models: Sequence[TrainedModel], split: Split) -> ScoredSplit:
    """Score ``split`` with every model; probability columns are aligned to the union of the
    models' labels and the split's labels (a label a model lacks scores 0)."""
    from .metrics import align_scores

    task = models[0].task
    if any(m.task != task for m in models):
        raise TrainingError(f"models solve different tasks {[m.task for m in models]}; compare like with like")
    if is_regression(task):
        return ScoredSplit(
            encode_targets(split.targets, (), task), tuple(m.predict_values(split.inputs) for m in models), ()
        )
    labels = label_set(split.targets, task, [name for m in models for name in m.labels])
    scores = tuple(align_scores(m.predict_proba(split.inputs), m.labels, labels) for m in models)
    return ScoredSplit(encode_targets(split.targets, labels, task), scores, labels)
