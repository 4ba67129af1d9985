"""How blurry an image is, as a score in [0, 1] that does not depend on image size or contrast.

The measure is the "blur effect" of Crété-Roffet et al. (2007, *The blur effect: perception and
estimation with a new no-reference perceptual blur metric*), taken at the image's strongest edges
and along eight directions. Blur the image again with a short line filter and see how much of its
variation survives: at a sharp edge little does (score near 0), at an edge that is already soft
nearly all of it does (score near 1).

* The variation along a direction is the image's derivative along it (steered from two Sobel
  derivatives), and the re-blur is a 3-pixel line along the same direction; the score is the worst
  of eight directions 22.5 degrees apart. Motion blur at any angle leaves edges along the motion
  sharp and smears the others, so it shows in the direction nearest its own; four axis and
  diagonal directions missed motion between them (every one of them crossed the sharp edges).
* Only the strongest :data:`EDGE_SHARE` of each direction's derivatives count, about a hundred
  pixels of a working image. A photo with a small sharp subject in front of a soft background, or
  a shallow depth of field, is sharp: its in-focus part holds the strongest edges in every
  direction. A blurred copy has no sharp edge anywhere.
* It is a ratio, so contrast cancels out (a dim or hazy photo scores as its stretched self); flat
  areas have no strong edges, so a large plain sky does not make a photo blurry. An image with no
  variation at all (one gray level) scores 1.0: it shows nothing sharp.
* It is measured on the working image (longer side 384 pixels, see :mod:`image_checks`), so blur
  is judged relative to the image, at the scale models see it, whatever the file's resolution.

Everything runs on the working image with OpenCV (about 1 ms an image on one core). The default
threshold was chosen on two corpora pooled, ``benchmarks/image_corpus.py`` (opencv-doc and
scikit-image photos) and a second one built by ``benchmarks/heldout_corpus.py``'s recipe from
other photographs (Debian's ``lomiri-wallpapers-16.04``); ``benchmarks/prefilter.py`` reports it
on a held-out corpus of yet other photos.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Length of the re-blurring line filter, in working pixels.
REBLUR_LENGTH = 3
#: Directions the derivative is taken along, evenly spread over 180 degrees.
DIRECTIONS = 8
#: Share of each direction's derivatives, the strongest, that the score is measured on.
EDGE_SHARE = 0.001
#: Score of an image with no variation at all: nothing in it is sharp.
NO_DETAIL_SCORE = 1.0
#: Scores at or above this are blurry.
DEFAULT_THRESHOLD = 0.944


def line_kernel(angle: float, length: int = REBLUR_LENGTH) -> np.ndarray:
    """A ``length`` x ``length`` averaging filter along a line at ``angle`` radians (bilinear taps)."""
    kernel = np.zeros((length, length), np.float32)
    centre = length // 2
    for t in np.linspace(-centre, centre, 4 * length):
        x, y = centre + t * np.cos(angle), centre + t * np.sin(angle)
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, weight in (
            (0, 0, (1 - fx) * (1 - fy)),
            (1, 0, fx * (1 - fy)),
            (0, 1, (1 - fx) * fy),
            (1, 1, fx * fy),
        ):
            if 0 <= x0 + dx < length and 0 <= y0 + dy < length:
                kernel[y0 + dy, x0 + dx] += weight
    return kernel / kernel.sum()


def _directions(count: int, length: int) -> list[tuple[float, float, np.ndarray]]:
    """(cos, sin, re-blur line filter) of ``count`` directions evenly spread over 180 degrees."""
    angles = np.arange(count) * np.pi / count
    return [(float(np.cos(a)), float(np.sin(a)), line_kernel(float(a), length)) for a in angles]


_DEFAULT_DIRECTIONS = _directions(DIRECTIONS, REBLUR_LENGTH)


def _strongest_level(magnitudes: np.ndarray, share: float) -> int:
    """The 8-bit level at or above which the strongest ``share`` of ``magnitudes`` lie (ties included)."""
    counts = cv2.calcHist([magnitudes], [0], None, [256], [0, 256]).ravel()
    at_or_above = np.cumsum(counts[::-1])[::-1]  # at_or_above[v]: how many magnitudes are >= v
    return int(np.flatnonzero(at_or_above >= max(1.0, share * magnitudes.size))[-1])


def blur_score(gray: np.ndarray, reblur_length: int = REBLUR_LENGTH, edge_share: float = EDGE_SHARE) -> float:
    """Blur score in [0, 1] (higher is blurrier) of any image.

    Args:
        gray: 2-D grayscale working image (uint8, or float on the 0..255 scale).
        reblur_length: Length of the re-blurring line filter.
        edge_share: Share of each direction's derivatives, the strongest, the score is measured on.

    Returns:
        The worst (largest) blur effect over the :data:`DIRECTIONS` directions that vary (a
        direction without variation has nothing to smear); an image of one gray level, or too
        small to re-blur, scores :data:`NO_DETAIL_SCORE`.
    """
    if gray.ndim != 2:
        raise ValueError(f"blur_score needs a 2-D grayscale array, got shape {gray.shape}")
    if min(gray.shape) <= reblur_length:
        return NO_DETAIL_SCORE
    image = np.ascontiguousarray(gray, dtype=np.float32)
    dx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    dy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    low_x, high_x, _, _ = cv2.minMaxLoc(dx)
    low_y, high_y, _, _ = cv2.minMaxLoc(dy)
    peak = max(-low_x, high_x, -low_y, high_y)
    if peak < 1e-3:
        return NO_DETAIL_SCORE
    # one 8-bit scale for every direction: a steered derivative is at most sqrt(2) x peak
    alpha = 255.0 / (1.5 * peak)
    directions = _DEFAULT_DIRECTIONS if reblur_length == REBLUR_LENGTH else _directions(DIRECTIONS, reblur_length)
    worst = None
    for cos, sin, kernel in directions:
        derivative = cv2.addWeighted(dx, cos, dy, sin, 0.0)
        magnitude = cv2.convertScaleAbs(derivative, alpha=alpha)
        # the level, read from every other row and column, is the full image's within a step or
        # two at a quarter of the cost (the histogram was the measure's largest part)
        level = _strongest_level(np.ascontiguousarray(magnitude[::2, ::2]), edge_share)
        if level < 1:  # no variation along this direction: nothing there to be smeared
            continue
        edges = cv2.compare(magnitude, level, cv2.CMP_GE)
        reblurred = cv2.convertScaleAbs(
            cv2.filter2D(derivative, -1, kernel, borderType=cv2.BORDER_REFLECT), alpha=alpha
        )
        effect = min(cv2.mean(reblurred, edges)[0] / cv2.mean(magnitude, edges)[0], 1.0)
        worst = effect if worst is None else max(worst, effect)
    return NO_DETAIL_SCORE if worst is None else worst


def is_blurry(score: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when a score is at or above ``threshold``."""
    return score >= threshold
