"""The ``curate`` pipeline: raw data in, a clean, deduplicated, split manifest out.

    import_dataset ─▶ prefilter_images ─▶ split_dataset (─▶ get_artifact_uri ─▶ Vertex dataset create)

The local target stops at the split manifest; the vertex target also creates a Vertex AI managed
dataset from it with GCPC's dataset-create op.
"""

from kfp import dsl

from . import steps
from ._targets import check_target


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
        max_reject_rate: float = steps.MAX_REJECT_RATE,
        min_items_per_label: int = steps.MIN_ITEMS_PER_LABEL,
        hamming_threshold: int = steps.HAMMING_THRESHOLD,
        blur_threshold: float = steps.BLUR_THRESHOLD,
        min_side: int = steps.MIN_SIDE,
        split_method: str = steps.SPLIT_METHOD,
        training_fraction: float = steps.TRAINING_FRACTION,
        validation_fraction: float = steps.VALIDATION_FRACTION,
        test_fraction: float = steps.TEST_FRACTION,
        seed: int = steps.SEED,
        dataset_display_name: str = "labelloop-curated",
        location: str = steps.LOCATION,
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
        settings = steps.CurateSettings(
            data_type=data_type,
            source_format=source_format,
            allowed_labels=allowed_labels,
            allowed_uri_schemes=steps.schemes(target),
            max_reject_rate=max_reject_rate,
            min_items_per_label=min_items_per_label,
            hamming_threshold=hamming_threshold,
            blur_threshold=blur_threshold,
            min_side=min_side,
            split_method=split_method,
            training_fraction=training_fraction,
            validation_fraction=validation_fraction,
            test_fraction=test_fraction,
            seed=seed,
        )
        tasks = steps.curate_steps(source_uri=source_uri, settings=settings)
        if target == "vertex":
            steps.create_vertex_dataset(
                items=tasks.split.outputs["split"],
                data_type=data_type,
                display_name=dataset_display_name,
                location=location,
            )

    return curate
