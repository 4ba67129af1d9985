"""The Vertex promotion rules: gate on Vertex's evaluation, move the champion alias, pick the endpoint.

Pure: plain dicts and dataclasses in, decisions out; ``components/backends/vertex_registry.py`` does
the calls. The gate applies the local gate's thresholds (``core/gate.py``: the same config, value
and change thresholds) to the aggregate metrics of Vertex ``ModelEvaluation`` resources
(https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.models.evaluations).
Vertex gives no per-item scores, so a change threshold compares the two point values (no paired
bootstrap): the challenger must beat the champion by more than ``absolute`` / ``relative``. Each
evaluation is on its own training run's test split (``ml_use=test`` of the managed dataset then), so
the two are comparable only while that split is stable; the local gate scores both on one split.

Aliases: a version alias is unique within a model, and adding an alias that another version holds
moves it (https://cloud.google.com/vertex-ai/docs/model-registry/model-alias), so promotion is one
``mergeVersionAliases`` on the new version.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import gate

#: labelloop metric → (ModelEvaluation ``metrics`` field, from a confidence-metrics row?) for classification.
#: Schema: gs://google-cloud-aiplatform/schema/modelevaluation/classification_metrics_1.0.0.yaml
CLASSIFICATION_FIELDS = {
    "au_prc": "auPrc",
    "au_roc": "auRoc",
    "log_loss": "logLoss",
}
#: Metrics read from the ``confidenceMetrics`` row at a confidence threshold (0.5 unless said).
CONFIDENCE_FIELDS = {
    "accuracy": ("precisionAt1", 0.0),  # single label: the top-1 prediction is right
    "macro_f1": ("f1ScoreMacro", 0.5),
    "micro_f1": ("f1ScoreMicro", 0.5),
}
#: Schema: gs://google-cloud-aiplatform/schema/modelevaluation/regression_metrics_1.0.0.yaml
REGRESSION_FIELDS = {"rmse": "rootMeanSquaredError", "mae": "meanAbsoluteError", "r2": "rSquared"}
ALIAS_PATTERN = re.compile(r"^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9-]$")
MODEL_NAME = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/models/(?P<model>[^/@]+)(@(?P<version>[^/]+))?$"
)
#: The endpoint label that ties an endpoint to a model name (labels: lower case, ≤ 63 characters).
ENDPOINT_LABEL = "labelloop-model"


class PromotionError(ValueError):
    """A promotion step cannot go on; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class ModelVersion:
    """A Vertex model version: ``projects/p/locations/l/models/m`` plus its version id."""

    model: str
    version_id: str
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version_id}"


@dataclass(frozen=True)
class EndpointInfo:
    name: str
    display_name: str
    labels: Mapping[str, str]
    create_time: str = ""
    deployed_model_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployPlan:
    """What to send: the endpoint to use (or create), the traffic split, what to undeploy after."""

    endpoint: str  # "" means create one
    create_display_name: str
    create_labels: Mapping[str, str]
    traffic_split: Mapping[str, int]
    undeploy_after: tuple[str, ...]


def parse_model_name(name: str) -> tuple[str, str]:
    """``projects/p/locations/l/models/m@3`` → (``projects/p/locations/l/models/m``, ``3``); version may be ""."""
    match = MODEL_NAME.match(name or "")
    if not match:
        raise PromotionError(
            f"{name!r} is not a Vertex model resource name (projects/P/locations/L/models/M[@VERSION]); "
            "pass the training step's model artifact"
        )
    model = name.split("@", 1)[0]
    return model, match["version"] or ""


def check_alias(alias: str) -> str:
    if not ALIAS_PATTERN.match(alias or "") or alias.isdigit():
        raise PromotionError(f"version alias {alias!r} must match {ALIAS_PATTERN.pattern} and not be a number")
    return alias


def endpoint_label_value(model_name: str) -> str:
    """The label value for a model name: lower case, ``[a-z0-9_-]``, at most 63 characters."""
    value = re.sub(r"[^a-z0-9_-]", "-", model_name.lower())[:63]
    if not value:
        raise PromotionError("model name is empty; give the model a name to find its endpoint by")
    return value


def _confidence_row(rows: Sequence[Mapping], threshold: float) -> Mapping:
    """The ``confidenceMetrics`` row at ``threshold`` (the nearest one; Vertex omits 0.0 when it is 0)."""
    if not rows:
        raise PromotionError("the ModelEvaluation has no confidenceMetrics; is it a classification evaluation?")
    return min(rows, key=lambda row: abs(float(row.get("confidenceThreshold", 0.0)) - threshold))


def evaluation_metrics(metrics: Mapping, *, task: str, wanted: Sequence[str]) -> dict[str, float]:
    """labelloop metric values (``accuracy``, ``au_prc``, ``rmse`` ...) read from a ModelEvaluation's ``metrics``.

    Raises PromotionError naming a metric Vertex does not report (``ece``), so a gate is never
    silently weaker on Vertex than locally.
    """
    values = {}
    regression = task.startswith("tabular_regression") or task == "regression"
    for metric in wanted:
        if regression and metric in REGRESSION_FIELDS:
            raw = metrics.get(REGRESSION_FIELDS[metric])
        elif not regression and metric in CLASSIFICATION_FIELDS:
            raw = metrics.get(CLASSIFICATION_FIELDS[metric])
        elif not regression and metric in CONFIDENCE_FIELDS:
            field, threshold = CONFIDENCE_FIELDS[metric]
            raw = _confidence_row(metrics.get("confidenceMetrics") or [], threshold).get(field)
        else:
            known = REGRESSION_FIELDS if regression else {**CLASSIFICATION_FIELDS, **CONFIDENCE_FIELDS}
            kind = "regression" if regression else "classification"
            raise PromotionError(
                f"metric {metric!r} is not in Vertex's {kind} evaluation; gate on one of {sorted(known)}"
            )
        values[metric] = float("nan") if raw is None else float(raw)
    return values


def gate_metric_names(config: gate.GateConfig) -> list[str]:
    return list(dict.fromkeys([t.metric for t in config.values] + [t.metric for t in config.changes]))


def check_change_on_values(threshold: gate.ChangeThreshold, new: float, old: float) -> gate.Check:
    """A change threshold on two point values: improvement must exceed ``absolute`` and ``relative``."""
    sign = 1.0 if threshold.higher_is_better else -1.0
    improvement = sign * (new - old)
    problems = []
    facts = [f"challenger {new:.4f} vs champion {old:.4f} (Vertex evaluations; no per-item CI)"]
    if math.isnan(improvement):
        problems.append("undefined in one of the evaluations")
    if threshold.absolute is not None and not improvement > threshold.absolute:
        problems.append(f"improvement {improvement:+.4f} not > {threshold.absolute}")
    if threshold.relative is not None:
        relative = improvement / abs(old) if old else float("nan")
        facts.append(f"relative {relative:+.4f}")
        if not relative > threshold.relative:
            problems.append(f"relative improvement not > {threshold.relative}")
    reason = "; ".join(facts + problems)
    return gate.Check(
        "change", threshold.metric, not problems, reason, float(new), float(old), improvement, improvement
    )


def decide_on_evaluations(
    config: gate.GateConfig, challenger: Mapping[str, float], champion: Mapping[str, float] | None
) -> gate.GateDecision:
    """The local gate's thresholds applied to Vertex evaluation values; no champion → value thresholds only."""
    if not config.values and not config.changes:
        raise gate.GateConfigError("the gate has no thresholds; set value_thresholds and/or change_thresholds")
    checks = [gate.check_value(t, challenger[t.metric]) for t in config.values]
    for threshold in config.changes:
        if champion is None:
            reason = "no champion yet: change threshold not applied"
            checks.append(gate.Check("change", threshold.metric, True, reason, challenger[threshold.metric]))
        else:
            checks.append(check_change_on_values(threshold, challenger[threshold.metric], champion[threshold.metric]))
    return gate.GateDecision(all(c.passed for c in checks), tuple(checks), champion is not None)


def alias_to_merge(*, blessed: bool, challenger: ModelVersion, champion: ModelVersion | None, alias: str) -> list[str]:
    """The ``versionAliases`` to merge on the challenger: ``[alias]`` only when blessed and not already its own."""
    check_alias(alias)
    if not blessed:
        return []
    if champion is not None and champion.model != challenger.model:
        raise PromotionError(
            f"the challenger {challenger.name} is not a version of the champion's model {champion.model}; "
            "train it with parent_model set to the champion's model so the alias can move"
        )
    if champion is not None and champion.version_id == challenger.version_id:
        return []
    return [alias]


def choose_endpoint(endpoints: Sequence[EndpointInfo], *, model_name: str) -> EndpointInfo | None:
    """The model's one endpoint: labelled ``labelloop-model=<name>`` first, else by display name; oldest wins."""
    label = endpoint_label_value(model_name)
    display = endpoint_display_name(model_name)
    labelled = [e for e in endpoints if e.labels.get(ENDPOINT_LABEL) == label]
    named = [e for e in endpoints if e.display_name == display]
    candidates = labelled or named
    return min(candidates, key=lambda e: (e.create_time, e.name)) if candidates else None


def endpoint_display_name(model_name: str) -> str:
    return f"{model_name}-endpoint"


def plan_deploy(*, blessed: bool, model_name: str, existing: EndpointInfo | None) -> DeployPlan:
    """Where to deploy a blessed version: the existing endpoint (all traffic moved, old versions undeployed after).

    ``"0"`` in a DeployModel traffic split is the model being deployed
    (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/deployModel).
    """
    if not blessed:
        raise PromotionError("refusing to deploy a model the gate did not bless")
    label = {ENDPOINT_LABEL: endpoint_label_value(model_name)}
    if existing is None:
        return DeployPlan("", endpoint_display_name(model_name), label, {"0": 100}, ())
    return DeployPlan(existing.name, "", label, {"0": 100}, tuple(existing.deployed_model_ids))
