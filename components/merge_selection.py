"""KFP component: the sharded selection's merge: the batch from every shard's candidates."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def merge_selection(
    items: dsl.Input[dsl.Dataset],
    candidates: dsl.Input[list[dsl.Artifact]],
    selected: dsl.Output[dsl.Dataset],
    remaining: dsl.Output[dsl.Dataset],
    strategy: str = "UNCERTAINTY",
    batch_size: int = 100,
    seed: int = 0,
    labeled_count: int = 0,
):
    """Chooses the batch from all shards' candidates and splits the pool as ``select_items`` does.

    Args:
        items: The pool: the manifest of unlabeled items that ``shard_items`` split.
        candidates: Every shard's ``select_shard_candidates`` output (``dsl.Collected``).
        strategy: As given to ``select_shard_candidates``.
        batch_size: How many items to choose.
        seed: As given to ``select_shard_candidates``.
        labeled_count: As given to ``select_shard_candidates``.

    Returns:
        selected: The chosen items with ``labelloop.selection_rank``/``_score``; for top-k
            strategies identical to ``select_items``' (same items, order and scores).
        remaining: The pool items not chosen.
    """
    from labelloop.components.core import sharded_selection as core

    settings = core.SelectionSettings(strategy, batch_size, seed=seed, labeled_count=labeled_count)
    parts = [core.read_candidates(part.path) for part in candidates]
    selection, _ = core.merge_candidates(parts, settings)
    result = core.write_selection(items.path, selected.path, remaining.path, selection)
    facts = {"strategy": result.strategy, "requested": result.requested, "exhausted": result.exhausted}
    selected.metadata.update({**facts, "item_count": result.selected, "shard_count": len(parts)})
    remaining.metadata.update({**facts, "item_count": result.remaining})
