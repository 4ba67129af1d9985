"""KFP component: restore a stored dataset version as a manifest artifact."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def checkout_dataset(
    store_uri: str,
    dataset_name: str,
    items: dsl.Output[dsl.Dataset],
    version_id: str = "latest",
) -> NamedTuple("Outputs", version_id=str, item_count=int):
    """Restores a dataset version (by default the latest) from the version store.

    Args:
        store_uri: Version store root: a local folder or a gs:// prefix.
        dataset_name: Dataset to read.
        version_id: Version to restore, or ``latest``.

    Returns:
        items: The version's manifest, verified against its content hash.
        version_id: The id of the restored version.
        item_count: Items in it.
    """
    from collections import namedtuple

    from labelloop.components.core import versions

    version = versions.get_version(store_uri, dataset_name, version_id, restore_to=items.path)
    items.metadata.update({"dataset": dataset_name, "version_id": version.version_id, "item_count": version.item_count})
    return namedtuple("Outputs", "version_id item_count")(version.version_id, version.item_count)
