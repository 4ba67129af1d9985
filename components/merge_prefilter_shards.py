"""KFP component: the global half of the sharded prefilter (duplicate search and decisions)."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def merge_prefilter_shards(
    items: dsl.Input[dsl.Dataset],
    facts: dsl.Input[list[dsl.Artifact]],
    kept: dsl.Output[dsl.Dataset],
    rejects: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    hamming_threshold: int = 8,
    blur_threshold: float = 0.944,
    min_width: int = 32,
    min_height: int = 32,
    max_pixels: int = 50_000_000,
    check_exact_duplicates: bool = True,
    check_near_duplicates: bool = True,
    check_cropped_copies: bool = True,
    check_blur: bool = True,
):
    """Finds duplicates across all shards and writes exactly what ``prefilter_images`` would.

    Args:
        items: The manifest ``shard_items`` split.
        facts: Every shard's ``prefilter_shard`` facts (``dsl.Collected`` over the fan-out).
        hamming_threshold: Largest perceptual-hash distance (of 64 bits) between near duplicates.
        blur_threshold: Blur score at or above which an image is rejected as blurry.
        min_width: As given to ``prefilter_shard``.
        min_height: As given to ``prefilter_shard``.
        max_pixels: As given to ``prefilter_shard``.
        check_exact_duplicates: Remove byte-identical copies.
        check_near_duplicates: Remove resized, re-encoded, cropped, brightened or mirrored copies.
        check_cropped_copies: Also match the corner-crop hashes.
        check_blur: Remove blurry images.

    Returns:
        kept: The kept items, identical (line for line) to ``prefilter_images``' ``kept``.
        rejects: Every removed item with a reason code, identical to ``prefilter_images``' ``rejects``.
        metrics: Item counts per outcome and the thresholds used.
    """
    from labelloop.components.core import prefilter_shards as core

    settings = core.settings_from(
        hamming_threshold=hamming_threshold,
        blur_threshold=blur_threshold,
        min_width=min_width,
        min_height=min_height,
        max_pixels=max_pixels,
        check_exact_duplicates=check_exact_duplicates,
        check_near_duplicates=check_near_duplicates,
        check_cropped_copies=check_cropped_copies,
        check_blur=check_blur,
    )
    import os

    # Each search worker process builds its own band tables (about 1.25 GB per 10 million images):
    # at most 8, whatever the machine's CPU count (docs/scale-out.md).
    workers = min(len(os.sched_getaffinity(0)), core.MAX_MERGE_WORKERS)
    result = core.merge_shards(
        items.path,
        [part.path for part in facts],
        kept.path,
        rejects.path,
        settings,
        step="merge_prefilter_shards",
        workers=workers,
    )
    kept.metadata.update(
        {"item_count": result.kept, "outcomes": result.summary(), **result.thresholds, "shard_count": len(facts)}
    )
    rejects.metadata.update(
        {"item_count": sum(result.rejected.values()), "counts_by_reason": dict(sorted(result.rejected.items()))}
    )
    for name, value in result.summary().items():
        metrics.log_metric(name, value)
    for name in ("hamming_threshold", "blur_threshold", "min_width", "min_height", "max_pixels"):
        metrics.log_metric(name, result.thresholds[name])
