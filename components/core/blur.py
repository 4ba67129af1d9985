"""How blurry an image is, as a score in [0, 1] that does not depend on image size or contrast.

The measure is the "blur effect" of Crété-Roffet et al. (2007, *The blur effect: perception and
estimation with a new no-reference perceptual blur metric*), taken at the image's strongest edges
and along four directions. Blur the image again with a short box filter and see how much of its
neighbour-to-neighbour variation survives: at a sharp edge little does (score near 0), at an edge
that is already soft nearly all of it does (score near 1).

* Only the strongest :data:`EDGE_SHARE` of neighbour differences count. A photo with one sharp
  subject in front of a soft background is sharp, and a sharp photo of a soft subject (fog, a
  face, an upscaled frame) still has a few crisp edges; a blurred copy has none anywhere.
* It is a ratio of differences, so contrast cancels out; flat areas have no strong edges, so a
  large plain sky does not make a photo blurry.
* Every image gets a score. When even the strongest steps are faint (a dim or hazy photo, or a
  heavily blurred one) the image's contrast is stretched first and measured again; an image with
  no variation at all (one gray level) scores 1.0: it shows nothing sharp.
* The worst of the horizontal, vertical and both diagonal directions is kept, which catches motion
  blur (it leaves edges along the motion sharp).
* It is measured on the working image (longer side 384 pixels, see :mod:`image_checks`), so blur
  is judged relative to the image, at the scale models see it, whatever the file's resolution.

Everything runs on the 8-bit working image with OpenCV (about 0.5 ms an image). The default
threshold was chosen on the benchmark corpus (``benchmarks/prefilter.py`` prints precision and
recall for the opencv-doc and scikit-image halves separately, and at nearby thresholds, to show it
is not fitted to one of them).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Length of the re-blurring box filter, in working pixels.
REBLUR_LENGTH = 3
#: Share of the neighbour differences, the strongest, that the score is measured on.
EDGE_SHARE = 0.005
#: Strongest neighbour step (gray levels) below which an image is measured again with its contrast stretched.
MIN_EDGE_STEP = 3
#: Share of the darkest and of the brightest pixels left out when stretching a faint image's contrast.
STRETCH_TAIL = 0.005
#: Score of an image with no variation at all: nothing in it is sharp.
NO_DETAIL_SCORE = 1.0
#: Scores at or above this are blurry.
DEFAULT_THRESHOLD = 0.86


def _direction_kernels(length: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """Box filters along x, y and both diagonals, each with its (dy, dx) neighbour step."""
    line = np.full((1, length), 1.0 / length, np.float32)
    diagonal = np.eye(length, dtype=np.float32) / length
    return [(line, (0, 1)), (line.T.copy(), (1, 0)), (diagonal, (1, 1)), (np.fliplr(diagonal).copy(), (1, -1))]


def _neighbour_differences(image: np.ndarray, step: tuple[int, int]) -> np.ndarray:
    """|image(p + step) - image(p)| over the pixels where both exist (uint8 in, uint8 out)."""
    dy, dx = step
    height, width = image.shape
    if dx >= 0:
        return cv2.absdiff(image[dy:, dx:], image[: height - dy, : width - dx])
    return cv2.absdiff(image[dy:, : width + dx], image[: height - dy, -dx:])


def _strong_edges(differences: np.ndarray, share: float, min_step: int) -> tuple[np.ndarray, float] | None:
    """Mask of the strongest ``share`` of ``differences`` (ties included) and their mean, or None
    when even the strongest are below ``min_step``."""
    counts = cv2.calcHist([differences], [0], None, [256], [0, 256]).ravel()
    at_or_above = np.cumsum(counts[::-1])[::-1]  # at_or_above[v]: how many differences are >= v
    level = int(np.flatnonzero(at_or_above >= max(1.0, share * differences.size))[-1])
    if level < min_step:
        return None
    values = np.arange(level, 256)
    mean = float(values @ counts[level:]) / float(at_or_above[level])
    return cv2.compare(differences, level, cv2.CMP_GE), mean


def _as_uint8(gray: np.ndarray) -> np.ndarray:
    if gray.dtype == np.uint8:
        return gray
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def _stretched(image: np.ndarray) -> np.ndarray | None:
    """The image with its gray levels stretched to 0..255 (tails of :data:`STRETCH_TAIL` clipped), or
    None when it has a single gray level."""
    counts = np.cumsum(cv2.calcHist([image], [0], None, [256], [0, 256]).ravel())
    low = int(np.searchsorted(counts, STRETCH_TAIL * counts[-1], side="right"))
    high = int(np.searchsorted(counts, (1 - STRETCH_TAIL) * counts[-1], side="left"))
    if high <= low:
        low, high = int(image.min()), int(image.max())
    if high <= low:
        return None
    alpha = 255.0 / (high - low)
    return cv2.convertScaleAbs(image, alpha=alpha, beta=-low * alpha)


def _directional_score(image: np.ndarray, reblur_length: int, edge_share: float, min_step: int) -> float | None:
    """The worst blur effect over four directions; None when a direction's strongest steps are below ``min_step``."""
    worst = 0.0
    for kernel, step in _direction_kernels(reblur_length):
        original = _neighbour_differences(image, step)
        edges = _strong_edges(original, edge_share, min_step)
        if edges is None:
            return None
        mask, original_mean = edges
        reblurred = _neighbour_differences(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT), step)
        worst = max(worst, min(cv2.mean(reblurred, mask)[0] / original_mean, 1.0))
    return worst


def blur_score(gray: np.ndarray, reblur_length: int = REBLUR_LENGTH, edge_share: float = EDGE_SHARE) -> float:
    """Blur score in [0, 1] (higher is blurrier) of any image.

    Args:
        gray: 2-D grayscale working image (uint8, or float on the 0..255 scale).
        reblur_length: Box filter length used to re-blur.
        edge_share: Share of neighbour differences, the strongest, the score is measured on.

    Returns:
        The worst (largest) blur effect over four directions. A faint image (strongest steps below
        :data:`MIN_EDGE_STEP`) is measured with its contrast stretched; an image of one gray level,
        or too small to re-blur, scores :data:`NO_DETAIL_SCORE`.
    """
    if gray.ndim != 2:
        raise ValueError(f"blur_score needs a 2-D grayscale array, got shape {gray.shape}")
    if min(gray.shape) <= reblur_length:
        return NO_DETAIL_SCORE
    image = np.ascontiguousarray(_as_uint8(gray))
    score = _directional_score(image, reblur_length, edge_share, MIN_EDGE_STEP)
    if score is None:
        stretched = _stretched(image)
        score = None if stretched is None else _directional_score(stretched, reblur_length, edge_share, 1)
    return NO_DETAIL_SCORE if score is None else score


def is_blurry(score: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when a score is at or above ``threshold``."""
    return score >= threshold
