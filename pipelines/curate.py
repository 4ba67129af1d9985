"""The ``curate`` pipeline: raw data in, a clean, deduplicated, split manifest out.

    import_dataset ─▶ prefilter_images ─▶ split_dataset (─▶ get_artifact_uri ─▶ Vertex dataset create)

The local target stops at the split manifest; the vertex target also creates a Vertex AI managed
dataset from it with GCPC's dataset-create op.
"""

from typing import NamedTuple

from kfp import dsl

from ..components.get_artifact_uri import get_artifact_uri
from ..components.import_dataset import import_dataset
from ..components.prefilter_images import prefilter_images
from ..components.split_dataset import split_dataset
from ._targets import IMPORT_SCHEMAS, LOCAL_SCHEMES, VERTEX_SCHEMES, check_target


class CurateTasks(NamedTuple):
    """The curate tasks, for pipelines that build on them."""

    imported: object
    prefiltered: object
    split: object


def curate_steps(
    source_uri: str,
    data_type: str,
    source_format: str,
    allowed_labels: list,
    max_reject_rate: float,
    min_items_per_label: int,
    hamming_threshold: int,
    blur_threshold: float,
    min_side: int,
    split_method: str,
    training_fraction: float,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    allowed_uri_schemes: list,
) -> CurateTasks:
    """Add import → prefilter → split to the enclosing pipeline."""
    imported = import_dataset(
        source_uri=source_uri,
        source_format=source_format,
        data_type=data_type,
        allowed_labels=allowed_labels,
        max_reject_rate=max_reject_rate,
        min_items_per_label=min_items_per_label,
        allowed_uri_schemes=allowed_uri_schemes,
    ).set_display_name("Import and validate")
    prefiltered = prefilter_images(
        items=imported.outputs["items"],
        hamming_threshold=hamming_threshold,
        blur_threshold=blur_threshold,
        min_width=min_side,
        min_height=min_side,
    ).set_display_name("Drop duplicates, blurry and corrupt images")
    split = split_dataset(
        items=prefiltered.outputs["kept"],
        method=split_method,
        training_fraction=training_fraction,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
    ).set_display_name("Split into training / validation / test")
    return CurateTasks(imported, prefiltered, split)


def build_pipeline(target: str = "local"):
    """The curate pipeline for ``target`` (``local`` or ``vertex``)."""
    check_target(target)

    @dsl.pipeline(
        name="curate", description="Import, validate, deduplicate, drop blurry/corrupt items and split a dataset."
    )
    def curate(
        source_uri: str,
        data_type: str = "image",
        source_format: str = "auto",
        allowed_labels: list = [],
        max_reject_rate: float = 0.1,
        min_items_per_label: int = 0,
        hamming_threshold: int = 8,
        blur_threshold: float = 0.86,
        min_side: int = 32,
        split_method: str = "stratified",
        training_fraction: float = 0.8,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        dataset_display_name: str = "labelloop-curated",
        location: str = "us-central1",
    ):
        """Curate raw data into a split manifest.

        Args:
            source_uri: Folder of images (class-per-subfolder or flat), a Vertex JSONL import
                file, or a CSV/Parquet table; local path or ``gs://``.
            data_type: ``image``, ``text`` or ``tabular``.
            source_format: ``auto``, ``image_folder``, ``jsonl``, ``csv`` or ``parquet``.
            allowed_labels: Label set; items with other labels are rejected. Empty allows any.
            max_reject_rate: Fail the run when more than this share of items is rejected.
            min_items_per_label: Labels with fewer items are reported (Vertex wants 10 for text).
            hamming_threshold: Perceptual-hash bits two images may differ by and still be duplicates.
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which an image is dropped.
            min_side: Images with a side shorter than this many pixels are rejected.
            split_method: ``stratified``, ``random``, ``ml_use``, ``chronological`` or ``kfold``.
            training_fraction: Share of items for training.
            validation_fraction: Share of items for validation.
            test_fraction: Share of items for test.
            seed: Seed for every random choice.
            dataset_display_name: Vertex target only: display name of the managed dataset.
            location: Vertex target only: region of the managed dataset.
        """
        tasks = curate_steps(
            source_uri,
            data_type,
            source_format,
            allowed_labels,
            max_reject_rate,
            min_items_per_label,
            hamming_threshold,
            blur_threshold,
            min_side,
            split_method,
            training_fraction,
            validation_fraction,
            test_fraction,
            seed,
            LOCAL_SCHEMES if target == "local" else VERTEX_SCHEMES,
        )
        if target == "vertex":
            create_vertex_dataset(tasks.split.outputs["split"], data_type, dataset_display_name, location)

    return curate


def create_vertex_dataset(manifest, data_type, display_name, location):
    """Add GCPC's dataset-create op for the manifest's data type (image or text) to the pipeline."""
    from google_cloud_pipeline_components.v1.dataset import ImageDatasetCreateOp, TextDatasetCreateOp

    uri = get_artifact_uri(artifact=manifest).set_display_name("Manifest URI")
    with dsl.If(data_type == "image", name="image-dataset"):
        ImageDatasetCreateOp(
            display_name=display_name,
            location=location,
            gcs_source=uri.output,
            import_schema_uri=IMPORT_SCHEMAS["image"],
        ).set_display_name("Create Vertex image dataset")
    with dsl.If(data_type == "text", name="text-dataset"):
        TextDatasetCreateOp(
            display_name=display_name,
            location=location,
            gcs_source=uri.output,
            import_schema_uri=IMPORT_SCHEMAS["text"],
        ).set_display_name("Create Vertex text dataset")
