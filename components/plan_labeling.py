"""KFP component: turn an ActiveLearningConfig into the first batch size and the concrete strategy."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def plan_labeling(config_json: str, total_items: int, rounds_in_graph: int = 0) -> NamedTuple(
    "Outputs", initial_batch_size=int, human_label_budget=int, strategy=str, max_rounds=int
):
    """Validates the active-learning config and works out the budget in items.

    Args:
        config_json: ActiveLearningConfig as JSON (DataLabelingJob's ``activeLearningConfig`` form
            or labelloop's snake_case form).
        total_items: Items in the dataset, which the percentages refer to.
        rounds_in_graph: Rounds the compiled pipeline holds (the cold start included); a config
            asking for more is refused before any label is bought. 0: no limit.

    Returns:
        initial_batch_size: Items in the cold-start batch.
        human_label_budget: Most items humans may label over all rounds.
        strategy: The concrete sampling strategy (``UNCERTAINTY`` resolved).
        max_rounds: Most labeling rounds.
    """
    import json
    from collections import namedtuple

    from labelloop.components.core import active_learning, round_decisions

    config = active_learning.config_from_dict(json.loads(config_json))
    plan = round_decisions.plan_labeling(config, total_items, rounds_in_graph=rounds_in_graph)
    outputs = namedtuple("Outputs", "initial_batch_size human_label_budget strategy max_rounds")
    return outputs(plan.initial_batch_size, plan.human_label_budget, plan.strategy, plan.max_rounds)
