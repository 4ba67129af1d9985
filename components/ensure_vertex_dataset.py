"""KFP component (Vertex target): one managed dataset per display name, fed a `.jsonl` import file."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def ensure_vertex_dataset(
    items: dsl.Input[dsl.Dataset],
    location: str,
    display_name: str,
    data_type: str,
    import_schema_uri: str,
    dataset: dsl.Output[dsl.Artifact],
    import_file: dsl.Output[dsl.Artifact],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
):
    """Writes the manifest as a ``.jsonl`` import file and imports it into the dataset named ``display_name``.

    The dataset is reused run after run (created only if missing), instead of a new dataset per
    run. Items keep their ``ml_use`` labels, which the AutoML filter splits select.

    Args:
        items: The split manifest (JSONL in the Vertex import schema).
        location: Vertex region.
        display_name: The managed dataset's display name.
        data_type: ``image`` or ``text``.
        import_schema_uri: The Vertex import schema of the items.
        project: Google Cloud project; the pipeline's own project unless given.

    Returns:
        dataset: The managed dataset (``resourceName`` metadata, ``google.VertexDataset``-compatible).
        import_file: The ``.jsonl`` copy of ``items`` that Vertex imported.
    """
    import fsspec
    from labelloop.components.backends.vertex_datasets import VertexDatasets, ensure_dataset_with_items
    from labelloop.components.core import vertex_data

    import_file.uri = vertex_data.import_file_uri(import_file.uri)
    with fsspec.open(items.uri, "rb") as source, fsspec.open(import_file.uri, "wb") as target:
        target.write(source.read())
    outcome = ensure_dataset_with_items(
        VertexDatasets(project=project, location=location),
        display_name=display_name,
        data_type=data_type,
        import_uri=import_file.uri,
        import_schema_uri=import_schema_uri,
    )
    dataset.uri = f"https://{location}-aiplatform.googleapis.com/v1/{outcome.name}"
    dataset.metadata.update({"resourceName": outcome.name, "created": outcome.created})
