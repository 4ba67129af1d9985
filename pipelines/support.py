"""What each pipeline supports, checked before any step runs.

``labelloop run`` and ``labelloop submit`` call :func:`check_supported` with the run's parameters
(the pipeline's defaults filled in) right after the parameters are typed, so a data type or task a
pipeline cannot handle is refused in one line naming what is not supported and what to use instead,
not forty seconds later by a step deep in the graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .config import ConfigError

#: The data type each training task learns from.
TASK_DATA_TYPES = {
    "image_classification": "image",
    "image_multilabel": "image",
    "text_classification": "text",
    "tabular_classification": "tabular",
    "tabular_regression": "tabular",
}
#: The classification task to suggest for a data type.
CLASSIFICATION_TASK = {
    "image": "image_classification",
    "text": "text_classification",
    "tabular": "tabular_classification",
}
#: Pipelines whose steps after curate (labeling, versions, rounds) read JSONL manifests only: a
#: table reaches them as JSONL row items (``table_items``), whose labels are classes.
MANIFEST_ONLY = ("active-learning", "active-learning-round", "retrain")
LABELING_BACKENDS = ("label_studio", "simulated", "none")
#: What label verification scores: single-label image or text classification (find_label_issues).
VERIFIABLE_TASKS = ("image_classification", "text_classification")
#: A promotion gate for regression: the default gate thresholds classification accuracy.
REGRESSION_GATE = {"value_thresholds": {"r2": {"lower_bound": 0.0}}, "change_thresholds": {"rmse": {"absolute": 0.0}}}


def with_defaults(arguments: Mapping[str, Any], parameters: Mapping[str, dict]) -> dict[str, Any]:
    """The run's parameters: the given ones over the pipeline spec's defaults."""
    values = {name: spec.get("defaultValue") for name, spec in parameters.items() if "defaultValue" in spec}
    return {**values, **arguments}


def check_supported(pipeline: str, values: Mapping[str, Any], *, target: str = "local") -> None:
    """Refuse, before any step runs, a run ``pipeline`` cannot do with these parameter ``values`` on ``target``.

    Raises:
        ConfigError: naming the unsupported combination and what to use instead.
    """
    for problem in problems(pipeline, values, target=target):
        raise ConfigError(problem)


def problems(pipeline: str, values: Mapping[str, Any], *, target: str = "local") -> list[str]:
    """Every reason ``pipeline`` cannot run with ``values`` on ``target``, as sentences; empty when it can."""
    found = _verification_problems(pipeline, values)
    found += _task_problems(pipeline, values)
    if target == "vertex" and pipeline == "retrain" and _data_type(values) == "tabular":
        found.append(
            "retrain on Vertex trains tables with AutoML Tabular, which reads a CSV, not labelloop's row items; "
            "run retrain on a table with `labelloop run retrain --local`, or curate and train it on Vertex"
        )
    found += _tabular_problems(pipeline, values)
    found += _split_problems(pipeline, values)
    found += _labeling_problems(pipeline, values)
    found += _gate_problems(pipeline, values)
    return found


def _data_type(values: Mapping[str, Any]) -> str | None:
    if "data_type" in values:
        return str(values["data_type"])
    return TASK_DATA_TYPES.get(str(values.get("task", "")))


def _task_problems(pipeline: str, values: Mapping[str, Any]) -> list[str]:
    if "task" not in values:
        return []
    task = str(values["task"])
    if task not in TASK_DATA_TYPES:
        return [f"{pipeline}: unknown task {task!r}; use one of {', '.join(TASK_DATA_TYPES)}"]
    data_type = values.get("data_type")
    if data_type is not None and TASK_DATA_TYPES[task] != data_type:
        suggestion = CLASSIFICATION_TASK.get(str(data_type))
        hint = f"pass --param task={suggestion}" if suggestion else "pass a data_type the task fits"
        return [
            f"{pipeline}: task {task!r} learns from {TASK_DATA_TYPES[task]} data but data_type is {data_type!r}; {hint}"
        ]
    return []


def _tabular_problems(pipeline: str, values: Mapping[str, Any]) -> list[str]:
    data_type, task = _data_type(values), str(values.get("task", ""))
    if pipeline in MANIFEST_ONLY and task == "tabular_regression":
        return [
            f"{pipeline} does not support tabular regression: its rows are labeled and versioned as classes "
            "(a labeler picks one of the job's labels); for a number to predict, run `labelloop run curate "
            "--local --param data_type=tabular --param target_column=COLUMN --param source_uri=TABLE` and "
            "`labelloop run train --local --param task=tabular_regression --param target_column=COLUMN "
            "--param dataset_uri=<curate's split>`"
        ]
    if (
        pipeline == "retrain"
        and data_type == "tabular"
        and not values.get("target_column")
        and values.get("labeling_backend") == "none"
    ):
        return [
            "retrain: a table with labeling_backend=none needs --param target_column=COLUMN, the column "
            "holding each row's label (or a labeling_backend to label the rows)"
        ]
    column = str(values.get("target_column", ""))
    if task.startswith("tabular_") and "target_column" in values and not column:
        return [f"{pipeline}: task {task!r} needs --param target_column=COLUMN (the column to predict)"]
    if data_type in ("image", "text") and column and pipeline == "curate":
        return [
            f"curate: target_column applies to tables; {data_type} items carry their label in "
            "classificationAnnotation (drop target_column, or pass data_type=tabular)"
        ]
    return []


def _verification_problems(pipeline: str, values: Mapping[str, Any]) -> list[str]:
    if pipeline != "verify-labels":
        return []
    task, data_type = str(values.get("task", "")), values.get("data_type")
    if data_type == "tabular" or task.startswith("tabular_"):
        return [
            "verify-labels does not support tables: its label-issue model scores images and text; "
            "check a table's target column with `labelloop run train` and its evaluation report instead"
        ]
    if task not in VERIFIABLE_TASKS:
        return [
            f"verify-labels does not support task {task!r}: label verification ranks single-label "
            f"classification only; pass --param task={' or task='.join(VERIFIABLE_TASKS)}"
        ]
    if data_type is not None and data_type != TASK_DATA_TYPES[task]:
        return [
            f"verify-labels: task {task!r} verifies {TASK_DATA_TYPES[task]} items but data_type is {data_type!r}; "
            f"pass --param data_type={TASK_DATA_TYPES[task]}"
        ]
    return []


def _split_problems(pipeline: str, values: Mapping[str, Any]) -> list[str]:
    method = values.get("split_method")
    if method is None:
        return []
    found = []
    if method == "chronological" and not values.get("time_field"):
        found.append(
            f"{pipeline}: split_method=chronological needs --param time_field=FIELD (the field or column holding "
            "each item's time)"
        )
    if values.get("time_field") and method != "chronological":
        found.append(
            f"{pipeline}: time_field is used only by split_method=chronological (got {method!r}); "
            "pass --param split_method=chronological or drop time_field"
        )
    if values.get("group_column") and _data_type(values) != "tabular":
        found.append(
            f"{pipeline}: group_column applies to tables; images and text are grouped by the near-duplicate "
            "groups the prefilter finds"
        )
    return found


def _labeling_problems(pipeline: str, values: Mapping[str, Any]) -> list[str]:
    backend = values.get("labeling_backend")
    if backend is None:
        return []
    if backend not in LABELING_BACKENDS or (backend == "none" and pipeline != "retrain"):
        allowed = LABELING_BACKENDS if pipeline == "retrain" else LABELING_BACKENDS[:2]
        return [f"{pipeline}: labeling_backend {backend!r} is not one of {', '.join(allowed)}"]
    if backend == "simulated" and not values.get("ground_truth_uri"):
        return [
            f"{pipeline}: labeling_backend=simulated needs --param ground_truth_uri=FILE, a JSONL of "
            '{"id": <labelloop_id>, "label": ...} lines (`labelloop sample-data` writes one)'
        ]
    return []


def _gate_problems(pipeline: str, values: Mapping[str, Any]) -> list[str]:
    """A gate whose metrics the task does not produce would fail after training; refuse it now."""
    if "gate_config" not in values or "task" not in values:
        return []
    from ..components.core.metrics import REGRESSION_METRICS

    try:
        config = json.loads(values["gate_config"]) if isinstance(values["gate_config"], str) else values["gate_config"]
        named = set(config.get("value_thresholds", {})) | set(config.get("change_thresholds", {}))
    except (ValueError, AttributeError) as err:
        return [f"{pipeline}: gate_config is not a JSON object of thresholds ({err})"]
    regression = values["task"] == "tabular_regression"
    wrong = sorted(m for m in named if (m in REGRESSION_METRICS) != regression)
    if not wrong:
        return []
    if regression:
        return [
            f"{pipeline}: task tabular_regression has no metric(s) {', '.join(wrong)} for the promotion gate "
            f"(regression metrics: {', '.join(REGRESSION_METRICS)}); pass e.g. "
            f"--param gate_config='{json.dumps(REGRESSION_GATE)}'"
        ]
    return [f"{pipeline}: task {values['task']!r} is scored by classification metrics, not {', '.join(wrong)}"]
