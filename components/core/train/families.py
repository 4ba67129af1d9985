"""Model families: their search spaces and starting points, how to build a scikit-learn model of
each, the shared unsupervised preprocessing, and which preprocessed columns each family reads."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import features as feats
from .tasks import TrainingError, feature_kind, is_multilabel, is_regression


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
    with quiet_single_thread():
        estimator.fit(inputs, y, **kwargs)
    return estimator


@contextlib.contextmanager
def quiet_single_thread():
    """One BLAS/OpenMP thread (pools spin badly on a busy machine) and no convergence chatter."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*(converge|max_iter).*")
        yield


def is_one_vs_rest(estimator) -> bool:
    return type(estimator.named_steps["model"]).__name__ == "OneVsRestClassifier"


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


def fit_columns(family: str, plan: ColumnPlan | None, X):
    """``(X restricted to the family's columns, categorical mask)``; ``X`` itself without a plan."""
    if plan is None:
        return X, None
    columns, categorical = plan.for_family(family)
    return X[:, list(columns)], categorical


def reading_columns(model, family: str, plan: ColumnPlan | None, X):
    """``model`` made to read the full preprocessed ``X``: a column picker in front of it."""
    if plan is None:
        return model
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    columns, _ = plan.for_family(family)
    picker = ColumnTransformer([("columns", "passthrough", list(columns))]).fit(X[:1])
    return Pipeline([("columns", picker), ("model", model)])
