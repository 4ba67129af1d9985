"""The demo's raw data: real digit images in one unlabeled folder, with planted problems.

scikit-learn's 1,797 handwritten digits are written as PNG files (upscaled so they look like small
photos), then the folder is salted with what a real dump contains: near-duplicate copies (resized,
re-encoded as JPEG, brightened, mirrored), blurred copies and corrupt files. The true labels go to a
separate ground-truth file keyed by content id, which only the simulated crowd reads.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from . import manifest as mf
from .sample_data import load_digits_images


@dataclass(frozen=True)
class DemoData:
    """Where the demo data lies and what was planted in it."""

    images_dir: str
    ground_truth: str
    originals: int
    near_duplicates: int
    blurred: int
    corrupt: int


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _copies(image: Image.Image, kind: str) -> Image.Image:
    if kind == "resized":
        return image.resize((image.width * 3 // 2, image.height * 3 // 2), Image.BILINEAR)
    if kind == "brightened":
        return ImageEnhance.Brightness(image).enhance(1.25)
    if kind == "mirrored":
        return ImageOps.mirror(image)
    raise ValueError(kind)


def make_demo_data(
    folder: str,
    *,
    size: int = 64,
    near_duplicates: int = 80,
    blurred: int = 40,
    limit: int | None = None,
    seed: int = 0,
) -> DemoData:
    """Write the demo folder (idempotent: same seed, same bytes) and its ground truth.

    ``limit`` keeps only the first digits (for quick tests); the planted copies come from those.
    """
    digits = load_digits_images()
    if limit is not None:
        digits = type(digits)(digits.images[:limit], digits.labels[:limit], digits.name)
    rng = np.random.default_rng(seed)
    images_dir = os.path.join(folder, "images")
    os.makedirs(images_dir, exist_ok=True)
    truth: list[dict] = []

    def put(name: str, data: bytes, label: str | None) -> None:
        with open(os.path.join(images_dir, name), "wb") as handle:
            handle.write(data)
        if label is not None:
            truth.append({"id": mf.content_id(data), "label": label})

    pictures = []
    for index, (pixels, label) in enumerate(zip(digits.images, digits.labels)):
        picture = Image.fromarray(pixels).resize((size, size), Image.NEAREST).filter(ImageFilter.SMOOTH)
        pictures.append(picture)
        put(f"digit-{index:04d}.png", _encode(picture), label)

    kinds = ("resized", "jpeg", "brightened", "mirrored")
    for n, index in enumerate(rng.choice(len(pictures), near_duplicates, replace=False)):
        kind = kinds[n % len(kinds)]
        picture, label = pictures[index], digits.labels[index]
        if kind == "jpeg":
            put(f"copy-{n:03d}-{kind}.jpg", _encode(picture.convert("RGB"), "JPEG", quality=80), label)
        else:
            put(f"copy-{n:03d}-{kind}.png", _encode(_copies(picture, kind)), label)

    for n, index in enumerate(rng.choice(len(pictures), blurred, replace=False)):
        blur = ImageFilter.GaussianBlur(radius=size / 16) if n % 2 else ImageFilter.BoxBlur(size / 12)
        put(f"blurred-{n:03d}.png", _encode(pictures[index].filter(blur)), digits.labels[index])

    whole = _encode(pictures[0])
    put("corrupt-truncated.png", whole[: len(whole) // 2], None)
    put("corrupt-empty.png", b"", None)
    put("corrupt-noise.png", rng.bytes(2048), None)

    ground_truth = os.path.join(folder, "ground_truth.jsonl")
    mf.write_jsonl(ground_truth, truth)
    return DemoData(images_dir, ground_truth, len(pictures), near_duplicates, blurred, 3)
