"""Evaluation metrics for classifiers (single- and multi-label) and regressors, plus an HTML report.

Every metric is a plain function of ``(y, scores)`` so the promotion gate can recompute it on
bootstrap resamples (:func:`metric_function`). Names follow Vertex's evaluation vocabulary.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Metrics where a smaller value is better; every other metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "ece", "mae", "rmse"})
CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "micro_f1", "au_prc", "au_roc", "log_loss", "ece")
REGRESSION_METRICS = ("mae", "rmse", "r2")


@dataclass(frozen=True)
class Evaluation:
    """Scalar metrics, per-label metrics, a confusion matrix and a ROC curve for one model."""

    task: str
    labels: tuple[str, ...]
    scalars: dict
    per_label: dict
    confusion_matrix: tuple[tuple[int, ...], ...]
    roc: dict  # {"fpr": [...], "tpr": [...], "thresholds": [...]}
    count: int


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def align_scores(scores: np.ndarray, model_labels: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Columns of ``scores`` re-ordered to ``labels``; labels the model lacks get score 0."""
    out = np.zeros((scores.shape[0], len(labels)))
    position = {name: i for i, name in enumerate(model_labels)}
    for column, name in enumerate(labels):
        if name in position:
            out[:, column] = scores[:, position[name]]
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE: the bin-weighted gap between confidence and accuracy over equal-width bins."""
    if len(confidence) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


def _normalised(proba: np.ndarray) -> np.ndarray:
    clipped = np.clip(proba, 1e-15, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)


def _single_label_scalars(y: np.ndarray, proba: np.ndarray) -> dict:
    from sklearn import metrics as sk

    n_labels = proba.shape[1]
    predicted = proba.argmax(axis=1)
    present = np.unique(y)
    onehot = np.eye(n_labels)[y]
    scalars = {
        "accuracy": float((predicted == y).mean()),
        "macro_f1": float(sk.f1_score(y, predicted, labels=present, average="macro", zero_division=0)),
        "micro_f1": float(sk.f1_score(y, predicted, labels=range(n_labels), average="micro", zero_division=0)),
        "log_loss": float(sk.log_loss(y, _normalised(proba), labels=range(n_labels))),
        "ece": expected_calibration_error(proba.max(axis=1), (predicted == y).astype(float)),
    }
    if len(present) > 1:
        scalars["au_prc"] = float(sk.average_precision_score(onehot[:, present], proba[:, present], average="macro"))
        scalars["au_roc"] = float(sk.roc_auc_score(onehot[:, present], proba[:, present], average="macro"))
    else:
        scalars["au_prc"] = scalars["au_roc"] = float("nan")
    return scalars


def _multilabel_scalars(y: np.ndarray, proba: np.ndarray) -> dict:
    from sklearn import metrics as sk

    predicted = (proba >= 0.5).astype(int)
    clipped = np.clip(proba, 1e-15, 1 - 1e-15)
    varied = [c for c in range(y.shape[1]) if 0 < y[:, c].sum() < len(y)]
    return {
        "accuracy": float((predicted == y).all(axis=1).mean()),  # exact match
        "macro_f1": float(sk.f1_score(y, predicted, average="macro", zero_division=0)),
        "micro_f1": float(sk.f1_score(y, predicted, average="micro", zero_division=0)),
        "log_loss": float(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean()),
        "ece": expected_calibration_error(proba.ravel(), y.ravel().astype(float)),
        "au_prc": float(sk.average_precision_score(y, proba, average="micro")) if y.any() else float("nan"),
        "au_roc": float(sk.roc_auc_score(y[:, varied], proba[:, varied], average="micro")) if varied else float("nan"),
    }


def classification_scalars(y: np.ndarray, proba: np.ndarray, *, multilabel: bool) -> dict:
    """Scalar metrics; ``y`` is label indices (single-label) or an indicator matrix (multi-label)."""
    return _multilabel_scalars(y, proba) if multilabel else _single_label_scalars(y, proba)


def regression_scalars(y: np.ndarray, predicted: np.ndarray) -> dict:
    from sklearn import metrics as sk

    return {
        "mae": float(sk.mean_absolute_error(y, predicted)),
        "rmse": float(np.sqrt(sk.mean_squared_error(y, predicted))),
        "r2": float(sk.r2_score(y, predicted)) if len(y) > 1 else float("nan"),
    }


def _roc_points(y_onehot: np.ndarray, proba: np.ndarray, max_points: int = 200) -> dict:
    """Micro-averaged one-vs-rest ROC curve, thinned to at most ``max_points`` points."""
    from sklearn.metrics import roc_curve

    if y_onehot.size == 0 or y_onehot.all() or not y_onehot.any():
        return {"fpr": [], "tpr": [], "thresholds": []}
    fpr, tpr, thresholds = roc_curve(y_onehot.ravel(), proba.ravel())
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).astype(int))
    thresholds = np.clip(thresholds[keep], 0.0, 1.0)
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist(), "thresholds": thresholds.tolist()}


def evaluate_classifier(y: np.ndarray, proba: np.ndarray, labels: Sequence[str], *, task: str) -> Evaluation:
    """Evaluate class scores ``proba`` (columns aligned to ``labels``) against ``y``."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    multilabel = task == "image_multilabel"
    if len(y) == 0:
        raise ValueError("the test split is empty; evaluation needs items with ml_use=test and a label")
    scalars = classification_scalars(y, proba, multilabel=multilabel)
    if multilabel:
        y_onehot, predicted = y, (proba >= 0.5).astype(int)
        precision, recall, f1, support = precision_recall_fscore_support(y, predicted, zero_division=0)
        matrix = np.zeros((0, 0), dtype=int)
    else:
        y_onehot, predicted = np.eye(len(labels))[y], proba.argmax(axis=1)
        precision, recall, f1, support = precision_recall_fscore_support(
            y, predicted, labels=range(len(labels)), zero_division=0
        )
        matrix = confusion_matrix(y, predicted, labels=range(len(labels)))
    per_label = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(labels, precision, recall, f1, support)
    }
    return Evaluation(
        task,
        tuple(labels),
        scalars,
        per_label,
        tuple(tuple(int(v) for v in row) for row in matrix),
        _roc_points(y_onehot, proba),
        int(len(y)),
    )


def evaluate_regressor(y: np.ndarray, predicted: np.ndarray) -> Evaluation:
    if len(y) == 0:
        raise ValueError("the test split is empty; evaluation needs rows with ml_use=test and a target")
    return Evaluation("tabular_regression", (), regression_scalars(y, predicted), {}, (), {}, int(len(y)))


def metric_function(metric: str, task: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """``f(y, scores) -> value`` for one metric, for recomputation on bootstrap resamples."""
    if task == "tabular_regression":
        if metric not in REGRESSION_METRICS:
            raise ValueError(f"metric {metric!r} is not a regression metric; choose from {REGRESSION_METRICS}")
        return lambda y, scores: regression_scalars(y, scores)[metric]
    if metric not in CLASSIFICATION_METRICS:
        raise ValueError(f"metric {metric!r} is not a classification metric; choose from {CLASSIFICATION_METRICS}")
    if metric == "accuracy" and task != "image_multilabel":
        return lambda y, scores: float((scores.argmax(axis=1) == y).mean())
    multilabel = task == "image_multilabel"
    return lambda y, scores: classification_scalars(y, scores, multilabel=multilabel)[metric]


# ---------------------------------------------------------------------------------------------
# HTML report


def _figure_png(draw) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4), dpi=90)
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw_confusion(evaluation: Evaluation):
    def draw(axes):
        matrix = np.asarray(evaluation.confusion_matrix)
        axes.imshow(matrix, cmap="Blues")
        axes.set_xticks(range(len(evaluation.labels)), evaluation.labels, rotation=90, fontsize=7)
        axes.set_yticks(range(len(evaluation.labels)), evaluation.labels, fontsize=7)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title("Confusion matrix")

    return draw


def _draw_roc(evaluation: Evaluation):
    def draw(axes):
        axes.plot(evaluation.roc["fpr"], evaluation.roc["tpr"])
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
        axes.set_xlabel("false positive rate")
        axes.set_ylabel("true positive rate")
        axes.set_title(f"ROC (micro-average), AUC {evaluation.scalars.get('au_roc', float('nan')):.3f}")

    return draw


def html_report(evaluation: Evaluation, *, title: str = "Model evaluation") -> str:
    """A self-contained HTML page: scalar metrics, per-label table and embedded PNG plots."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>" for k, v in evaluation.scalars.items())
    label_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{m['precision']:.3f}</td><td>{m['recall']:.3f}</td>"
        f"<td>{m['f1']:.3f}</td><td>{m['support']}</td></tr>"
        for name, m in evaluation.per_label.items()
    )
    plots = []
    if evaluation.confusion_matrix:
        plots.append(_figure_png(_draw_confusion(evaluation)))
    if evaluation.roc.get("fpr"):
        plots.append(_figure_png(_draw_roc(evaluation)))
    images = "".join(f'<img alt="plot" src="data:image/png;base64,{p}"/>' for p in plots)
    per_label = (
        f"<h2>Per label</h2><table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
        f"{label_rows}</table>"
        if label_rows
        else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{evaluation.count} test items, task {html.escape(evaluation.task)}</p>"
        f"<h2>Metrics</h2><table>{rows}</table>{per_label}{images}</body></html>"
    )
