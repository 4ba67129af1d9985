"""Active-learning decisions the pipeline wrappers used to make themselves: the labeling plan, the
round history a new record joins, and the next batch size (0 = stop).

Pure: no kfp, no I/O beyond what the callers pass in. Built on ``active_learning``'s config,
records and stopping rules, which stay the single source of those rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import active_learning as al


class RoundsExceedGraphError(ValueError):
    """The config asks for more labeling rounds than the compiled pipeline holds."""


@dataclass(frozen=True)
class LabelingPlan:
    """The first batch, the label budget in items, the concrete strategy and the round limit."""

    initial_batch_size: int
    human_label_budget: int
    strategy: str
    max_rounds: int


def check_rounds_fit(config: al.ActiveLearningConfig, rounds_in_graph: int) -> None:
    """Refuse a config whose ``max_rounds`` exceeds the rounds the compiled graph holds (0: no limit)."""
    if rounds_in_graph and config.max_rounds > rounds_in_graph:
        raise RoundsExceedGraphError(
            f"the active-learning config asks for max_rounds={config.max_rounds} (the cold start included; "
            f"{al.ActiveLearningConfig.max_rounds} when the config does not say), but this compiled pipeline holds "
            f"{rounds_in_graph} rounds; set max_rounds to at most {rounds_in_graph} in active_learning_config, "
            f"or build the pipeline with build_pipeline(target, max_rounds={config.max_rounds})"
        )


def plan_labeling(config: al.ActiveLearningConfig, total_items: int, *, rounds_in_graph: int = 0) -> LabelingPlan:
    """The labeling plan for ``total_items``, after checking the config fits the compiled graph."""
    check_rounds_fit(config, rounds_in_graph)
    budget = al.human_label_budget(config, total_items)
    first = min(al.planned_batch_size(config, total_items, 0), budget)
    return LabelingPlan(first, budget, config.strategy, config.max_rounds)


@dataclass(frozen=True)
class RoundOutcome:
    """A round closed: every record so far (this one last), the stop decision and the next batch size."""

    history: tuple[al.RoundRecord, ...]
    decision: al.StopDecision
    next_batch_size: int

    @property
    def record(self) -> al.RoundRecord:
        return self.history[-1]

    def summary(self) -> dict:
        """The facts the round's artifact metadata carries."""
        stopped_by_budget = not self.decision.stop and self.next_batch_size == 0
        return {
            "rounds": len(self.history),
            "labels_total": self.record.labels_total,
            "spend_total": self.record.spend_total,
            "stop": self.next_batch_size == 0,
            "reason": self.decision.reason if self.decision.stop else ("budget_exhausted" if stopped_by_budget else ""),
        }


def history_before_round(
    config: al.ActiveLearningConfig,
    previous: Sequence[al.RoundRecord],
    *,
    previous_metrics: dict | None = None,
) -> list[al.RoundRecord]:
    """The records before this round; ``previous_metrics`` (the evaluation of the model that chose
    this round's items, trained on the labels bought before) fills in the last record's metric."""
    history = list(previous)
    if previous_metrics is not None and history:
        history[-1] = al.with_metric(history[-1], previous_metrics.get(config.metric_name))
    return history


def close_round(
    config: al.ActiveLearningConfig,
    history: Sequence[al.RoundRecord],
    *,
    chosen_ids: Sequence[str],
    total_items: int,
    pool_remaining: int,
    strategy: str,
    metric_value: float | None = None,
    model_version: str = "",
) -> RoundOutcome:
    """Append this round's record, apply the stopping rules, and size the next batch (0 = stop)."""
    if pool_remaining < 0:
        raise ValueError(f"pool_remaining must be >= 0, got {pool_remaining}")
    record = al.next_round_record(
        config,
        history,
        chosen_ids=chosen_ids,
        metric_value=metric_value,
        strategy=strategy,
        model_version=model_version,
    )
    records = (*history, record)
    decision = al.stop_decision(config, records, total_items=total_items, pool_remaining=pool_remaining)
    next_size = (
        0
        if decision.stop
        else al.next_batch_size(
            config,
            total_items=total_items,
            round_index=record.round_index + 1,
            labels_bought=record.labels_total,
            pool_remaining=pool_remaining,
        )
    )
    return RoundOutcome(records, decision, next_size)
