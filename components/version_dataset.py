"""KFP component ``version_dataset``: store a manifest as an immutable dataset version."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def version_dataset(
    items: Input[Dataset],
    store_uri: str,
    dataset_name: str,
    description: str,
    versioned: Output[Dataset],
    pipeline_run: str = "",
    producing_step: str = "",
) -> NamedTuple("Outputs", version_id=str, parent_version=str, item_count=int):
    """Stores a manifest as a content-addressed version of a dataset, so runs and models name their exact data.

    The same content always gives the same version id; re-running the step returns the existing
    version and makes it the dataset's latest again.

    Args:
        items: JSONL manifest in the Vertex AI import schema (every item with a labelloop id).
        store_uri: Version store root: a local folder or a gs:// prefix.
        dataset_name: Dataset to add the version to (letters, digits, '_', '.', '-').
        description: What changed in this version, for people reading the version list.
        pipeline_run: Run that produced the manifest; pipelines pass dsl.PIPELINE_JOB_NAME_PLACEHOLDER.
        producing_step: Step that produced the manifest, recorded as lineage.

    Returns:
        versioned: The versioned manifest, byte for byte; metadata holds the version id, parent and item counts.
        version_id: Content hash id of the version (32 hex digits).
        parent_version: The version that was latest before this one, or "" for the first.
        item_count: Number of items in the version.
    """
    from labelloop.components.core import versions

    created = versions.create_version(
        store_uri,
        dataset_name,
        items.path,
        description=description,
        pipeline_run=pipeline_run,
        producing_step=producing_step,
    )
    version = versions.get_version(store_uri, dataset_name, created.version.version_id, restore_to=versioned.path)
    versioned.metadata.update(
        {
            "dataset": dataset_name,
            "version_id": version.version_id,
            "parent_version": version.parent or "",
            "created": created.created,
            "item_count": version.item_count,
            "counts_by_label": version.counts.by_label,
            "counts_by_split": version.counts.by_split,
            "counts_by_label_source": version.counts.by_label_source,
            "manifest_uri": version.manifest_uri,
            "store_uri": store_uri,
        }
    )
    outputs = NamedTuple("Outputs", version_id=str, parent_version=str, item_count=int)
    return outputs(version.version_id, version.parent or "", version.item_count)
