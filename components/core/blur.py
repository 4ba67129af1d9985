"""How blurry an image is, as a score in [0, 1] that does not depend on image size or contrast.

The measure is the "blur effect" of Crété-Roffet et al. (2007, *The blur effect: perception and
estimation with a new no-reference perceptual blur metric*), taken along four directions: blur the
image again with a short box filter and see how much of its neighbour-to-neighbour variation
survives. A sharp image loses much of it (score near 0); an already blurry one barely changes
(score near 1). It is a ratio, so contrast cancels out, and flat areas contribute nothing to either
side, so a photo with a large plain sky is not called blurry. Taking the worst of the horizontal,
vertical and both diagonal directions catches motion blur, which leaves edges along the motion
sharp. The score is measured on the working image (longer side :data:`WORKING_SIDE`), so it
judges blur at the scale models see images, whatever the file's resolution.

The default threshold was chosen on the benchmark corpus (``benchmarks/prefilter.py`` prints
precision and recall for the opencv-doc and scikit-image halves separately, to show it is not
fitted to one of them).
"""

from __future__ import annotations

import cv2
import numpy as np

from labelloop.components.core.image_hash import is_flat

#: Longer side (pixels) of the image the score is measured on.
WORKING_SIDE = 384
#: Length of the re-blurring box filter, in working pixels.
REBLUR_LENGTH = 7
#: Scores at or above this are blurry.
DEFAULT_THRESHOLD = 0.5


def _direction_kernels(length: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """Box filters along x, y and both diagonals, each with its (dy, dx) neighbour step."""
    line = np.full((1, length), 1.0 / length, np.float32)
    diagonal = np.eye(length, dtype=np.float32) / length
    return [(line, (0, 1)), (line.T.copy(), (1, 0)), (diagonal, (1, 1)), (np.fliplr(diagonal).copy(), (1, -1))]


def _neighbour_differences(image: np.ndarray, step: tuple[int, int]) -> np.ndarray:
    """|image(p + step) - image(p)| over the pixels where both exist."""
    dy, dx = step
    height, width = image.shape
    if dx >= 0:
        return np.abs(image[dy:, dx:] - image[: height - dy, : width - dx])
    return np.abs(image[dy:, : width + dx] - image[: height - dy, -dx:])


def blur_score(gray: np.ndarray, reblur_length: int = REBLUR_LENGTH) -> float | None:
    """Blur score in [0, 1] (higher is blurrier), or None for a flat image that has no detail.

    Args:
        gray: 2-D grayscale working image (uint8 or float).
        reblur_length: Box filter length used to re-blur.

    Returns:
        The worst (largest) blur effect over four directions, or None when the image is flat.
    """
    if gray.ndim != 2:
        raise ValueError(f"blur_score needs a 2-D grayscale array, got shape {gray.shape}")
    if min(gray.shape) <= reblur_length or is_flat(gray):
        return None
    image = gray.astype(np.float32)
    worst = 0.0
    for kernel, step in _direction_kernels(reblur_length):
        reblurred = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)
        original_variation = _neighbour_differences(image, step)
        total = float(original_variation.sum())
        if total == 0.0:
            return 1.0  # structure at hash scale but not one step between neighbours: smooth
        lost = np.maximum(original_variation - _neighbour_differences(reblurred, step), 0.0)
        worst = max(worst, (total - float(lost.sum())) / total)
    return worst


def is_blurry(score: float | None, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when a score is at or above ``threshold``; flat images (None) are never blurry."""
    return score is not None and score >= threshold
