"""KFP component: fold newly labeled items back into the dataset."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def merge_labels(
    dataset: dsl.Input[dsl.Dataset],
    labeled: dsl.Input[dsl.Dataset],
    merged: dsl.Output[dsl.Dataset],
    allow_new: bool = False,
) -> int:
    """Replaces each item of ``dataset`` by its newer, labeled version from ``labeled``.

    Args:
        dataset: Manifest of the whole dataset.
        labeled: Manifest of items labeled since (a subset of ``dataset``, same ids).
        allow_new: Append items of ``labeled`` that ``dataset`` lacks instead of failing.

    Returns:
        merged: The dataset with the new labels, in the original order.
        Output: How many items were replaced by a newer version.
    """
    from labelloop.components.core.merge import merge_manifests

    result = merge_manifests(dataset.path, [labeled.path], merged.path, allow_new=allow_new)
    merged.metadata.update({"items": result.total, "replaced": result.replaced, "added": result.added})
    return result.replaced
