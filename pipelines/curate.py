"""The ``curate`` pipeline: raw data in, a clean, deduplicated, split manifest out.

    import_dataset ─▶ prefilter_images ─▶ split_dataset (─▶ ensure_vertex_dataset)

Images, text (JSONL) and tables (CSV/Parquet) alike: a table stays a table from import to split
(the prefilter passes it through, import already checked its rows), and the split honours its
``target_column`` (stratified), ``time_field`` (chronological) and ``group_column``.

With ``sharded=True`` the prefilter's per-image work fans out over shards instead (issue 18):

    import_dataset ─▶ shard_items ─▶ ParallelFor: prefilter_shard ─▶ merge_prefilter_shards ─▶ split_dataset …

and the kept items are identical, so the split is too. Use it when one task would take hours
(about 500 images/s per 2 cores: from a few million images on); ``docs/scale-out.md`` sizes it.

The local target stops at the split manifest; the vertex target also imports it, as a ``.jsonl``
file, into the Vertex AI managed dataset named ``dataset_display_name`` (created on the first run,
reused after; tables are not imported into a managed dataset yet).
"""

from kfp import dsl

from . import steps
from ._targets import check_target


def build_pipeline(target: str = "local", *, parallelism: int = steps.SHARD_PARALLELISM):
    """The curate pipeline for ``target`` (``local`` or ``vertex``); ``parallelism`` caps the shard
    tasks running at once on the sharded path."""
    check_target(target)

    @dsl.pipeline(
        name="curate", description="Import, validate, deduplicate, drop blurry/corrupt items and split a dataset."
    )
    def curate(
        source_uri: str,
        data_type: str = "image",
        source_format: str = "auto",
        target_column: str = "",
        allowed_labels: list = [],
        max_reject_rate: float = steps.MAX_REJECT_RATE,
        min_items_per_label: int = steps.MIN_ITEMS_PER_LABEL,
        hamming_threshold: int = steps.HAMMING_THRESHOLD,
        blur_threshold: float = steps.BLUR_THRESHOLD,
        min_side: int = steps.MIN_SIDE,
        split_method: str = steps.SPLIT_METHOD,
        time_field: str = "",
        group_column: str = "",
        training_fraction: float = steps.TRAINING_FRACTION,
        validation_fraction: float = steps.VALIDATION_FRACTION,
        test_fraction: float = steps.TEST_FRACTION,
        seed: int = steps.SEED,
        dataset_display_name: str = "labelloop-curated",
        location: str = steps.LOCATION,
        sharded: bool = False,
        shard_count: int = steps.SHARD_COUNT,
        shard_size: int = 0,
        shard_cpu: str = steps.SHARD_CPU,
        shard_memory: str = steps.SHARD_MEMORY,
        merge_cpu: str = steps.MERGE_CPU,
        merge_memory: str = steps.MERGE_MEMORY,
    ):
        """Curate raw data into a split manifest.

        Args:
            source_uri: Folder of images (class-per-subfolder or flat), a Vertex JSONL import
                file, or a CSV/Parquet table; local path or ``gs://``.
            data_type: ``image``, ``text`` or ``tabular``.
            source_format: ``auto``, ``image_folder``, ``jsonl``, ``csv`` or ``parquet``.
            target_column: Tabular only: the column to predict (the label); empty for rows not
                labeled yet. Stratified splits stratify by it.
            allowed_labels: Label set; items with other labels are rejected. Empty allows any.
            max_reject_rate: Fail the run when more than this share of items is rejected.
            min_items_per_label: Labels with fewer items are reported (Vertex wants 10 for text).
            hamming_threshold: Perceptual-hash bits two images may differ by and still be duplicates.
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which an image is dropped.
            min_side: Images with a side shorter than this many pixels are rejected.
            split_method: ``stratified``, ``random``, ``ml_use``, ``chronological`` or ``kfold``.
            time_field: ``chronological`` only: the field (tables: the column) holding each item's
                time; the oldest items go to training, the newest to test.
            group_column: Tables only: rows sharing this column's value stay in one split.
            training_fraction: Share of items for training.
            validation_fraction: Share of items for validation.
            test_fraction: Share of items for test.
            seed: Seed for every random choice.
            dataset_display_name: Vertex target only: display name of the managed dataset.
            location: Vertex target only: region of the managed dataset.
            sharded: Prefilter in shards over many tasks (same kept items; for millions of images).
            shard_count: Sharded only: number of shards (0 to size them by ``shard_size``).
            shard_size: Sharded only: most items per shard, when ``shard_count`` is 0.
            shard_cpu: Sharded, Vertex only: CPU limit of each shard task (picks its machine).
            shard_memory: Sharded, Vertex only: memory limit of each shard task, e.g. ``16G``.
            merge_cpu: Sharded, Vertex only: CPU limit of the task that merges the shards.
            merge_memory: Sharded, Vertex only: its memory limit (3.5 GB measured at 10 million images).
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
            target_column=target_column,
            time_field=time_field,
            group_column=group_column,
            training_fraction=training_fraction,
            validation_fraction=validation_fraction,
            test_fraction=test_fraction,
            seed=seed,
        )

        def split_and_register(kept):
            split = steps.split_step(items=kept, settings=settings)
            if target == "vertex":
                steps.create_vertex_dataset(
                    items=split.outputs["split"],
                    data_type=data_type,
                    display_name=dataset_display_name,
                    location=location,
                )

        imported = steps.import_step(source_uri=source_uri, settings=settings)
        with dsl.If(sharded == False, name="whole"):  # a pipeline channel: == builds the condition
            prefiltered = steps.prefilter_step(items=imported.outputs["items"], settings=settings)
            split_and_register(prefiltered.outputs["kept"])
        with dsl.Else(name="sharded"):
            sharding = steps.ShardSettings(
                target=target,
                shard_count=shard_count,
                shard_size=shard_size,
                cpu=shard_cpu,
                memory=shard_memory,
                parallelism=parallelism,
                merge_cpu=merge_cpu,
                merge_memory=merge_memory,
            )
            merged = steps.sharded_prefilter_steps(
                items=imported.outputs["items"], settings=settings, sharding=sharding
            )
            split_and_register(merged.outputs["kept"])

    return curate
