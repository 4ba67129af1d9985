"""One candidate of the search: the shared preprocessed designs, and fitting, cross-validating and
refitting one family's configuration on them (the work a child process does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import features as feats
from .examples import Split, concat_splits
from .families import (
    ColumnPlan,
    build_model,
    column_plan,
    fit_columns,
    quiet_single_thread,
    reading_columns,
    shared_preprocessor,
)
from .models import estimator_scores
from .prediction import score_of
from .tasks import encode_targets, is_multilabel, is_regression


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


def prepare(task: str, spec: feats.FeatureSpec, fit: Split, validation: Split, labels: tuple[str, ...]) -> Prepared:
    """Fit the shared preprocessor on ``fit`` + ``validation`` inputs and transform both."""
    import scipy.sparse

    merged = concat_splits(fit, validation)
    preprocessor = shared_preprocessor(spec, category_codes=True)
    with quiet_single_thread():
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
    X_fit, categorical = fit_columns(family, columns, fit.X)
    X_val, _ = fit_columns(family, columns, validation.X)
    model = build_model(
        task, family, {**params, "early_stopping": early}, seed=seed, n_jobs=n_jobs, categorical=categorical
    )
    kwargs = {} if is_multilabel(task) else {"sample_weight": fit.weights}
    if early:
        kwargs.update(X_val=X_val, y_val=validation.y, sample_weight_val=validation.weights)
    with quiet_single_thread():
        model.fit(X_fit, fit.y, **kwargs)
        predicted = estimator_scores(model, X_val, task, n_labels)
    if early:
        params["max_iter"] = int(model.n_iter_)
    return CandidateFit(
        reading_columns(model, family, columns, fit.X),
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
        with quiet_single_thread():
            scores = estimator_scores(model, design.X[held_rows], task, n_labels)
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


def refit_model(
    task: str, family: str, params: dict, design: Design, seed: int, n_jobs: int = 1, columns: ColumnPlan | None = None
):
    """The chosen configuration fitted on ``design`` (training + validation), no early stopping."""
    X, categorical = fit_columns(family, columns, design.X)
    model = build_model(
        task, family, {**params, "early_stopping": False}, seed=seed, n_jobs=n_jobs, categorical=categorical
    )
    kwargs = {} if is_multilabel(task) else {"sample_weight": design.weights}
    with quiet_single_thread():
        model.fit(X, design.y, **kwargs)
    return reading_columns(model, family, columns, design.X)
