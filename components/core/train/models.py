"""Trained models: a fitted estimator with its task and labels, the soft-voting ensemble a search
may return, and greedy ensemble selection over candidates' predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import features as feats
from .tasks import TrainingError, is_multilabel, is_regression


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
        return sum(w * aligned_proba(m, X, self.task, self.n_labels) for m, w in zip(self.members, self.weights))

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


def estimator_scores(model, X, task: str, n_labels: int) -> np.ndarray:
    """A fitted estimator's predicted values (regression) or probabilities over all ``n_labels``."""
    return model.predict(X) if is_regression(task) else aligned_proba(model, X, task, n_labels)


def aligned_proba(model, X, task: str, n_labels: int) -> np.ndarray:
    raw = model.predict_proba(X)
    if is_multilabel(task):
        return np.asarray(raw, dtype=np.float64)
    out = np.zeros((len(raw), n_labels))
    out[:, np.asarray(model.classes_, dtype=int)] = raw
    return out
