"""The ``select-sharded`` pipeline: active-learning selection over a large pool, predicted in shards.

    importer(pool), importer(model) ─▶ shard_items ─▶ ParallelFor(shard): select_shard_candidates
                                                   ─▶ merge_selection ─▶ selected / remaining

Each shard task scores its items with the model and keeps only the rows that can still be chosen;
the merge returns exactly ``select_items``' batch for ``margin``, ``least_confidence``, ``entropy``
and ``random``, and for ``margin_cluster`` clusters exactly the unsharded candidate set
(``components/core/sharded_selection.py`` says when the batch can differ). ``kcenter`` is refused.
"""

from kfp import dsl

from ..components.merge_selection import merge_selection
from ..components.select_shard_candidates import select_shard_candidates
from . import steps
from ._targets import check_target


def build_pipeline(target: str = "local", *, parallelism: int = steps.SHARD_PARALLELISM):
    """The pipeline for ``target``; ``parallelism`` caps the shard tasks running at once."""
    check_target(target)

    @dsl.pipeline(name="select-sharded", description="Choose the next labeling batch from a pool predicted in shards.")
    def select_sharded(
        pool_uri: str,
        model_uri: str,
        strategy: str = steps.STRATEGY,
        batch_size: int = steps.BATCH_SIZE,
        seed: int = steps.SEED,
        labeled_count: int = 0,
        shard_count: int = steps.SHARD_COUNT,
        shard_size: int = 0,
        shard_cpu: str = steps.SHARD_CPU,
        shard_memory: str = steps.SHARD_MEMORY,
    ):
        """Select ``batch_size`` items of the pool at ``pool_uri`` with the model at ``model_uri``.

        Args:
            pool_uri: Manifest (JSONL) of the unlabeled pool; local path or ``gs://``.
            model_uri: Folder of the model that scores the pool (a ``train_model`` output).
            strategy: Sampling strategy (``UNCERTAINTY``, ``margin``, ``entropy``, ``random``, ...).
            batch_size: How many items to select.
            seed: Seed for tie-breaks and clustering.
            labeled_count: Human labels bought on the pool so far.
            shard_count: Number of shards (used when ``shard_size`` is 0).
            shard_size: Items per shard; 0 uses ``shard_count``.
            shard_cpu: CPU limit of each shard task (Vertex machine sizing).
            shard_memory: Memory limit of each shard task.
        """
        settings = dict(strategy=strategy, batch_size=batch_size, seed=seed, labeled_count=labeled_count)
        pool = dsl.importer(artifact_uri=pool_uri, artifact_class=dsl.Dataset).set_display_name("Pool")
        model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model).set_display_name("Model")
        sharding = steps.ShardSettings(target=target, shard_count=shard_count, shard_size=shard_size)
        split = steps.shard_step(items=pool.output, sharding=sharding, display_name="Split the pool into shards")
        with dsl.ParallelFor(split.outputs["Output"], parallelism=parallelism, name="shards") as shard:
            found = select_shard_candidates(
                model=model.output, shards=split.outputs["shards"], shard=shard, **settings
            ).set_display_name("Predict one shard, keep its candidates")
            steps.size_machine(found, target, cpu=shard_cpu, memory=shard_memory)
        merge_selection(
            items=pool.output, candidates=dsl.Collected(found.outputs["candidates"]), **settings
        ).set_display_name("Choose the batch")

    return select_sharded
