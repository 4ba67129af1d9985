"""KFP component: remove unusable, blurry and duplicate images before labeling."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def prefilter_images(
    items: dsl.Input[dsl.Dataset],
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
    workers: int = 0,
):
    """Drops corrupt, too-small, blurry and duplicate images so no one pays to label them.

    Args:
        items: Manifest (JSONL, Vertex import schema) whose items carry ``labelloop_id``; images
            are read from ``imageGcsUri`` (a local path or ``gs://``). Text items pass through.
        hamming_threshold: Largest perceptual-hash distance (of 64 bits) between near duplicates;
            mirrored copies count as duplicates too.
        blur_threshold: Blur score (0 sharp .. 1 blurry, size- and contrast-independent) at or
            above which an image is rejected as blurry.
        min_width: Images narrower than this are rejected as ``too_small``.
        min_height: Images shorter than this are rejected as ``too_small``.
        max_pixels: Images declaring more pixels are rejected as ``decompression_bomb`` before
            any decoding.
        check_exact_duplicates: Remove byte-identical copies.
        check_near_duplicates: Remove resized, re-encoded, cropped, brightened or mirrored copies.
        check_cropped_copies: Also hash each image's corner crops (3.5% off two sides) to find
            copies cropped by a few percent; they match at ``hamming_threshold`` - 3 bits.
        check_blur: Remove blurry images.
        workers: Decoding threads; 0 uses one per core.

    Returns:
        kept: The kept items; each image has ``labelloop.duplicate_group`` (the kept
            representative's id), ``labelloop.duplicates`` (ids of its removed copies) and
            ``labelloop.blur_score``.
        rejects: Every removed item with a reason code (``exact_duplicate``, ``near_duplicate``,
            ``blurry``, ``corrupt``, ``empty_file``, ``not_an_image``, ``decompression_bomb``,
            ``too_small``, ``unreadable``, ``missing_id``, ``invalid_uri``) and a reason naming
            the representative it duplicates.
        metrics: Item counts per outcome and the thresholds used.
    """
    from labelloop.components.core import image_checks
    from labelloop.components.core import prefilter as core

    settings = core.PrefilterSettings(
        limits=image_checks.DecodeLimits(min_width=min_width, min_height=min_height, max_pixels=max_pixels),
        hamming_threshold=hamming_threshold,
        blur_threshold=blur_threshold,
        exact_duplicates=check_exact_duplicates,
        near_duplicates=check_near_duplicates,
        cropped_copies=check_cropped_copies,
        blurry=check_blur,
        workers=workers,
    )
    result = core.prefilter_manifest(items.path, kept.path, rejects.path, settings, step="prefilter_images")
    kept.metadata.update({"item_count": result.kept, "outcomes": result.summary(), **result.thresholds})
    rejects.metadata.update(
        {"item_count": sum(result.rejected.values()), "counts_by_reason": dict(sorted(result.rejected.items()))}
    )
    for name, value in result.summary().items():
        metrics.log_metric(name, value)
    for name in ("hamming_threshold", "blur_threshold", "min_width", "min_height", "max_pixels"):
        metrics.log_metric(name, result.thresholds[name])
