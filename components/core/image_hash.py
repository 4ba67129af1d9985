"""Content and perceptual hashes of images; the perceptual hash knows about horizontal flips.

The perceptual hash is a 64-bit DCT hash (pHash family) of a 32x32 grayscale thumbnail, built so
that mirroring the image left-right flips a *fixed* set of bits: coefficients with an odd
horizontal frequency ``u`` change sign under a mirror, those with an even ``u`` do not. Even-``u``
bits compare a coefficient with the median of the even-``u`` coefficients (mirror-invariant);
odd-``u`` bits compare with zero (so a mirror exactly inverts them). Hence
``hash(mirror(image)) == hash(image) ^ MIRROR_MASK`` and a flipped copy is found by searching with
``h ^ MIRROR_MASK`` as well as ``h`` (:mod:`near_duplicates` does that).

Cropping is the one edit a DCT hash is weak at: cutting a few percent off the frame shifts the
phase of every coefficient. So :func:`fingerprint` also hashes the image's four corner crops (each
leaving out :data:`CROP_SHARE` of the width and height): a copy cropped by a few percent hashes
like one of them. The prefilter searches those corner hashes against every other image's own hash
with a tighter threshold. All hashes come from one small preview (longer side
:data:`PREVIEW_SIDE`), so the five cost about as much as one.

A hash match is only a candidate. The fingerprint also keeps a :data:`SIGNATURE_SIDE` square
thumbnail with its mean removed and unit norm (:func:`signature`); the prefilter confirms each
candidate pair by the thumbnails' correlation (:func:`signature_correlation`, mirror-aware), a
second check independent of the hash's bits: low-texture images whose hashes are noise, and
different photos whose hashes happen to collide, correlate poorly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import manifest

THUMBNAIL_SIDE = 32
#: Longer side of the preview every hash of an image is computed from.
PREVIEW_SIDE = 128
#: Share of the width and of the height that each corner crop leaves out.
CROP_SHARE = 0.035
#: Side of the normalised thumbnail that confirms a hash match.
SIGNATURE_SIDE = 16
#: Standard deviation (gray levels) of the 32x32 thumbnail below which an image is flat: its
#: hash bits would be noise, so it takes no part in near-duplicate search.
FLAT_STD = 2.0


def _coefficient_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, odd_u) of the 64 hashed DCT coefficients: the 8x8 low block minus DC, plus (0, 8)."""
    cells = [(v, u) for v in range(8) for u in range(8) if (v, u) != (0, 0)] + [(0, 8)]
    rows = np.array([v for v, _ in cells])
    cols = np.array([u for _, u in cells])
    return rows, cols, cols % 2 == 1


_ROWS, _COLS, _ODD_U = _coefficient_layout()
_WEIGHTS = np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64))
#: Bits that a left-right mirror of the image inverts.
MIRROR_MASK = int(np.bitwise_or.reduce(_WEIGHTS[_ODD_U]))


def content_hash(data: bytes) -> str:
    """Exact-content hash: the same 32-hex-digit SHA-256 prefix that item ids use."""
    return manifest.content_id(data)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The 32x32 float32 thumbnail a perceptual hash is computed from."""
    return cv2.resize(gray, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


def preview(gray: np.ndarray) -> np.ndarray:
    """The image with its longer side at most :data:`PREVIEW_SIDE` (area-averaged), for hashing."""
    height, width = _two_dimensional(gray).shape
    scale = PREVIEW_SIDE / max(height, width)
    if scale >= 1.0:
        return gray
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def corner_crops(image: np.ndarray, share: float = CROP_SHARE) -> list[np.ndarray]:
    """The four crops that leave out ``share`` of the width and height at one corner's far sides."""
    height, width = image.shape
    dy, dx = round(height * share), round(width * share)
    return [image[y0 : height - dy + y0, x0 : width - dx + x0] for y0 in (0, dy) for x0 in (0, dx)]


def is_flat(gray: np.ndarray) -> bool:
    """True when the image has (almost) no structure at hash scale: a blank or solid frame."""
    return _is_flat_thumbnail(thumbnail(preview(gray)))


def perceptual_hash(gray: np.ndarray) -> int:
    """64-bit flip-aware DCT hash of a grayscale image (any size >= 1x1), as a Python int.

    Args:
        gray: 2-D uint8 or float array.

    Returns:
        The hash; ``perceptual_hash(gray[:, ::-1]) == perceptual_hash(gray) ^ MIRROR_MASK`` up to
        coefficients that sit exactly on their threshold.
    """
    return _hash_thumbnail(thumbnail(preview(gray)))


@dataclass(frozen=True)
class Fingerprint:
    """An image's perceptual hash, the hashes of its four corner crops and its signature thumbnail."""

    phash: int
    corner_hashes: tuple[int, ...]
    signature: np.ndarray  # (SIGNATURE_SIDE**2,) float16, mean 0, norm 1


def fingerprint(gray: np.ndarray) -> Fingerprint | None:
    """The image's hashes and signature, or None for a flat image (its bits would be noise)."""
    small = preview(gray)
    whole = thumbnail(small)
    if _is_flat_thumbnail(whole):
        return None
    hashes = _hash_thumbnails(np.stack([whole, *(thumbnail(crop) for crop in corner_crops(small))]))
    return Fingerprint(hashes[0], tuple(hashes[1:]), signature(whole))


def signature(gray: np.ndarray) -> np.ndarray:
    """The image as a :data:`SIGNATURE_SIDE` square thumbnail, flattened, mean 0 and norm 1 (float16).

    Brightness and contrast cancel out; a flat image gives zeros (it correlates with nothing).
    """
    small = cv2.resize(
        np.asarray(gray, np.float32), (SIGNATURE_SIDE, SIGNATURE_SIDE), interpolation=cv2.INTER_AREA
    ).ravel()
    centred = small - small.mean()
    norm = float(np.linalg.norm(centred))
    return (centred / norm if norm > 0 else centred).astype(np.float16)


_MIRROR_ORDER = np.arange(SIGNATURE_SIDE**2).reshape(SIGNATURE_SIDE, SIGNATURE_SIDE)[:, ::-1].ravel()


def signature_correlation(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Correlation of paired signatures (rows of two (k, SIGNATURE_SIDE**2) arrays), the larger of
    as-is and with the second mirrored left-right: 1.0 for copies, near 0 for unrelated images."""
    first = np.asarray(first, np.float32).reshape(-1, SIGNATURE_SIDE**2)
    second = np.asarray(second, np.float32).reshape(-1, SIGNATURE_SIDE**2)
    direct = np.einsum("ij,ij->i", first, second)
    mirrored = np.einsum("ij,ij->i", first, second[:, _MIRROR_ORDER])
    return np.maximum(direct, mirrored)


def _two_dimensional(gray: np.ndarray) -> np.ndarray:
    if gray.ndim != 2:
        raise ValueError(f"perceptual_hash needs a 2-D grayscale array, got shape {gray.shape}")
    return gray


def _is_flat_thumbnail(small: np.ndarray) -> bool:
    return float(small.std()) < FLAT_STD


def _dct_matrix(side: int) -> np.ndarray:
    """Orthonormal DCT-II basis (the one ``cv2.dct`` uses): ``dct(x) == C @ x @ C.T``."""
    k, n = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * side)) * np.sqrt(2.0 / side)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


_DCT = _dct_matrix(THUMBNAIL_SIDE)


def _hash_thumbnail(small: np.ndarray) -> int:
    return _hash_thumbnails(small[None])[0]


def _hash_thumbnails(stack: np.ndarray) -> list[int]:
    """Hashes of a (k, 32, 32) stack of thumbnails, in one batched transform."""
    coefficients = (_DCT @ stack @ _DCT.T)[:, _ROWS, _COLS]
    even = np.sort(coefficients[:, ~_ODD_U], axis=1)
    middle = even.shape[1] // 2
    even_median = (even[:, middle - 1] + even[:, middle]) / 2 if even.shape[1] % 2 == 0 else even[:, middle]
    bits = np.where(_ODD_U, coefficients > 0, coefficients > even_median[:, None])
    return [int(word) for word in np.bitwise_or.reduce(np.where(bits, _WEIGHTS, np.uint64(0)), axis=1)]


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return (a ^ b).bit_count()


def flip_aware_distance(a: int, b: int) -> int:
    """Hamming distance between two images' hashes, allowing one to be a mirror of the other."""
    return min(hamming(a, b), hamming(a, b ^ MIRROR_MASK))
