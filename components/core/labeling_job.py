"""The labeling job's config, states, prices and progress, in the shape of Vertex's DataLabelingJob.

Vertex AI's Data Labeling Service was shut down on 2024-10-03; its ``DataLabelingJob`` resource
survives as labelloop's labeling config so existing job definitions carry over. A spec is the
resource's JSON (``displayName``, ``labelerCount``, ``instructionUri``, ``inputsSchemaUri``,
``inputs.annotationSpecs``, ``annotationLabels``, ``labels``, ``specialistPools``,
``activeLearningConfig``) plus labelloop's own settings under a ``labelloop`` key (budget, price,
timeout, consensus method, adaptive redundancy, and ``disputeReview``: reviewers for the evaluation
labels the final model disputes, :func:`review_job_spec`). Output-only fields (``state``,
``labelingProgress``, ``currentSpend``, …) are produced by :func:`job_resource`, never read.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

SCHEMA_PREFIX = "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/"
MAX_DISPLAY_NAME = 128
MAX_LABEL_LENGTH = 64
RESERVED_LABEL_PREFIX = "aiplatform.googleapis.com/"
OUTPUT_ONLY_FIELDS = ("name", "state", "labelingProgress", "currentSpend", "createTime", "updateTime", "error")
INPUT_FIELDS = (
    "displayName",
    "datasets",
    "annotationLabels",
    "labelerCount",
    "instructionUri",
    "inputsSchemaUri",
    "inputs",
    "labels",
    "specialistPools",
    "encryptionSpec",
    "activeLearningConfig",
    "labelloop",
)
LABELLOOP_FIELDS = (
    "taskType",
    "budget",
    "pricePerLabelUsd",
    "specialistMultiplier",
    "timeoutSeconds",
    "pollIntervalSeconds",
    "consensus",
    "reviewThreshold",
    "adaptive",
    "disputeReview",
)


class LabelingJobSpecError(ValueError):
    """The labeling job spec is invalid; the message names the field and says how to fix it."""


class TaskType(str, Enum):
    """What labelers do; the value is the DataLabelingJob inputs schema's file stem."""

    IMAGE_CLASSIFICATION = "image_classification"
    IMAGE_MULTI_LABEL = "image_classification_multi_label"
    IMAGE_BOUNDING_BOX = "image_bounding_box"
    TEXT_CLASSIFICATION = "text_classification"
    TEXT_MULTI_LABEL = "text_classification_multi_label"
    TEXT_ENTITY_SPANS = "text_extraction"
    #: Table rows (``table_items``): Vertex has no labeling schema for them, so a job names it in
    #: ``labelloop.taskType``; the simulated crowd and Label Studio label them.
    TABLE_CLASSIFICATION = "tabular_classification"

    @property
    def modality(self) -> str:
        if self is TaskType.TABLE_CLASSIFICATION:
            return "table"
        return "text" if self.value.startswith("text") else "image"

    @property
    def is_single_label(self) -> bool:
        return self in (TaskType.IMAGE_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION, TaskType.TABLE_CLASSIFICATION)

    @property
    def is_multi_label(self) -> bool:
        return self in (TaskType.IMAGE_MULTI_LABEL, TaskType.TEXT_MULTI_LABEL)

    @property
    def schema_uri(self) -> str:
        stem = {TaskType.IMAGE_MULTI_LABEL: "image_classification", TaskType.TEXT_MULTI_LABEL: "text_classification"}
        return f"{SCHEMA_PREFIX}{stem.get(self, self.value)}_1.0.0.yaml"


class JobState(str, Enum):
    """The job's state, valued as Vertex's ``JobState`` enum."""

    PENDING = "JOB_STATE_PENDING"
    RUNNING = "JOB_STATE_RUNNING"
    SUCCEEDED = "JOB_STATE_SUCCEEDED"
    PARTIALLY_SUCCEEDED = "JOB_STATE_PARTIALLY_SUCCEEDED"
    FAILED = "JOB_STATE_FAILED"
    CANCELLED = "JOB_STATE_CANCELLED"


@dataclass(frozen=True)
class PriceRange:
    """A per-label price range in US dollars from the Vertex labeling price list."""

    low: float
    high: float


#: Per-label prices from the Vertex AI data labeling price list (``../shared/reference``):
#: image classification $0.05–0.08, object detection $0.10–0.15, text classification $0.01–0.03.
#: Entity spans were priced like text classification's upper end. The default is the low end.
PRICE_RANGES_USD: Mapping[TaskType, PriceRange] = {
    TaskType.IMAGE_CLASSIFICATION: PriceRange(0.05, 0.08),
    TaskType.IMAGE_MULTI_LABEL: PriceRange(0.05, 0.08),
    TaskType.IMAGE_BOUNDING_BOX: PriceRange(0.10, 0.15),
    TaskType.TEXT_CLASSIFICATION: PriceRange(0.01, 0.03),
    TaskType.TEXT_MULTI_LABEL: PriceRange(0.01, 0.03),
    TaskType.TEXT_ENTITY_SPANS: PriceRange(0.03, 0.03),
    #: Vertex does not label table rows; reading a row's fields is priced as a short text.
    TaskType.TABLE_CLASSIFICATION: PriceRange(0.01, 0.03),
}
#: Specialist pools cost 2–10× the base rate; 2× unless the spec says otherwise.
DEFAULT_SPECIALIST_MULTIPLIER = 2.0


@dataclass(frozen=True)
class Budget:
    """Most items humans may label and most dollars the job may spend (None: no limit)."""

    max_items: int | None = None
    max_spend_usd: float | None = None

    def tightened(self, max_items: int | None) -> Budget:
        """This budget with ``max_items`` lowered to ``max_items`` when that is smaller."""
        if max_items is None or max_items <= 0:
            return self
        current = self.max_items if self.max_items is not None else max_items
        return Budget(min(current, max_items), self.max_spend_usd)


#: Stop rules for adaptive redundancy (see ``adaptive``); the first is the default.
ADAPTIVE_RULES = ("estimated", "posterior", "votes")
#: The stop probability of the ``estimated`` rule (``posterior`` has none: it must be given).
DEFAULT_STOP_PROBABILITY = 0.98
#: Share of the prior the model's probabilities get, per rule (the rest is spread evenly).
DEFAULT_MODEL_TRUST = {"estimated": 0.97, "posterior": 0.9}
#: The ``estimated`` rule's least expected gain per label (in chance of a right label) worth paying for.
DEFAULT_MIN_GAIN_PER_LABEL = 0.007


@dataclass(frozen=True)
class AdaptiveSettings:
    """Adaptive redundancy: start with one label and buy more only where they pay (see ``adaptive``).

    The default rule, ``estimated``, settles an item once its consensus posterior reaches
    ``stop_probability``, with labeler confusions and the model's calibration estimated from the
    job's own answers, or once the labels it may still get are expected to raise its chance of a
    right label by less than ``min_gain_per_label`` each (0 turns that off). The job's consensus is
    that same posterior (``model_in_consensus``: the model's calibrated probabilities are each
    item's prior, see ``labeling_output.job_consensus``);
    ``posterior`` assumes every labeler has ``labeler_accuracy``; ``votes`` asks for a vote margin.
    Chosen by ``benchmarks/consensus.py``.
    """

    enabled: bool = True
    required_margin: int = 2
    confident_probability: float = 0.9
    stop_probability: float | None = DEFAULT_STOP_PROBABILITY
    labeler_accuracy: float = 0.75
    model_in_consensus: bool = True
    rule: str = "estimated"
    model_trust: float = DEFAULT_MODEL_TRUST["estimated"]
    prior_strength: float = 10.0
    min_gain_per_label: float = DEFAULT_MIN_GAIN_PER_LABEL


#: Model confidence at which a validation or test label it contradicts is disputed (``disputeReview.minConfidence``).
DEFAULT_DISPUTE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class DisputeReview:
    """Review of disputed evaluation labels by a second pool of labelers (``labelloop.disputeReview``).

    A validation or test item whose human label the final model disputes (its held-out prediction
    is another class at ``min_confidence`` or more) goes to ``labeler_count`` reviewers, once. The
    crowd's errors are correlated (labelers confuse the same classes: two saying 6 for a 3 settle an
    item), and a wrong evaluation label counts against the model: it holds back machine labels and
    understates test accuracy. Reviewers are paid ``price_per_label_usd`` each, from ``max_spend_usd``.
    """

    labeler_count: int = 1
    price_per_label_usd: float = 0.0
    min_confidence: float = DEFAULT_DISPUTE_CONFIDENCE
    max_items: int | None = None
    max_spend_usd: float | None = None


@dataclass(frozen=True)
class LabelingJobSpec:
    """A validated DataLabelingJob-shaped labeling config."""

    display_name: str
    task_type: TaskType
    annotation_specs: tuple[str, ...]
    labeler_count: int
    instruction_uri: str
    price_per_label_usd: float
    budget: Budget = Budget()
    annotation_labels: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    specialist_pools: tuple[str, ...] = ()
    timeout_s: float = 3600.0
    poll_interval_s: float = 10.0
    consensus_method: str = "dawid_skene"
    review_threshold: float = 0.34
    adaptive: AdaptiveSettings = AdaptiveSettings()
    active_learning_config: Mapping[str, Any] = field(default_factory=dict)
    dispute_review: DisputeReview | None = None

    @property
    def inputs_schema_uri(self) -> str:
        return self.task_type.schema_uri


# ---------------------------------------------------------------------------------------------
# Parsing and validation


def parse_job_spec(spec: str | Mapping[str, Any]) -> LabelingJobSpec:
    """Validate a DataLabelingJob-shaped spec (a JSON string or a dict) into a :class:`LabelingJobSpec`.

    Raises:
        LabelingJobSpecError: naming the first invalid field and what to change.
    """
    raw = _as_mapping(spec)
    _check_known_fields(raw, INPUT_FIELDS, "", output_only=OUTPUT_ONLY_FIELDS)
    extra = _mapping_field(raw, "labelloop")
    _check_known_fields(extra, LABELLOOP_FIELDS, "labelloop.")
    task_type = _task_type(raw, extra)
    specs = _annotation_specs(raw.get("inputs"))
    specialist_pools = tuple(_string_list(raw, "specialistPools"))
    price = _price(extra, task_type, bool(specialist_pools))
    return LabelingJobSpec(
        display_name=_display_name(raw.get("displayName")),
        task_type=task_type,
        annotation_specs=specs,
        labeler_count=_positive_int(raw.get("labelerCount"), "labelerCount", required=True),
        instruction_uri=_instruction_uri(raw.get("instructionUri")),
        price_per_label_usd=price,
        budget=_budget(extra.get("budget", {}), _mapping_field(raw, "activeLearningConfig")),
        annotation_labels=_resource_labels(_mapping_field(raw, "annotationLabels"), "annotationLabels"),
        labels=_resource_labels(_mapping_field(raw, "labels"), "labels"),
        specialist_pools=specialist_pools,
        timeout_s=_positive_number(extra.get("timeoutSeconds", 3600), "labelloop.timeoutSeconds"),
        poll_interval_s=_positive_number(extra.get("pollIntervalSeconds", 10), "labelloop.pollIntervalSeconds"),
        consensus_method=_choice(
            extra.get("consensus", "dawid_skene"), ("dawid_skene", "majority_vote"), "labelloop.consensus"
        ),
        review_threshold=_fraction(extra.get("reviewThreshold", 0.34), "labelloop.reviewThreshold"),
        adaptive=_adaptive(extra.get("adaptive", {})),
        active_learning_config=dict(_mapping_field(raw, "activeLearningConfig")),
        dispute_review=_dispute_review(extra.get("disputeReview"), price),
    )


def review_job_spec(spec: LabelingJobSpec) -> LabelingJobSpec:
    """The job that reviews disputed labels: the same task and label set, ``labelerCount`` reviewers
    per item all at once (no adaptive stop: the crowd's consensus is what is in doubt; the model is
    no vote: it is the other side of the dispute), their majority vote, price and budget. Its
    annotations go to a store of their own (``review`` below the job's store)."""
    review = spec.dispute_review
    if review is None:
        raise LabelingJobSpecError(
            'the job spec has no labelloop.disputeReview; add e.g. {"labelerCount": 1, "pricePerLabelUsd": 0.25}'
        )
    return dataclasses.replace(
        spec,
        display_name=f"{spec.display_name} (review)",
        labeler_count=review.labeler_count,
        price_per_label_usd=review.price_per_label_usd,
        budget=Budget(review.max_items, review.max_spend_usd),
        adaptive=dataclasses.replace(spec.adaptive, enabled=False, model_in_consensus=False),
        # a few reviewers over a few items: Dawid-Skene has nothing to learn their confusions from
        consensus_method="majority_vote",
        active_learning_config={},
        dispute_review=None,
    )


def _dispute_review(raw: Any, job_price: float) -> DisputeReview | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise LabelingJobSpecError(
            'labelloop.disputeReview must be an object like {"labelerCount": 1, "pricePerLabelUsd": 0.25}, '
            f"got {raw!r}"
        )
    name = "labelloop.disputeReview."
    _check_known_fields(raw, ("labelerCount", "pricePerLabelUsd", "minConfidence", "maxItems", "maxSpendUsd"), name)
    price = raw.get("pricePerLabelUsd")
    spend = raw.get("maxSpendUsd")
    return DisputeReview(
        labeler_count=_positive_int(raw.get("labelerCount", 1), f"{name}labelerCount"),
        price_per_label_usd=job_price if price is None else _non_negative(price, f"{name}pricePerLabelUsd"),
        min_confidence=_fraction(raw.get("minConfidence", DEFAULT_DISPUTE_CONFIDENCE), f"{name}minConfidence"),
        max_items=_positive_int(raw.get("maxItems"), f"{name}maxItems") or None,
        max_spend_usd=None if spend is None else _non_negative(spend, f"{name}maxSpendUsd"),
    )


def _as_mapping(spec: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as err:
            raise LabelingJobSpecError(
                f"job spec is not valid JSON ({err}); pass the DataLabelingJob as a JSON object"
            ) from None
    if not isinstance(spec, Mapping):
        raise LabelingJobSpecError(f"job spec must be a JSON object, got {type(spec).__name__}")
    return spec


def _check_known_fields(raw: Mapping, allowed: Sequence[str], prefix: str, output_only: Sequence[str] = ()) -> None:
    for key in raw:
        if key in output_only:
            raise LabelingJobSpecError(f"{prefix}{key} is output only in a DataLabelingJob; remove it from the spec")
        if key not in allowed:
            raise LabelingJobSpecError(f"unknown field {prefix}{key!s}; known fields: {', '.join(allowed)}")


def _mapping_field(raw: Mapping, name: str) -> Mapping:
    value = raw.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LabelingJobSpecError(f"{name} must be an object, got {type(value).__name__}")
    return value


def _display_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LabelingJobSpecError("displayName is required: a non-empty string of up to 128 characters")
    if len(value) > MAX_DISPLAY_NAME:
        raise LabelingJobSpecError(
            f"displayName is {len(value)} characters long; DataLabelingJob allows at most {MAX_DISPLAY_NAME}"
        )
    return value


def _task_type(raw: Mapping, extra: Mapping) -> TaskType:
    named = extra.get("taskType")
    if named is not None:
        try:
            task_type = TaskType(named)
        except ValueError:
            raise LabelingJobSpecError(
                f"labelloop.taskType {named!r} is not one of {[t.value for t in TaskType]}"
            ) from None
    else:
        task_type = _task_type_from_schema(raw.get("inputsSchemaUri"), _mapping_field(raw, "inputs"))
    schema = raw.get("inputsSchemaUri")
    if schema is not None and schema != task_type.schema_uri:
        raise LabelingJobSpecError(
            f"inputsSchemaUri {schema!r} does not match task type {task_type.value} ({task_type.schema_uri})"
        )
    return task_type


def _task_type_from_schema(schema: Any, inputs: Mapping) -> TaskType:
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
        raise LabelingJobSpecError(
            f"inputsSchemaUri {schema!r} is missing or unknown; use {SCHEMA_PREFIX}<image_classification|"
            "image_bounding_box|text_classification|text_extraction>_1.0.0.yaml or set labelloop.taskType"
        )
    stem = schema.removeprefix(SCHEMA_PREFIX).removesuffix("_1.0.0.yaml")
    multi = bool(inputs.get("multiLabel", False))
    table = {
        ("image_classification", False): TaskType.IMAGE_CLASSIFICATION,
        ("image_classification", True): TaskType.IMAGE_MULTI_LABEL,
        ("image_bounding_box", False): TaskType.IMAGE_BOUNDING_BOX,
        ("text_classification", False): TaskType.TEXT_CLASSIFICATION,
        ("text_classification", True): TaskType.TEXT_MULTI_LABEL,
        ("text_extraction", False): TaskType.TEXT_ENTITY_SPANS,
    }
    if (stem, multi) not in table:
        raise LabelingJobSpecError(f"inputsSchemaUri {schema!r} (multiLabel={multi}) is not a supported labeling task")
    return table[(stem, multi)]


def _annotation_specs(inputs: Any) -> tuple[str, ...]:
    if not isinstance(inputs, Mapping) or not isinstance(inputs.get("annotationSpecs"), list):
        raise LabelingJobSpecError('inputs.annotationSpecs is required: a list like [{"displayName": "cat"}, ...]')
    names = []
    for position, entry in enumerate(inputs["annotationSpecs"]):
        name = entry.get("displayName") if isinstance(entry, Mapping) else entry
        if not isinstance(name, str) or not name.strip():
            raise LabelingJobSpecError(
                f"inputs.annotationSpecs[{position}] needs a non-empty displayName, got {entry!r}"
            )
        if name in names:
            raise LabelingJobSpecError(f"inputs.annotationSpecs[{position}]: label {name!r} appears twice")
        names.append(name)
    if len(names) < 1:
        raise LabelingJobSpecError("inputs.annotationSpecs is empty; list the labels labelers may choose")
    return tuple(names)


def _string_list(raw: Mapping, name: str) -> list[str]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LabelingJobSpecError(f"{name} must be a list of strings, got {value!r}")
    return value


def _positive_int(value: Any, name: str, *, required: bool = False) -> int:
    if value is None and not required:
        return 0
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # int64 fields arrive as strings in the REST JSON
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LabelingJobSpecError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise LabelingJobSpecError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise LabelingJobSpecError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _choice(value: Any, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise LabelingJobSpecError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _instruction_uri(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^(gs|https?|file)://\S+$|^/\S+$", value):
        raise LabelingJobSpecError(
            f"instructionUri {value!r} must be the URI of the labeling instructions (gs://…, https://… or a local path)"
        )
    return value


_LABEL_KEY = re.compile(r"^[\w-]{1,64}$")


def _resource_labels(labels: Mapping, name: str) -> dict[str, str]:
    """Vertex label rules: ≤64 characters, lowercase letters, digits, ``_`` and ``-`` (international allowed)."""
    for key, value in labels.items():
        if key.startswith(RESERVED_LABEL_PREFIX):
            raise LabelingJobSpecError(f"{name}: key {key!r} uses the reserved prefix {RESERVED_LABEL_PREFIX}")
        for what, text in (("key", key), ("value", value)):
            if not isinstance(text, str) or (what == "key" and not text):
                raise LabelingJobSpecError(
                    f"{name}: {what} {text!r} must be a string" + (" (non-empty)" if what == "key" else "")
                )
            if text and (not _LABEL_KEY.match(text) or text != text.lower()):
                raise LabelingJobSpecError(
                    f"{name}: {what} {text!r} must be at most {MAX_LABEL_LENGTH} lowercase letters, digits, '_' or '-'"
                )
    return dict(labels)


def _price(extra: Mapping, task_type: TaskType, specialist: bool) -> float:
    base = extra.get("pricePerLabelUsd")
    base = PRICE_RANGES_USD[task_type].low if base is None else _non_negative(base, "labelloop.pricePerLabelUsd")
    multiplier = extra.get("specialistMultiplier", DEFAULT_SPECIALIST_MULTIPLIER)
    multiplier = _positive_number(multiplier, "labelloop.specialistMultiplier")
    if multiplier < 1:
        raise LabelingJobSpecError(f"labelloop.specialistMultiplier must be at least 1, got {multiplier}")
    return base * multiplier if specialist else base


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise LabelingJobSpecError(f"{name} must be a number ≥ 0, got {value!r}")
    return float(value)


def _budget(raw: Any, active_learning: Mapping) -> Budget:
    if not isinstance(raw, Mapping):
        raise LabelingJobSpecError(
            f'labelloop.budget must be an object like {{"maxItems": 500, "maxSpendUsd": 40}}, got {raw!r}'
        )
    _check_known_fields(raw, ("maxItems", "maxSpendUsd"), "labelloop.budget.")
    max_items = _positive_int(raw.get("maxItems"), "labelloop.budget.maxItems") or None
    from_active_learning = (
        _positive_int(active_learning.get("maxDataItemCount"), "activeLearningConfig.maxDataItemCount") or None
    )
    if max_items is not None and from_active_learning is not None:
        max_items = min(max_items, from_active_learning)
    else:
        max_items = max_items or from_active_learning
    spend = raw.get("maxSpendUsd")
    return Budget(max_items, None if spend is None else _non_negative(spend, "labelloop.budget.maxSpendUsd"))


def _adaptive(raw: Any) -> AdaptiveSettings:
    if not isinstance(raw, Mapping):
        raise LabelingJobSpecError(f"labelloop.adaptive must be an object, got {raw!r}")
    _check_known_fields(
        raw,
        (
            "enabled",
            "requiredMargin",
            "confidentProbability",
            "stopProbability",
            "labelerAccuracy",
            "modelInConsensus",
            "rule",
            "modelTrust",
            "priorStrength",
            "minGainPerLabel",
        ),
        "labelloop.adaptive.",
    )
    enabled = raw.get("enabled", True)
    stop = raw.get("stopProbability")
    # a spec that gives only stopProbability asked for the fixed-accuracy posterior rule before
    # the estimated rule existed, and still gets it
    rule = raw.get("rule", ADAPTIVE_RULES[0] if stop is None else "posterior")
    if rule not in ADAPTIVE_RULES:
        raise LabelingJobSpecError(f"labelloop.adaptive.rule must be one of {ADAPTIVE_RULES}, got {rule!r}")
    if stop is None and rule == "estimated":
        stop = DEFAULT_STOP_PROBABILITY
    if stop is None and rule == "posterior":
        raise LabelingJobSpecError(
            'labelloop.adaptive.rule "posterior" needs stopProbability (e.g. 0.94), or use the default rule "estimated"'
        )
    in_consensus = raw.get("modelInConsensus", rule == "estimated")
    for name, flag in (("enabled", enabled), ("modelInConsensus", in_consensus)):
        if not isinstance(flag, bool):
            raise LabelingJobSpecError(f"labelloop.adaptive.{name} must be true or false, got {flag!r}")
    trust = raw.get("modelTrust", DEFAULT_MODEL_TRUST.get(rule, 0.9))
    for name, value in (
        ("stopProbability", stop),
        ("labelerAccuracy", raw.get("labelerAccuracy", 0.75)),
        ("modelTrust", trust),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1):
            raise LabelingJobSpecError(
                f"labelloop.adaptive.{name} must be a number strictly between 0 and 1, got {value!r}"
            )
    strength = raw.get("priorStrength", 10.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or strength <= 0:
        raise LabelingJobSpecError(
            f"labelloop.adaptive.priorStrength must be a positive number (pseudo-answers per class), got {strength!r}"
        )
    min_gain = raw.get("minGainPerLabel", DEFAULT_MIN_GAIN_PER_LABEL)
    if isinstance(min_gain, bool) or not isinstance(min_gain, (int, float)) or not 0 <= min_gain < 1:
        raise LabelingJobSpecError(
            "labelloop.adaptive.minGainPerLabel must be a number in [0, 1) (the least expected gain in an item's "
            f"chance of a right label worth buying a label for; 0 turns the rule off), got {min_gain!r}"
        )
    return AdaptiveSettings(
        rule=rule,
        min_gain_per_label=float(min_gain),
        model_trust=float(trust),
        prior_strength=float(strength),
        stop_probability=None if stop is None else float(stop),
        labeler_accuracy=float(raw.get("labelerAccuracy", 0.75)),
        model_in_consensus=in_consensus,
        enabled=enabled,
        required_margin=_positive_int(raw.get("requiredMargin", 2), "labelloop.adaptive.requiredMargin"),
        confident_probability=_fraction(
            raw.get("confidentProbability", 0.9), "labelloop.adaptive.confidentProbability"
        ),
    )


# ---------------------------------------------------------------------------------------------
# Spend, progress and the resource


def money(usd: float) -> dict[str, Any]:
    """A ``google.type.Money`` JSON object for an amount in US dollars."""
    cents_rounded = round(usd, 9)
    units = math.floor(cents_rounded)
    nanos = round((cents_rounded - units) * 1e9)
    return {"currencyCode": "USD", "units": str(units), "nanos": int(nanos)}


def labeling_progress(finished_items: int, total_items: int) -> int:
    """``labelingProgress``: the percentage (0–100, rounded down) of items whose labeling finished."""
    if total_items <= 0:
        return 100
    return min(100, (100 * finished_items) // total_items)


@dataclass(frozen=True)
class JobStatus:
    """Where a labeling job stands: its state, progress and spend."""

    state: JobState
    labeling_progress: int
    current_spend_usd: float
    items_total: int
    items_finished: int
    error: str | None = None


def job_resource(spec: LabelingJobSpec, status: JobStatus, *, create_time: str, update_time: str) -> dict[str, Any]:
    """The DataLabelingJob JSON for ``spec`` in ``status`` (its output-only fields filled in)."""
    resource = {
        "displayName": spec.display_name,
        "labelerCount": spec.labeler_count,
        "instructionUri": spec.instruction_uri,
        "inputsSchemaUri": spec.inputs_schema_uri,
        "inputs": {"annotationSpecs": [{"displayName": name} for name in spec.annotation_specs]},
        "annotationLabels": dict(spec.annotation_labels),
        "labels": {**spec.labels, "aiplatform.googleapis.com/schema": spec.task_type.value},
        "specialistPools": list(spec.specialist_pools),
        "state": status.state.value,
        "labelingProgress": status.labeling_progress,
        "currentSpend": money(status.current_spend_usd),
        "createTime": create_time,
        "updateTime": update_time,
    }
    if spec.task_type.is_multi_label:
        resource["inputs"]["multiLabel"] = True
    if spec.active_learning_config:
        resource["activeLearningConfig"] = dict(spec.active_learning_config)
    if status.error:
        resource["error"] = {"code": 2, "message": status.error}
    return resource


# ---------------------------------------------------------------------------------------------
# The quality report


@dataclass(frozen=True)
class ReportSection:
    """A titled part of the quality report: a paragraph, or a table with a header row."""

    title: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()


def render_report_html(title: str, sections: Sequence[ReportSection]) -> str:
    """A self-contained HTML page (no scripts, no external assets) with the report's sections."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}th{background:#eee}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        if section.header:
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in section.header) + "</tr>")
            for row in section.rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)
