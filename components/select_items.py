"""KFP component: choose the pool items humans label next (active-learning query)."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def select_items(
    items: dsl.Input[dsl.Dataset],
    selected: dsl.Output[dsl.Dataset],
    remaining: dsl.Output[dsl.Dataset],
    predictions: dsl.Input[dsl.Dataset] = None,
    embeddings: dsl.Input[dsl.Dataset] = None,
    strategy: str = "UNCERTAINTY",
    batch_size: int = 100,
    seed: int = 0,
    labeled_count: int = 0,
    stratify_field: str = "",
):
    """Splits the unlabeled pool into the batch to send to humans and the rest.

    Args:
        items: Manifest (JSONL) of the unlabeled pool.
        predictions: The predict step's output for the pool (folder with ``probabilities.npy``,
            ``ids.txt`` and ``classes.txt``, or predictions JSONL). Absent: a cold start.
        embeddings: Optional folder with ``embeddings.npy`` + ``ids.txt`` (e.g. the model's feature
            space); used by ``kcenter``, by the diversity step of ``margin_diverse`` and
            ``margin_cluster`` and by the cold start's clustering.
        strategy: ``UNCERTAINTY`` (= ``margin_diverse``: margin with a k-means step on the
            embeddings while fewer than 10 batches of pool labels exist; plain margin without
            embeddings), ``margin``, ``least_confidence``, ``entropy``, ``random``, ``kcenter`` or
            ``margin_cluster``.
        batch_size: How many items to choose; a smaller pool is taken whole.
        seed: The run's seed; each round draws a fresh one from it and ``labeled_count``.
        labeled_count: Human labels bought on the pool so far, evaluation items not counted
            (decides when diversity stops paying, and keys the round's seed).
        stratify_field: Cold start without embeddings: a ``labelloop`` field whose values are
            sampled in proportion (e.g. ``source``); empty for plain random.

    Returns:
        selected: Manifest of the chosen items, each with ``labelloop.selection_rank``/``_score``.
        remaining: Manifest of the pool items not chosen.
    """
    from labelloop.components.core import sampling

    result = sampling.select_from_manifest(
        items.path,
        selected.path,
        remaining.path,
        strategy=strategy,
        k=batch_size,
        seed=seed,
        predictions=sampling.read_predictions(predictions.path) if predictions is not None else None,
        embeddings=sampling.read_embeddings(embeddings.path) if embeddings is not None else None,
        labeled_count=labeled_count,
        stratify_field=stratify_field,
    )
    facts = {"strategy": result.strategy, "requested": result.requested, "exhausted": result.exhausted}
    selected.metadata.update({**facts, "item_count": result.selected})
    remaining.metadata.update({**facts, "item_count": result.remaining})
