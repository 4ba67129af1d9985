"""The ``prefilter-sharded`` pipeline: the image prefilter fanned out over machines with ``dsl.ParallelFor``.

    importer ─▶ shard_items ─▶ ParallelFor(shard): prefilter_shard ─▶ merge_prefilter_shards

``shard_items`` splits the manifest by content id; each shard's images are read, checked and hashed
on their own task (CPU and memory per task are pipeline parameters, which Vertex AI Pipelines turns
into the machine it runs the task on); one merge task finds duplicates across all shards and writes
kept and rejects identical to ``prefilter_images`` on the whole manifest. How many shard tasks run
at once is fixed when the pipeline is built (KFP compiles ``parallelism`` into the spec):
``build_pipeline(target, parallelism=...)``.
"""

from kfp import dsl

from . import steps
from ._targets import check_target


def build_pipeline(target: str = "local", *, parallelism: int = steps.SHARD_PARALLELISM):
    """The pipeline for ``target``; ``parallelism`` caps the shard tasks running at once."""
    check_target(target)

    @dsl.pipeline(
        name="prefilter-sharded",
        description="Drop corrupt, blurry and duplicate images with the per-image work split over many tasks.",
    )
    def prefilter_sharded(
        items_uri: str,
        shard_count: int = steps.SHARD_COUNT,
        shard_size: int = 0,
        shard_cpu: str = steps.SHARD_CPU,
        shard_memory: str = steps.SHARD_MEMORY,
        merge_cpu: str = steps.MERGE_CPU,
        merge_memory: str = steps.MERGE_MEMORY,
        hamming_threshold: int = steps.HAMMING_THRESHOLD,
        blur_threshold: float = steps.BLUR_THRESHOLD,
        min_side: int = steps.MIN_SIDE,
    ):
        """Prefilter the manifest at ``items_uri`` in shards (``shard_count``, or ``shard_size`` items each).

        Args:
            items_uri: The item manifest (JSONL) to prefilter; local path or ``gs://``.
            shard_count: Number of shards (used when ``shard_size`` is 0).
            shard_size: Items per shard; 0 uses ``shard_count``.
            shard_cpu: CPU limit of each shard task (Vertex machine sizing).
            shard_memory: Memory limit of each shard task.
            merge_cpu: CPU limit of the merge task (the global duplicate search).
            merge_memory: Memory limit of the merge task.
            hamming_threshold: Perceptual-hash bits two images may differ by and still be duplicates.
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which an image is dropped.
            min_side: Images with a side shorter than this many pixels are rejected.
        """
        settings = steps.CurateSettings(
            data_type="image",
            allowed_labels=[],
            allowed_uri_schemes=steps.schemes(target),
            hamming_threshold=hamming_threshold,
            blur_threshold=blur_threshold,
            min_side=min_side,
        )
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
        items = dsl.importer(artifact_uri=items_uri, artifact_class=dsl.Dataset).set_display_name("Manifest")
        steps.sharded_prefilter_steps(items=items.output, settings=settings, sharding=sharding)

    return prefilter_sharded
