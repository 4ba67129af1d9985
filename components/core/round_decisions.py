"""Active-learning decisions the pipeline wrappers used to make themselves: the labeling plan, the
round history a new record joins, and the next batch size (0 = stop).

Pure: no kfp, no I/O beyond what the callers pass in. Built on ``active_learning``'s config,
records and stopping rules, which stay the single source of those rules.
"""

from __future__ import annotations

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
