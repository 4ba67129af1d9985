"""Where training runs for each target: our local AutoML, Vertex AutoML, or our trainer as a custom job.

Pure decisions (no cloud calls), shared by the pipelines and tested on their own.
"""

from __future__ import annotations

import math

#: Vertex AutoML training minimums (milli node hours) per route; see /work/shared/reference.
MIN_MILLI_NODE_HOURS = {"automl_image": 8000, "automl_tabular": 1000}


def vertex_route(task: str) -> str:
    """``automl_image``/``automl_tabular`` where Vertex AutoML covers ``task``, else ``custom_job``
    (text: AutoML Text was shut down on 2025-06-15)."""
    if task in ("image_classification", "image_multilabel"):
        return "automl_image"
    if task in ("tabular_classification", "tabular_regression"):
        return "automl_tabular"
    if task == "text_classification":
        return "custom_job"
    raise ValueError(f"unknown task {task!r}")


def budget_milli_node_hours(budget_seconds: int, route: str) -> int:
    """The Vertex budget matching a local budget in seconds (1 node hour = 1000), at least the minimum."""
    if budget_seconds <= 0:
        raise ValueError(f"budget_seconds must be positive, got {budget_seconds}")
    return max(MIN_MILLI_NODE_HOURS.get(route, 0), math.ceil(budget_seconds / 3.6))
