"""KFP component: the per-image half of the prefilter on one shard (decode, checks, blur, hashes)."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def prefilter_shard(
    shards: dsl.Input[dsl.Artifact],
    shard: int,
    facts: dsl.Output[dsl.Artifact],
    hamming_threshold: int = 8,
    blur_threshold: float = 0.944,
    min_width: int = 32,
    min_height: int = 32,
    max_pixels: int = 50_000_000,
    check_exact_duplicates: bool = True,
    check_near_duplicates: bool = True,
    check_cropped_copies: bool = True,
    check_blur: bool = True,
    workers: int = 0,
):
    """Reads and inspects every image of one shard and writes its facts for the merge step.

    Takes the same settings as ``prefilter_images`` (give both steps the same values); the
    duplicate and blur decisions happen in ``merge_prefilter_shards``.

    Args:
        shards: The folder ``shard_items`` wrote.
        shard: Which shard (one of ``shard_items``' ``shard_numbers``).
        hamming_threshold: As in ``prefilter_images``.
        blur_threshold: As in ``prefilter_images``.
        min_width: Images narrower than this are rejected as ``too_small``.
        min_height: Images shorter than this are rejected as ``too_small``.
        max_pixels: Images declaring more pixels are rejected as ``decompression_bomb``.
        check_exact_duplicates: As in ``prefilter_images``.
        check_near_duplicates: As in ``prefilter_images``.
        check_cropped_copies: As in ``prefilter_images``.
        check_blur: As in ``prefilter_images``.
        workers: Decoding threads; 0 uses one per core.

    Returns:
        facts: The shard's per-image facts (content and perceptual hashes, corner-crop hashes,
            size, blur score, or why the image is unusable) as a columnar ``.npz``, keyed by source
            line; no image data.
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
        workers=workers,
    )
    found = core.inspect_shard(shards.path, shard, settings)
    core.write_shard_facts(facts.path, found)
    facts.metadata.update({"shard": shard, "image_count": len(found.facts)})
