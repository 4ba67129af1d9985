"""An HTML report of an active-learning run: the learning curve as an embedded PNG plus a round table.

The curve plots the test metric against human labels bought, beside the random-sampling curve
when one is available, so the saving is visible at a glance. The PNG is inlined as base64 so the
HTML artifact is one self-contained file (KFP and Vertex show it as is).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from .active_learning import LearningCurve, RoundRecord


def curve_png(curves: Sequence[LearningCurve], *, metric_name: str, title: str = "") -> bytes:
    """PNG bytes of one line per curve (metric vs labels bought)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.subplots()
    for curve in curves:
        if curve.labels:
            axes.plot(curve.labels, curve.metric, marker="o", markersize=3, label=curve.strategy or "run")
    axes.set_xlabel("human labels bought")
    axes.set_ylabel(metric_name)
    axes.set_title(title or f"{metric_name} vs labels bought")
    axes.grid(True, alpha=0.3)
    if any(c.labels for c in curves):
        axes.legend(loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def render_html(
    records: Sequence[RoundRecord], *, baseline: LearningCurve | None = None, stop_reason: str = "", title: str = ""
) -> str:
    """The whole report: heading, summary, embedded learning-curve PNG and one row per round."""
    from .active_learning import learning_curve

    metric_name = records[-1].metric_name if records else "metric"
    curves = [learning_curve(records)] + ([baseline] if baseline is not None else [])
    png = base64.b64encode(curve_png(curves, metric_name=metric_name, title=title)).decode("ascii")
    last = records[-1] if records else None
    summary = (
        f"{len(records)} rounds, {last.labels_total} human labels, spend {last.spend_total:.2f}"
        if last
        else "no rounds recorded yet"
    )
    if stop_reason:
        summary += f"; stopped: {stop_reason}"
    rows = "\n".join(
        f"<tr><td>{r.round_index}</td><td>{html.escape(r.strategy)}</td><td>{r.labels_bought}</td>"
        f"<td>{r.labels_total}</td><td>{r.spend:.2f}</td><td>{r.spend_total:.2f}</td>"
        f"<td>{'' if r.metric_value is None else f'{r.metric_value:.4f}'}</td>"
        f"<td>{html.escape(r.model_version)}</td></tr>"
        for r in records
    )
    heading = html.escape(title or "Active learning")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>' + heading + "</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}</style></head><body>\n"
        f"<h1>{heading}</h1>\n<p>{html.escape(summary)}</p>\n"
        f'<img alt="learning curve" src="data:image/png;base64,{png}">\n'
        "<table><tr><th>round</th><th>strategy</th><th>labels</th><th>total</th><th>spend</th>"
        f"<th>total spend</th><th>{html.escape(metric_name)}</th><th>model</th></tr>\n{rows}\n</table>\n"
        "</body></html>\n"
    )


def write_report(path: str, html_text: str) -> None:
    """Write the report atomically."""
    from .manifest import atomic_writer

    with atomic_writer(path) as handle:
        handle.write(html_text.encode("utf-8"))
