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

from ..components.merge_prefilter_shards import merge_prefilter_shards
from ..components.prefilter_shard import prefilter_shard
from ..components.shard_items import shard_items
from ._sharding import DEFAULT_PARALLELISM, size_machine
from ._targets import check_target


def build_pipeline(target: str = "local", *, parallelism: int = DEFAULT_PARALLELISM):
    """The pipeline for ``target``; ``parallelism`` caps the shard tasks running at once."""
    check_target(target)

    @dsl.pipeline(
        name="prefilter-sharded",
        description="Drop corrupt, blurry and duplicate images with the per-image work split over many tasks.",
    )
    def prefilter_sharded(
        items_uri: str,
        shard_count: int = 8,
        shard_size: int = 0,
        shard_cpu: str = "4",
        shard_memory: str = "16G",
        merge_cpu: str = "8",
        merge_memory: str = "32G",
        hamming_threshold: int = 8,
        blur_threshold: float = 0.86,
        min_side: int = 32,
    ):
        """Prefilter the manifest at ``items_uri`` in shards (``shard_count``, or ``shard_size`` items each)."""
        settings = dict(
            hamming_threshold=hamming_threshold, blur_threshold=blur_threshold, min_width=min_side, min_height=min_side
        )
        items = dsl.importer(artifact_uri=items_uri, artifact_class=dsl.Dataset).set_display_name("Manifest")
        split = shard_items(items=items.output, shard_count=shard_count, shard_size=shard_size).set_display_name(
            "Split into shards"
        )
        with dsl.ParallelFor(split.outputs["Output"], parallelism=parallelism, name="shards") as shard:
            inspected = prefilter_shard(shards=split.outputs["shards"], shard=shard, **settings).set_display_name(
                "Inspect one shard's images"
            )
            size_machine(inspected, target, cpu=shard_cpu, memory=shard_memory)
        merged = merge_prefilter_shards(
            items=items.output, facts=dsl.Collected(inspected.outputs["facts"]), **settings
        ).set_display_name("Find duplicates across shards")
        size_machine(merged, target, cpu=merge_cpu, memory=merge_memory)

    return prefilter_sharded
