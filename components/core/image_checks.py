"""Decode untrusted image bytes safely, at the small working size the prefilter needs.

Every way an image file can be bad ends in an :class:`ImageRejection` with a reason code and a
sentence a person can act on, never in an exception: empty files, bytes that are no image,
truncated or damaged data, decompression bombs (checked from the declared size *before* any pixel
is decoded) and images too small to use. A good image comes back as an :class:`ImageView`: a
grayscale array whose longer side is at most ``working_side`` pixels. JPEGs are decoded with
libjpeg's DCT scaling (PIL ``draft``), so a 12 MP photo costs about as much as a thumbnail.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

EMPTY_FILE = "empty_file"
NOT_AN_IMAGE = "not_an_image"
CORRUPT = "corrupt"
DECOMPRESSION_BOMB = "decompression_bomb"
TOO_SMALL = "too_small"
UNREADABLE = "unreadable"

#: EXIF tag holding how the stored pixels must be turned for display.
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class DecodeLimits:
    """What an acceptable image looks like before and after decoding.

    Attributes:
        min_width: Images narrower than this are rejected as ``too_small``.
        min_height: Images shorter than this are rejected as ``too_small``.
        max_pixels: Declared width x height above this is a ``decompression_bomb``; the check
            runs on the header, before any pixel is decoded.
        working_side: Longer side of the grayscale working image returned (never upscaled).
    """

    min_width: int = 32
    min_height: int = 32
    max_pixels: int = 50_000_000
    working_side: int = 384

    def __post_init__(self) -> None:
        if self.min_width < 1 or self.min_height < 1:
            raise ValueError(f"min_width and min_height must be >= 1, got {self.min_width}x{self.min_height}")
        if self.max_pixels < self.min_width * self.min_height:
            raise ValueError(f"max_pixels={self.max_pixels} is below min_width x min_height")
        if self.working_side < 32:
            raise ValueError(f"working_side must be >= 32 (the hash needs a 32x32 image), got {self.working_side}")


@dataclass(frozen=True)
class ImageView:
    """A decoded image: its declared size and format, and a small grayscale working copy."""

    width: int
    height: int
    format: str
    gray: np.ndarray  # uint8, longer side <= DecodeLimits.working_side, EXIF orientation applied
    #: Mean of the JPEG luminance quantization table (1 lossless-like .. 255 coarsest), from the
    #: file header; 0.0 for formats without one (PNG, lossless files). Lower is less compressed.
    quantization: float = 0.0


@dataclass(frozen=True)
class ImageRejection:
    """Why an image file cannot be used: a machine-readable code and a human sentence."""

    reason_code: str
    reason: str


def decode_image(data: bytes, limits: DecodeLimits) -> ImageView | ImageRejection:
    """Decode ``data`` into a working view, or say why it cannot be used.

    Args:
        data: The file's bytes.
        limits: Size limits and the working size.

    Returns:
        An :class:`ImageView`, or an :class:`ImageRejection` (never raises for bad bytes).
    """
    if not data:
        return ImageRejection(EMPTY_FILE, "file is empty (0 bytes); re-export or remove it")
    image = _open_header(data, limits)
    if isinstance(image, ImageRejection):
        return image
    width, height = image.size
    size_problem = _size_problem(width, height, limits)
    if size_problem is not None:
        return size_problem
    try:
        gray = _decode_gray(image, limits.working_side)
    except Exception as err:  # noqa: BLE001 - untrusted bytes: any decoder failure means a damaged file
        return ImageRejection(
            CORRUPT, f"{image.format} data is damaged or truncated ({type(err).__name__}: {err}); re-export the file"
        )
    return ImageView(
        width=width,
        height=height,
        format=str(image.format),
        gray=_apply_orientation(gray, image),
        quantization=jpeg_quantization(image),
    )


def jpeg_quantization(image: Image.Image) -> float:
    """Mean of a JPEG's luminance quantization table (how coarsely it was compressed), 0.0 for
    other formats or a header without tables."""
    tables = getattr(image, "quantization", None)
    if not tables:
        return 0.0
    luminance = tables.get(0) or next(iter(tables.values()))
    return float(np.mean(luminance))


def _open_header(data: bytes, limits: DecodeLimits) -> Image.Image | ImageRejection:
    """Parse only the header; PIL's own bomb guard is turned into a rejection."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        return ImageRejection(DECOMPRESSION_BOMB, f"declared size is a decompression bomb ({err})")
    except Image.UnidentifiedImageError:
        head = data[:8].hex(" ")
        return ImageRejection(NOT_AN_IMAGE, f"not an image file PIL can read ({len(data)} bytes starting {head})")
    except Exception as err:  # noqa: BLE001 - a header that crashes the parser is a damaged file
        return ImageRejection(CORRUPT, f"image header is damaged ({type(err).__name__}: {err})")


def _size_problem(width: int, height: int, limits: DecodeLimits) -> ImageRejection | None:
    """Reject bombs and too-small images from the declared size alone."""
    if width * height > limits.max_pixels:
        return ImageRejection(
            DECOMPRESSION_BOMB,
            f"declares {width}x{height} = {width * height:,} pixels, above max_pixels={limits.max_pixels:,}; "
            "not decoded (raise max_pixels if the image is genuine)",
        )
    if width < limits.min_width or height < limits.min_height:
        return ImageRejection(
            TOO_SMALL, f"{width}x{height} is smaller than the minimum {limits.min_width}x{limits.min_height}"
        )
    return None


def working_size(width: int, height: int, working_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is ``working_side``; never upscales."""
    scale = min(1.0, working_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decode_gray(image: Image.Image, working_side: int) -> np.ndarray:
    """Decode to grayscale at the working size; JPEGs decode at a reduced DCT scale."""
    target = working_size(*image.size, working_side)
    image.draft("L", target)  # a no-op for formats without DCT scaling
    if image.mode not in ("L", "RGB", "RGBA", "P", "LA", "CMYK", "YCbCr", "1", "PA"):
        image = _to_8bit(image)
    gray = np.asarray(image.convert("L"))
    if gray.shape[::-1] != target:
        gray = cv2.resize(gray, target, interpolation=_interpolation(gray.shape[1] / target[0]))
    return np.ascontiguousarray(gray)


def _interpolation(factor: float) -> int:
    """Area averaging for large reductions; bilinear below 2x, where it is 8x faster and aliases
    little (each output pixel still blends its 2x2 source neighbourhood). JPEG draft decoding
    always leaves less than 2x to go."""
    return cv2.INTER_LINEAR if factor < 2.0 else cv2.INTER_AREA


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float images, stretched to 0..255 (PIL's own conversion would clip them)."""
    values = np.asarray(image, dtype=np.float32)
    if values.ndim == 3:
        values = values[..., :3].mean(axis=2)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(scaled.astype(np.uint8), "L")


def _apply_orientation(gray: np.ndarray, image: Image.Image) -> np.ndarray:
    """Undo the EXIF orientation so a rotated-on-display photo hashes like its upright copy."""
    try:
        orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block only loses the orientation
        return gray
    transforms = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.T,
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].T,
        8: lambda a: np.rot90(a, 1),
    }
    transform = transforms.get(orientation)
    return gray if transform is None else np.ascontiguousarray(transform(gray))
