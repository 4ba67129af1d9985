"""KFP component: turn an ActiveLearningConfig into the first batch size and the concrete strategy."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def plan_labeling(config_json: str, total_items: int) -> NamedTuple(
    "Outputs", initial_batch_size=int, human_label_budget=int, strategy=str, max_rounds=int
):
    """Validates the active-learning config and works out the budget in items.

    Args:
        config_json: ActiveLearningConfig as JSON (DataLabelingJob's ``activeLearningConfig`` form
            or labelloop's snake_case form).
        total_items: Items in the dataset, which the percentages refer to.

    Returns:
        initial_batch_size: Items in the cold-start batch.
        human_label_budget: Most items humans may label over all rounds.
        strategy: The concrete sampling strategy (``UNCERTAINTY`` resolved).
        max_rounds: Most labeling rounds.
    """
    import json
    from collections import namedtuple

    from labelloop.components.core import active_learning as al

    config = al.config_from_dict(json.loads(config_json))
    outputs = namedtuple("Outputs", "initial_batch_size human_label_budget strategy max_rounds")
    budget = al.human_label_budget(config, total_items)
    first = min(al.planned_batch_size(config, total_items, 0), budget)
    return outputs(first, budget, config.strategy, config.max_rounds)
