"""The active-learning loop's arithmetic: config, budget, batch sizes, stopping rules, round records.

:class:`ActiveLearningConfig` mirrors Vertex AI's ``DataLabelingJob.activeLearningConfig`` (the
service was shut down on 2024-10-03; its config shape lives on here):

* human labeling budget: ``max_data_item_count`` *or* ``max_data_item_percentage`` (of all items);
* ``initial_batch_sample_percentage`` / ``following_batch_sample_percentage`` (of all items);
* ``sample_strategy``: ``UNCERTAINTY`` (the service's only value, and the default) or any
  strategy name from :mod:`labelloop.components.core.sampling`;
* ``timeout_training_milli_hours``: the training time budget per round (1,000 = 1 hour).

labelloop adds stopping rules (budget exhausted, pool exhausted, target metric reached, plateau,
``max_rounds``) and a price per label so every round records its spend.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from . import manifest
from .sampling import resolve_strategy

STOP_REASONS = ("budget_exhausted", "pool_exhausted", "target_reached", "plateau", "max_rounds")


class ConfigError(ValueError):
    """An active-learning config is invalid; the message names the field and the fix."""


@dataclass(frozen=True)
class ActiveLearningConfig:
    """How many items humans label, in which batches, chosen how, and when to stop.

    Attributes:
        max_data_item_count: human labeling budget in items (exclusive with the percentage).
        max_data_item_percentage: human labeling budget as a percentage of all items.
        initial_batch_sample_percentage: first batch, percent of all items (may be fractional).
        following_batch_sample_percentage: each later batch, percent of all items.
        sample_strategy: ``UNCERTAINTY`` or a name from ``sampling.STRATEGIES``.
        timeout_training_milli_hours: training time budget per round (1,000 = one hour).
        max_rounds: most labeling rounds, the initial batch included.
        metric_name: the test-split metric the stopping rules watch.
        target_metric: stop once the metric reaches this; None disables the rule.
        plateau_rounds: stop when the last ``plateau_rounds`` rounds improved the best metric by
            no more than ``plateau_min_improvement``; 0 disables the rule.
        plateau_min_improvement: the improvement that counts as progress.
        cost_per_label: price of one human label, for the spend in round records.
    """

    max_data_item_count: int | None = None
    max_data_item_percentage: float | None = None
    initial_batch_sample_percentage: float = 5.0
    following_batch_sample_percentage: float = 5.0
    sample_strategy: str = "UNCERTAINTY"
    timeout_training_milli_hours: int = 1000
    max_rounds: int = 10
    metric_name: str = "accuracy"
    target_metric: float | None = None
    plateau_rounds: int = 3
    plateau_min_improvement: float = 0.002
    cost_per_label: float = 0.05

    def __post_init__(self) -> None:
        if (self.max_data_item_count is None) == (self.max_data_item_percentage is None):
            raise ConfigError(
                "set exactly one human labeling budget: max_data_item_count or max_data_item_percentage "
                f"(got count={self.max_data_item_count!r}, percentage={self.max_data_item_percentage!r})"
            )
        if self.max_data_item_count is not None and self.max_data_item_count < 0:
            raise ConfigError(f"max_data_item_count must be >= 0, got {self.max_data_item_count}")
        for name in (
            "max_data_item_percentage",
            "initial_batch_sample_percentage",
            "following_batch_sample_percentage",
        ):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 100:
                raise ConfigError(f"{name} must be in (0, 100], got {value!r}")
        for name in ("timeout_training_milli_hours", "max_rounds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.plateau_rounds < 0 or self.plateau_min_improvement < 0 or self.cost_per_label < 0:
            raise ConfigError("plateau_rounds, plateau_min_improvement and cost_per_label must be >= 0")
        try:
            resolve_strategy(self.sample_strategy)
        except ValueError as err:
            raise ConfigError(f"sample_strategy: {err}") from None

    @property
    def strategy(self) -> str:
        """The concrete sampling strategy (``UNCERTAINTY`` resolved)."""
        return resolve_strategy(self.sample_strategy)

    def to_dict(self) -> dict:
        return asdict(self)


def config_from_dict(data: dict) -> ActiveLearningConfig:
    """Build a config from either labelloop's flat snake_case form or DataLabelingJob's JSON.

    DataLabelingJob form: ``{"maxDataItemCount": "500", "sampleConfig": {"sampleStrategy":
    "UNCERTAINTY", "initialBatchSamplePercentage": 5, "followingBatchSamplePercentage": 5},
    "trainingConfig": {"timeoutTrainingMilliHours": "1000"}}``; labelloop's extra fields
    (``max_rounds``, ``target_metric``, …) may sit beside them in snake_case.
    """
    flat = dict(data)
    sample = flat.pop("sampleConfig", None) or {}
    training = flat.pop("trainingConfig", None) or {}
    camel = {
        "maxDataItemCount": "max_data_item_count",
        "maxDataItemPercentage": "max_data_item_percentage",
        "sampleStrategy": "sample_strategy",
        "initialBatchSamplePercentage": "initial_batch_sample_percentage",
        "followingBatchSamplePercentage": "following_batch_sample_percentage",
        "timeoutTrainingMilliHours": "timeout_training_milli_hours",
    }
    for source in (sample, training):
        flat.update(source)
    flat = {camel.get(k, k): v for k, v in flat.items()}
    known = {f.name for f in fields(ActiveLearningConfig)}
    unknown = sorted(set(flat) - known)
    if unknown:
        raise ConfigError(f"unknown active-learning config field(s) {unknown}; known: {sorted(known)}")
    for name in ("max_data_item_count", "timeout_training_milli_hours", "max_rounds", "plateau_rounds"):
        if flat.get(name) is not None:
            flat[name] = _as_int(name, flat[name])  # int64 fields arrive as strings in the REST JSON
    if flat.get("sample_strategy") == "SAMPLE_STRATEGY_UNSPECIFIED":
        flat["sample_strategy"] = "UNCERTAINTY"
    return ActiveLearningConfig(**flat)


def _as_int(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number != float(value):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    return number


def to_data_labeling_job(config: ActiveLearningConfig) -> dict:
    """The ``activeLearningConfig`` JSON of a DataLabelingJob for this config (labelloop extras dropped)."""
    out: dict = {
        "sampleConfig": {
            "sampleStrategy": "UNCERTAINTY",  # the service's only strategy; ours is in sample_strategy
            "initialBatchSamplePercentage": config.initial_batch_sample_percentage,
            "followingBatchSamplePercentage": config.following_batch_sample_percentage,
        },
        "trainingConfig": {"timeoutTrainingMilliHours": str(config.timeout_training_milli_hours)},
    }
    if config.max_data_item_count is not None:
        out["maxDataItemCount"] = str(config.max_data_item_count)
    else:
        out["maxDataItemPercentage"] = config.max_data_item_percentage
    return out


# ---------------------------------------------------------------------------------------------
# Budget arithmetic


def human_label_budget(config: ActiveLearningConfig, total_items: int) -> int:
    """How many items humans may label in all, out of ``total_items`` (never more than exist)."""
    _check_count("total_items", total_items)
    if config.max_data_item_count is not None:
        return min(config.max_data_item_count, total_items)
    return min(total_items, math.floor(config.max_data_item_percentage * total_items / 100 + 1e-9))


def planned_batch_size(config: ActiveLearningConfig, total_items: int, round_index: int) -> int:
    """The batch size the percentages ask for in round ``round_index`` (0 = initial batch), at least 1."""
    _check_count("round_index", round_index)
    percent = config.initial_batch_sample_percentage if round_index == 0 else config.following_batch_sample_percentage
    return max(1, math.ceil(percent * total_items / 100 - 1e-9))


def next_batch_size(
    config: ActiveLearningConfig, *, total_items: int, round_index: int, labels_bought: int, pool_remaining: int
) -> int:
    """The batch to label now: the planned size, capped by the budget left and the pool left."""
    for name, value in (("labels_bought", labels_bought), ("pool_remaining", pool_remaining)):
        _check_count(name, value)
    budget_left = max(0, human_label_budget(config, total_items) - labels_bought)
    return min(planned_batch_size(config, total_items, round_index), budget_left, pool_remaining)


def batch_schedule(config: ActiveLearningConfig, total_items: int) -> tuple[int, ...]:
    """Every round's batch size until the budget or ``max_rounds`` runs out (pool assumed large enough)."""
    sizes: list[int] = []
    bought = 0
    for round_index in range(config.max_rounds):
        size = next_batch_size(
            config,
            total_items=total_items,
            round_index=round_index,
            labels_bought=bought,
            pool_remaining=total_items - bought,
        )
        if size == 0:
            break
        sizes.append(size)
        bought += size
    return tuple(sizes)


def _check_count(name: str, value: int) -> None:
    if int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Round records and stopping


@dataclass(frozen=True)
class RoundRecord:
    """What one labeling round bought and what the model scored afterwards.

    Attributes:
        round_index: 0 for the initial batch.
        strategy: the sampling strategy that chose the batch.
        labels_bought: items sent to humans this round.
        labels_total: human labels bought so far, this round included.
        spend: this round's cost (``labels_bought * cost_per_label``).
        spend_total: cost so far.
        metric_name: the test-split metric.
        metric_value: the metric of the model trained on ``labels_total`` labels; None if not evaluated.
        chosen_ids: ids of the items chosen this round.
        model_version: the model that chose them (empty for a cold start).
    """

    round_index: int
    strategy: str
    labels_bought: int
    labels_total: int
    spend: float
    spend_total: float
    metric_name: str
    metric_value: float | None
    chosen_ids: tuple[str, ...] = field(default_factory=tuple)
    model_version: str = ""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["chosen_ids"] = list(self.chosen_ids)
        return out

    @staticmethod
    def from_dict(data: dict) -> RoundRecord:
        known = {f.name for f in fields(RoundRecord)}
        missing = sorted(known - set(data) - {"chosen_ids", "model_version"})
        if missing:
            raise ValueError(f"round record lacks {missing}: {data!r}")
        return RoundRecord(
            **{**{k: v for k, v in data.items() if k in known}, "chosen_ids": tuple(data.get("chosen_ids", ()))}
        )


def next_round_record(
    config: ActiveLearningConfig,
    previous: Sequence[RoundRecord],
    *,
    chosen_ids: Sequence[str],
    metric_value: float | None,
    strategy: str,
    model_version: str = "",
) -> RoundRecord:
    """The record of the round that just bought ``chosen_ids``, continuing ``previous``."""
    last = previous[-1] if previous else None
    bought = len(chosen_ids)
    spend = round(bought * config.cost_per_label, 6)
    return RoundRecord(
        round_index=(last.round_index + 1) if last else 0,
        strategy=strategy,
        labels_bought=bought,
        labels_total=(last.labels_total if last else 0) + bought,
        spend=spend,
        spend_total=round((last.spend_total if last else 0.0) + spend, 6),
        metric_name=config.metric_name,
        metric_value=None if metric_value is None else float(metric_value),
        chosen_ids=tuple(chosen_ids),
        model_version=model_version,
    )


@dataclass(frozen=True)
class StopDecision:
    """Whether the loop stops, and why (a code from :data:`STOP_REASONS` plus a sentence)."""

    stop: bool
    reason: str
    detail: str


def stop_decision(
    config: ActiveLearningConfig, records: Sequence[RoundRecord], *, total_items: int, pool_remaining: int
) -> StopDecision:
    """Apply the stopping rules, in order: budget, pool, target, plateau, max rounds."""
    bought = records[-1].labels_total if records else 0
    budget = human_label_budget(config, total_items)
    if bought >= budget:
        return StopDecision(True, "budget_exhausted", f"{bought} of {budget} human labels bought")
    if pool_remaining <= 0:
        return StopDecision(True, "pool_exhausted", "no unlabeled items left")
    scored = [r.metric_value for r in records if r.metric_value is not None]
    if config.target_metric is not None and scored and scored[-1] >= config.target_metric:
        return StopDecision(
            True, "target_reached", f"{config.metric_name} {scored[-1]:.4f} >= target {config.target_metric}"
        )
    if config.plateau_rounds and len(scored) > config.plateau_rounds:
        before = max(scored[: -config.plateau_rounds])
        recent = max(scored[-config.plateau_rounds :])
        if recent - before <= config.plateau_min_improvement:
            return StopDecision(
                True,
                "plateau",
                f"best {config.metric_name} rose {recent - before:+.4f} over the last {config.plateau_rounds} rounds "
                f"(needs > {config.plateau_min_improvement})",
            )
    if len(records) >= config.max_rounds:
        return StopDecision(True, "max_rounds", f"{len(records)} rounds run, max_rounds is {config.max_rounds}")
    return StopDecision(False, "", f"{bought} of {budget} labels bought; continue")


STATE_KEY = "active_learning_rounds"


def rounds_to_state(records: Sequence[RoundRecord]) -> dict:
    """The dataset-state entry that carries round records from run to run."""
    return {STATE_KEY: [r.to_dict() for r in records]}


def rounds_from_state(values: dict) -> list[RoundRecord]:
    """Round records kept in a dataset's state (empty when none were kept)."""
    return [RoundRecord.from_dict(entry) for entry in values.get(STATE_KEY, [])]


def with_metric(record: RoundRecord, value: float | None) -> RoundRecord:
    """``record`` with its metric set, unless it already has one or ``value`` is None."""
    if value is None or record.metric_value is not None:
        return record
    return replace(record, metric_value=float(value))


def read_round_records(path: str) -> list[RoundRecord]:
    """Round records from a JSONL file (one record a line), in round order."""
    records = []
    for line in manifest.read_lines(path):
        try:
            records.append(RoundRecord.from_dict(line.record))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}:{line.number}: not a round record ({err})") from None
    return records


def write_round_records(path: str, records: Iterable[RoundRecord]) -> int:
    """Write round records as JSONL atomically; returns how many."""
    return manifest.write_jsonl(path, (r.to_dict() for r in records))


# ---------------------------------------------------------------------------------------------
# Learning curves


@dataclass(frozen=True)
class LearningCurve:
    """Metric versus human labels bought, for one strategy."""

    strategy: str
    labels: tuple[int, ...]
    metric: tuple[float, ...]


def learning_curve(records: Sequence[RoundRecord], strategy: str = "") -> LearningCurve:
    """The curve of evaluated rounds (rounds without a metric are left out)."""
    points = [(r.labels_total, r.metric_value) for r in records if r.metric_value is not None]
    name = strategy or (records[-1].strategy if records else "")
    return LearningCurve(name, tuple(p[0] for p in points), tuple(float(p[1]) for p in points))


def labels_to_reach(curve: LearningCurve, target: float) -> int | None:
    """The fewest labels at which the curve reached ``target``; None if it never did."""
    for labels, value in zip(curve.labels, curve.metric):
        if value >= target:
            return labels
    return None


# ---------------------------------------------------------------------------------------------
# Comparing strategies over seeds (what a report shows: curves with their spread, labels saved)


@dataclass(frozen=True)
class CurveBand:
    """One strategy's learning curve over several seeds: mean and spread at each label count.

    The curves are step functions (a run's metric holds until its next evaluated round), read on
    the union of the runs' label counts from the point every run has a value.
    """

    strategy: str
    labels: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    std: tuple[float, ...]
    runs: int


def _value_at(curve: LearningCurve, labels: int) -> float | None:
    """The curve's metric after its last evaluated round with at most ``labels`` labels."""
    value = None
    for n, metric in zip(curve.labels, curve.metric):
        if n > labels:
            break
        value = metric
    return value


def curve_band(curves: Sequence[LearningCurve], strategy: str = "") -> CurveBand:
    """Mean, min, max and standard deviation of several runs' curves (one per seed)."""
    curves = [c for c in curves if c.labels]
    if not curves:
        raise ValueError("curve_band needs at least one curve with an evaluated round")
    start = max(c.labels[0] for c in curves)
    grid = sorted({n for c in curves for n in c.labels if n >= start})
    stacked = [[_value_at(c, n) for c in curves] for n in grid]
    values = [tuple(float(v) for v in row) for row in stacked]
    return CurveBand(
        strategy or curves[0].strategy,
        tuple(grid),
        tuple(statistics.fmean(v) for v in values),
        tuple(min(v) for v in values),
        tuple(max(v) for v in values),
        tuple(statistics.pstdev(v) for v in values),
        len(curves),
    )


@dataclass(frozen=True)
class LabelSaving:
    """Labels each strategy needed to reach the same metric, per seed and on the mean curves.

    Attributes:
        target: the metric both had to reach.
        strategy / baseline: the names compared (e.g. ``margin_diverse`` vs ``random``).
        labels: labels the strategy's mean curve needed (None: never reached).
        baseline_labels: labels the baseline's mean curve needed (None: never reached).
        per_seed: ``(strategy labels, baseline labels)`` per seed, paired in the order given.
    """

    target: float
    strategy: str
    baseline: str
    labels: int | None
    baseline_labels: int | None
    per_seed: tuple[tuple[int | None, int | None], ...]

    @property
    def saving(self) -> float | None:
        """Share of the baseline's labels saved (None when either never reached the target)."""
        if self.labels is None or not self.baseline_labels:
            return None
        return 1 - self.labels / self.baseline_labels

    def sentence(self, metric_name: str = "accuracy") -> str:
        """One line for a summary: who needed how many labels to reach the target."""
        if self.labels is None:
            return f"{self.strategy} did not reach {metric_name} {self.target:.4f} within its labels"
        if self.baseline_labels is None:
            return (
                f"{self.strategy} reached {metric_name} {self.target:.4f} with {self.labels} labels; "
                f"{self.baseline} did not reach it within its labels"
            )
        return (
            f"{self.strategy} reached {metric_name} {self.target:.4f} with {self.labels} labels, "
            f"{self.baseline} needed {self.baseline_labels} ({self.saving:.0%} fewer labels)"
        )


def label_saving(
    strategy_runs: Sequence[Sequence[RoundRecord]],
    baseline_runs: Sequence[Sequence[RoundRecord]],
    *,
    target: float | None = None,
    fraction_of_baseline_best: float = 1.0,
) -> tuple[LabelSaving, CurveBand, CurveBand]:
    """Compare two strategies' round records over seeds (e.g. active learning vs random sampling).

    Args:
        strategy_runs: one list of round records per seed for the strategy.
        baseline_runs: the same for the baseline (same seeds, same order).
        target: the metric to reach; default ``fraction_of_baseline_best`` times the best value
            the baseline's mean curve reached (so the baseline reaches it by construction).
        fraction_of_baseline_best: see ``target``.

    Returns:
        ``(saving, strategy band, baseline band)``: the bands are the learning curves with their
        spread, ready to plot from the same run.
    """
    if not strategy_runs or not baseline_runs:
        raise ValueError("label_saving needs at least one run of each strategy")
    strategy_curves = [learning_curve(r) for r in strategy_runs]
    baseline_curves = [learning_curve(r) for r in baseline_runs]
    band = curve_band(strategy_curves)
    baseline_band = curve_band(baseline_curves)
    if target is None:
        target = fraction_of_baseline_best * max(baseline_band.mean)
    mean_curve = LearningCurve(band.strategy, band.labels, band.mean)
    baseline_mean = LearningCurve(baseline_band.strategy, baseline_band.labels, baseline_band.mean)
    saving = LabelSaving(
        float(target),
        band.strategy,
        baseline_band.strategy,
        labels_to_reach(mean_curve, target),
        labels_to_reach(baseline_mean, target),
        tuple(
            (labels_to_reach(a, target), labels_to_reach(b, target)) for a, b in zip(strategy_curves, baseline_curves)
        ),
    )
    return saving, band, baseline_band
