"""KFP component: fold newly labeled items back into the dataset."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def merge_labels(
    items: dsl.Input[dsl.Dataset],
    labeled: dsl.Input[dsl.Dataset],
    merged: dsl.Output[dsl.Dataset],
    allow_new: bool = False,
) -> NamedTuple("Outputs", replaced=int):
    """Replaces each item of ``items`` by its newer, labeled version from ``labeled``.

    A new label overwrites the old one, which is appended to the item's ``labelloop.label_history``
    (nothing is lost); an update without a label (over budget, unanswered) keeps the item's label, and
    so does a disputed one (``needs_review``, kept as ``labelloop.disputed_label``) unless its votes
    beat the item's label counted as one more vote.

    Args:
        items: Manifest of the whole dataset.
        labeled: Manifest of items labeled since (a subset of ``items``, same ids).
        allow_new: Append items of ``labeled`` that ``items`` lacks instead of failing.

    Returns:
        merged: The dataset with the new labels, in the original order.
        replaced: How many items were replaced by a newer version (relabeled or not).
    """
    from collections import namedtuple

    from labelloop.components.core.merge import merge_manifests

    result = merge_manifests(items.path, [labeled.path], merged.path, allow_new=allow_new)
    merged.metadata.update(
        {
            "item_count": result.total,
            "replaced": result.replaced,
            "added": result.added,
            "relabeled": result.relabeled,
            "labels_kept": result.labels_kept,
            "disputed": result.disputed,
        }
    )
    return namedtuple("Outputs", "replaced")(result.replaced)
