import io
import zlib

import numpy as np
import pytest
from labelloop.components.core import image_checks as ic
from PIL import Image, ImageOps


def encode(array, fmt="JPEG", **options):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def picture(width=400, height=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height // 10, width // 10, 3), dtype=np.uint8).repeat(10, 0).repeat(10, 1)


LIMITS = ic.DecodeLimits(min_width=32, min_height=32, max_pixels=4_000_000, working_side=128)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_decodes_common_formats_to_a_small_gray_view(fmt):
    view = (
        ic.decode_image(encode(picture()), LIMITS) if fmt == "JPEG" else ic.decode_image(encode(picture(), fmt), LIMITS)
    )
    assert isinstance(view, ic.ImageView)
    assert (view.width, view.height) == (400, 300)
    assert view.gray.shape == (96, 128) and view.gray.dtype == np.uint8


def test_small_images_are_not_upscaled():
    view = ic.decode_image(encode(picture(100, 60)), LIMITS)
    assert view.gray.shape == (60, 100)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", ic.EMPTY_FILE),
        (b"this is a text file, not a picture\n" * 20, ic.NOT_AN_IMAGE),
        (np.random.default_rng(1).bytes(5000), ic.NOT_AN_IMAGE),
        (encode(picture())[:3000], ic.CORRUPT),
        (encode(picture(), "PNG")[:2000], ic.CORRUPT),
        (encode(picture(20, 400)), ic.TOO_SMALL),
    ],
    ids=["zero-bytes", "text", "random-bytes", "truncated-jpeg", "truncated-png", "too-narrow"],
)
def test_bad_files_become_rejections_with_a_reason(data, code):
    outcome = ic.decode_image(data, LIMITS)
    assert isinstance(outcome, ic.ImageRejection)
    assert outcome.reason_code == code
    assert outcome.reason


def test_decompression_bomb_is_rejected_from_the_header_without_decoding():
    bomb = encode(np.zeros((3000, 3000), np.uint8), "PNG")  # 9 MP of zeros compresses to a few KB
    assert len(bomb) < 100_000
    outcome = ic.decode_image(bomb, LIMITS)
    assert outcome.reason_code == ic.DECOMPRESSION_BOMB
    assert "9,000,000" in outcome.reason


def test_pil_own_bomb_guard_is_also_a_rejection():
    huge = ic.DecodeLimits(max_pixels=10**12)
    header_only = encode(np.zeros((8, 8), np.uint8), "PNG")
    # Rewrite the PNG header to declare 100000 x 100000 pixels (far beyond PIL's own limit).
    ihdr = header_only[12:16] + (100000).to_bytes(4, "big") * 2 + header_only[24:29]
    patched = header_only[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + header_only[33:]
    outcome = ic.decode_image(patched, huge)
    assert outcome.reason_code == ic.DECOMPRESSION_BOMB


def test_sixteen_bit_images_are_stretched_not_clipped():
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    view = ic.decode_image(encode(ramp, "PNG"), LIMITS)
    assert view.gray.min() == 0 and view.gray.max() >= 250


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pil_does(orientation):
    source = Image.fromarray(picture(160, 80))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    source.save(buffer, "PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue()))).convert("L"))
    view = ic.decode_image(buffer.getvalue(), ic.DecodeLimits(working_side=160))
    assert np.array_equal(view.gray, expected)


def test_limits_are_validated():
    with pytest.raises(ValueError, match="min_width"):
        ic.DecodeLimits(min_width=0)
    with pytest.raises(ValueError, match="working_side"):
        ic.DecodeLimits(working_side=8)
