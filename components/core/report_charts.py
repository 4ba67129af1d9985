"""Charts for the run report (matplotlib, PNG bytes) and the learning-curve comparison they show.

Active learning is only worth its complexity when it needs fewer labels than random sampling for
the same model quality; :func:`compare_strategies` measures that from curves of the same run, with
one or more seeds per strategy, and :func:`learning_curves_png` draws the mean and spread.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .active_learning import LearningCurve

BASELINE_STRATEGY = "random"
PALETTE = ("#1f6feb", "#d9480f", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599")
BASELINE_COLOUR = "#6c757d"


@dataclass(frozen=True)
class StrategyCurve:
    """One strategy's learning curve over seeds: the mean and the min/max spread on a common grid."""

    strategy: str
    labels: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    seeds: int


@dataclass(frozen=True)
class LabelSaving:
    """Labels each strategy needed to reach the baseline's final metric (None: never reached it)."""

    metric_name: str
    target: float
    baseline: str
    baseline_labels: int | None
    strategy: str
    strategy_labels: int | None

    @property
    def saved(self) -> int | None:
        if self.baseline_labels is None or self.strategy_labels is None:
            return None
        return self.baseline_labels - self.strategy_labels

    def sentence(self) -> str:
        if self.strategy_labels is None:
            return (
                f"{self.strategy} never reached {self.baseline}'s final {self.metric_name} of {self.target:.4f} "
                f"(reached with {self.baseline_labels} labels by {self.baseline})."
            )
        saved = self.saved or 0
        share = saved / self.baseline_labels if self.baseline_labels else 0.0
        verb = "fewer" if saved >= 0 else "more"
        return (
            f"To reach {self.metric_name} {self.target:.4f} (random sampling's final value), {self.strategy} needed "
            f"{self.strategy_labels} human labels and {self.baseline} {self.baseline_labels}: "
            f"{abs(saved)} labels ({abs(share):.0%}) {verb}."
        )


def mean_curve(strategy: str, curves: Sequence[LearningCurve]) -> StrategyCurve:
    """Mean, min and max over seeds on the union of their label counts (each seed interpolated
    linearly inside its own range; a point counts only the seeds that cover it)."""
    usable = [c for c in curves if c.labels]
    grid = np.array(sorted({n for c in usable for n in c.labels}), dtype=float)
    if not len(grid):
        return StrategyCurve(strategy, (), (), (), (), 0)
    values = np.full((len(usable), len(grid)), np.nan)
    for row, curve in enumerate(usable):
        x, y = np.asarray(curve.labels, float), np.asarray(curve.metric, float)
        order = np.argsort(x)
        inside = (grid >= x.min()) & (grid <= x.max())
        values[row, inside] = np.interp(grid[inside], x[order], y[order])
    return StrategyCurve(
        strategy,
        tuple(int(n) for n in grid),
        tuple(float(v) for v in np.nanmean(values, axis=0)),
        tuple(float(v) for v in np.nanmin(values, axis=0)),
        tuple(float(v) for v in np.nanmax(values, axis=0)),
        len(usable),
    )


def first_reaching(curve: StrategyCurve, target: float, *, tolerance: float = 1e-9) -> int | None:
    """The fewest labels at which the mean curve reached ``target``; None if it never did."""
    for labels, value in zip(curve.labels, curve.mean):
        if value >= target - tolerance:
            return labels
    return None


def compare_strategies(
    curves: Mapping[str, StrategyCurve], *, metric_name: str, baseline: str = BASELINE_STRATEGY
) -> tuple[LabelSaving, ...]:
    """For every non-baseline strategy: labels needed to reach the baseline's final mean metric."""
    base = curves.get(baseline)
    if base is None or not base.labels:
        return ()
    target = base.mean[-1]
    baseline_labels = first_reaching(base, target)
    return tuple(
        LabelSaving(metric_name, target, baseline, baseline_labels, name, first_reaching(curve, target))
        for name, curve in curves.items()
        if name != baseline and curve.labels
    )


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    return figure, figure.subplots()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def learning_curves_png(
    curves: Mapping[str, StrategyCurve], seeds: Mapping[str, Sequence[LearningCurve]], *, metric_name: str
) -> bytes:
    """Mean curve per strategy with its seed spread shaded and each seed drawn thin."""
    figure, axes = _figure(7.0, 3.8)
    colours = iter(PALETTE)
    for name, curve in curves.items():
        if not curve.labels:
            continue
        colour = BASELINE_COLOUR if name == BASELINE_STRATEGY else next(colours, "#333333")
        for seed_curve in seeds.get(name, ()):
            if curve.seeds > 1 and seed_curve.labels:
                axes.plot(seed_curve.labels, seed_curve.metric, color=colour, alpha=0.25, linewidth=0.8)
        if curve.seeds > 1:
            axes.fill_between(curve.labels, curve.low, curve.high, color=colour, alpha=0.15, linewidth=0)
        label = f"{name} ({curve.seeds} seeds)" if curve.seeds > 1 else name
        style = "--" if name == BASELINE_STRATEGY else "-"
        axes.plot(curve.labels, curve.mean, style, marker="o", markersize=3.5, color=colour, label=label, linewidth=2)
    axes.set_xlabel("human labels bought")
    axes.set_ylabel(f"test {metric_name}")
    axes.grid(True, alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="lower right", frameon=False)
    return _png(figure)


def pr_curves_png(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> bytes:
    """Precision against recall, one line per named curve (``name: (recall, precision)``)."""
    figure, axes = _figure(4.6, 3.6)
    colours = iter(PALETTE * 4)
    for name, (recall, precision) in curves.items():
        axes.plot(recall, precision, color=next(colours), label=name, linewidth=1.6)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.01)
    axes.set_ylim(0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if len(curves) > 1 or any(curves):
        axes.legend(loc="lower left", frameon=False, fontsize=8)
    return _png(figure)


def precision_recall_from_roc(
    false_positive_rate: Sequence[float], recall: Sequence[float], *, positives: int, negatives: int
) -> tuple[list[float], list[float]]:
    """The PR curve implied by a ROC curve and its class counts: ``P = TPR*pos / (TPR*pos + FPR*neg)``.

    Points with no predicted positive (both rates 0) are left out.
    """
    out_recall, out_precision = [], []
    for fpr, tpr in zip(false_positive_rate, recall):
        predicted = tpr * positives + fpr * negatives
        if predicted > 0:
            out_recall.append(float(tpr))
            out_precision.append(float(tpr * positives / predicted))
    return out_recall, out_precision
