"""KFP component: split a dataset into the active-learning pool and the evaluation items still to label."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def partition_items(
    items: dsl.Input[dsl.Dataset],
    pool: dsl.Output[dsl.Dataset],
    evaluation_pending: dsl.Output[dsl.Dataset],
) -> NamedTuple("Outputs", total=int, labeled=int, pool_size=int, evaluation_pending_size=int, pool_labeled=int):
    """Finds the items that still need a label, by what they are for.

    Args:
        items: Manifest with ``ml_use`` set on every item.

    Returns:
        pool: Unlabeled training items: what active learning picks from.
        evaluation_pending: Unlabeled validation and test items: labeled first, so every model is
            measured on human labels.
        total: Items in the dataset.
        labeled: Items that already have a label.
        pool_size: Items in ``pool``.
        evaluation_pending_size: Items in ``evaluation_pending``.
        pool_labeled: Labeled items outside validation/test: the labels bought on the pool (what
            ``select_items``' ``labeled_count`` should get; ``labeled`` also counts evaluation items).
    """
    from collections import namedtuple

    from labelloop.components.core.pools import partition_manifest

    counts = partition_manifest(items.path, pool.path, evaluation_pending.path)
    pool.metadata["item_count"] = counts.pool
    evaluation_pending.metadata["item_count"] = counts.evaluation_pending
    outputs = namedtuple("Outputs", "total labeled pool_size evaluation_pending_size pool_labeled")
    return outputs(counts.total, counts.labeled, counts.pool, counts.evaluation_pending, counts.labeled_pool)
