"""KFP component: predict one pool shard and keep the rows the sharded selection may choose."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def select_shard_candidates(
    model: dsl.Input[dsl.Model],
    shards: dsl.Input[dsl.Artifact],
    shard: int,
    candidates: dsl.Output[dsl.Artifact],
    rejects: dsl.Output[dsl.Dataset],
    strategy: str = "UNCERTAINTY",
    batch_size: int = 100,
    seed: int = 0,
    labeled_count: int = 0,
    chunk_size: int = 512,
):
    """Scores one shard of the unlabeled pool and keeps its candidates for ``merge_selection``.

    Args:
        model: A model folder written by ``train_model``.
        shards: The folder ``shard_items`` wrote from the pool.
        shard: Which shard (one of ``shard_items``' numbers).
        strategy: ``margin``, ``least_confidence``, ``entropy`` (the merge returns exactly the
            unsharded batch), ``UNCERTAINTY``/``margin_cluster`` (clustered over the unsharded
            candidate set; see ``core/sharded_selection.py``) or ``random``; ``kcenter`` does not
            shard.
        batch_size: The whole batch's size (each shard keeps at most this many, plus ties).
        seed: As in ``select_items``: seeds tie-breaks and clustering.
        labeled_count: As in ``select_items``.
        chunk_size: Items featurized and scored at a time.

    Returns:
        candidates: The shard's candidate rows (pool positions, ids, probabilities) as ``.npz``.
        rejects: Shard items that could not be read for prediction, with the reason.
    """
    import os
    import tempfile

    from labelloop.components.core import manifest, model_io, sampling, train
    from labelloop.components.core import sharded_selection as core
    from labelloop.components.core import shards as shard_files

    settings = core.SelectionSettings(strategy, batch_size, seed=seed, labeled_count=labeled_count)
    predictions = None
    with tempfile.TemporaryDirectory() as work, manifest.RejectsWriter(rejects.path, "select_shard_candidates") as out:
        if settings.strategy != "random":  # random draws from the pool size alone, as select_items does
            loaded = model_io.load_model(model.path)
            shard_manifest, _ = shard_files.shard_paths(shards.path, shard)
            paths = [os.path.join(work, name) for name in ("predictions.jsonl", "probabilities.npy", "ids.txt")]
            train.predict_manifest(loaded.model, shard_manifest, *paths, out, chunk_size=chunk_size)
            predictions = sampling.read_predictions(work)
        found = core.pool_shard_candidates(shards.path, shard, predictions, settings)
    core.write_candidates(candidates.path, found)
    candidates.metadata.update({"shard": shard, "candidate_count": len(found.ids), "shard_item_count": found.pool_rows})
