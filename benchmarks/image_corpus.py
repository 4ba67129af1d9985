"""Build the prefilter benchmark corpus from photos that install offline, with ground truth.

Sources: Debian's ``opencv-doc`` sample photos (``apt-get install opencv-doc``) and the images
bundled with scikit-image and scikit-learn (``pip install scikit-image``). Each source photo gives
several distinct originals (the whole photo and its four quadrants, scaled to 0.3-1 MP); each
original gets planted near duplicates (resized, re-encoded, cropped, brightened, mirrored),
some get a blurred copy (Gaussian or motion), and corrupt files are added (truncated, zero bytes,
random bytes, decompression bombs). ``truth.json`` records, per file: its duplicate group, the
kind of copy, whether it is blurry, its corruption and which source set it came from.

    python benchmarks/image_corpus.py [--out benchmarks/out/prefilter_corpus] [--seed 0]
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import os
import pathlib
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageEnhance

OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"
#: Left out: naturally blurry photos, and the second of stereo pairs / calibration series, which
#: are near duplicates of the first and would be unplanted duplicates.
SKIP = {
    "text_defocus.jpg",
    "text_motion.jpg",
    "licenseplate_motion.jpg",
    "aloeR.jpg",
    "leuvenB.jpg",
    "Blender_Suzanne2.jpg",
    "aero3.jpg",
    "graf3.png",
    "basketball2.png",
    "rubberwhale2.png",
    "ela_modified.jpg",
    "right.jpg",
    "aloeGT.png",
    "digits.png",
    "chessboard.png",
    "cell.png",
    "motorcycle_right.png",
    "clock_motion.png",
    "chessboard_GRAY.png",
    "chessboard_RGB.png",
    "horse.png",
    "text.png",
    "page.png",
    "coins.png",
    "microaneurysms.png",
    "phantom.png",
}
COPY_KINDS = ("resized", "reencoded", "cropped", "brightened", "flipped")
#: Flip-aware correlation of 32x32 thumbnails above which two views of one photo are not distinct.
DISTINCT_CORRELATION = 0.8


@dataclass(frozen=True)
class SourcePhoto:
    name: str
    source_set: str
    pixels: np.ndarray  # RGB uint8


def _skimage_dir() -> str | None:
    try:
        import skimage
    except ImportError:
        return None
    return os.path.join(os.path.dirname(skimage.__file__), "data")


def _sklearn_dir() -> str | None:
    try:
        import sklearn.datasets
    except ImportError:
        return None
    return os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")


def load_sources() -> list[SourcePhoto]:
    """Every usable photo: opencv-doc (set ``opencv``) and scikit-image/scikit-learn (set ``skimage``)."""
    found = []
    groups = [
        ("opencv", OPENCV_DATA, ("*.jpg", "*.png")),
        ("skimage", _skimage_dir(), ("*.png", "*.jpg")),
        ("skimage", _sklearn_dir(), ("*.jpg",)),
    ]
    for source_set, folder, patterns in groups:
        if folder is None:
            continue
        for pattern in patterns:
            for path in sorted(glob.glob(os.path.join(folder, pattern))):
                name = os.path.basename(path)
                if name in SKIP or (name.startswith(("left", "right")) and name not in ("left01.jpg", "left.jpg")):
                    continue
                image = Image.open(path)
                if image.width * image.height < 150_000 or image.mode not in ("RGB", "RGBA", "L"):
                    continue
                found.append(SourcePhoto(name, source_set, np.asarray(image.convert("RGB"))))
    if not found:
        raise SystemExit("no source photos: apt-get install opencv-doc and pip install scikit-image")
    return found


def originals_of(photo: SourcePhoto, rng: np.random.Generator) -> list[np.ndarray]:
    """The whole photo and its four quadrants, each scaled to a random 0.3-1 MP (the issue's corpus).

    The source photos are 0.2-0.5 MP, so most views are upscaled (Lanczos), as a camera's larger
    output would be. A quadrant that is (a mirror of) an earlier view at thumbnail scale is left
    out: a symmetric subject (a retina, a logo) gives quadrants that are mirror images of each
    other, which any mirror-aware duplicate finder rightly pairs, so they are not distinct originals.
    """
    height, width = photo.pixels.shape[:2]
    views = [photo.pixels] + [
        photo.pixels[y : y + height // 2, x : x + width // 2] for y in (0, height // 2) for x in (0, width // 2)
    ]
    kept, thumbnails = [], []
    for view in views:
        thumbnail = _normalised_thumbnail(view)
        if any(_mirror_aware_correlation(thumbnail, other) > DISTINCT_CORRELATION for other in thumbnails):
            continue
        thumbnails.append(thumbnail)
        factor = (rng.uniform(0.3e6, 1.0e6) / (view.shape[0] * view.shape[1])) ** 0.5
        size = (round(view.shape[1] * factor), round(view.shape[0] * factor))
        kept.append(
            cv2.resize(
                np.ascontiguousarray(view), size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LANCZOS4
            )
        )
    return kept


def _normalised_thumbnail(pixels: np.ndarray) -> np.ndarray:
    gray = cv2.resize(
        cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA
    )
    centred = gray.astype(np.float64) - gray.mean()
    return centred / (np.linalg.norm(centred) or 1.0)


def _mirror_aware_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return max(float((a * b).sum()), float((a * b[:, ::-1]).sum()))


def _encode(pixels: np.ndarray, fmt: str = "JPEG", quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def near_copy(pixels: np.ndarray, kind: str, rng: np.random.Generator) -> bytes:
    """One planted near duplicate of ``pixels``."""
    height, width = pixels.shape[:2]
    if kind == "resized":
        factor = rng.uniform(0.4, 0.8)
        small = cv2.resize(pixels, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)
        return _encode(small, "PNG" if rng.random() < 0.3 else "JPEG")
    if kind == "reencoded":
        return _encode(pixels, "JPEG", int(rng.integers(30, 70)))
    if kind == "cropped":
        share = rng.uniform(0.02, 0.05)
        dx, dy = round(width * share), round(height * share)
        x0, y0 = int(rng.integers(0, dx + 1)), int(rng.integers(0, dy + 1))
        return _encode(pixels[y0 : y0 + height - dy, x0 : x0 + width - dx])
    if kind == "brightened":
        image = ImageEnhance.Brightness(Image.fromarray(pixels)).enhance(rng.uniform(1.1, 1.3))
        return _encode(np.asarray(image))
    if kind == "flipped":
        return _encode(np.ascontiguousarray(pixels[:, ::-1]))
    raise ValueError(f"unknown copy kind {kind!r}")


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return kernel / kernel.sum()


def blurred_copy(pixels: np.ndarray, kind: str, rng: np.random.Generator) -> bytes:
    """A visibly blurred copy: blur sized relative to the image (0.4-1 % sigma, 1.5-4 % motion)."""
    side = max(pixels.shape[:2])
    if kind == "gaussian":
        return _encode(cv2.GaussianBlur(pixels, (0, 0), rng.uniform(0.004, 0.01) * side))
    length = int(rng.uniform(0.015, 0.04) * side) | 1
    return _encode(cv2.filter2D(pixels, -1, _motion_kernel(length, rng.uniform(0, 180))))


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG declaring ``width`` x ``height`` gray pixels (all zero, so it compresses to KB)."""
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def corrupt_file(kind: str, valid: bytes, rng: np.random.Generator) -> bytes:
    if kind == "truncated":
        return valid[: int(len(valid) * rng.uniform(0.2, 0.9))]
    if kind == "zero_bytes":
        return b""
    if kind == "random_bytes":
        return rng.bytes(int(rng.integers(1_000, 200_000)))
    if kind == "decompression_bomb":
        return _png_bomb(int(rng.integers(12_000, 20_000)), int(rng.integers(12_000, 20_000)))
    raise ValueError(f"unknown corruption {kind!r}")


def build(out: pathlib.Path, seed: int = 0) -> dict:
    """Write the corpus and ``truth.json`` under ``out``; returns the truth."""
    rng = np.random.default_rng(seed)
    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict] = {}

    def write(name: str, data: bytes, **facts) -> None:
        (files / name).write_bytes(data)
        truth[name] = facts

    originals = 0
    valid_samples: list[bytes] = []
    for photo in load_sources():
        for view_index, pixels in enumerate(originals_of(photo, rng)):
            group = f"{os.path.splitext(photo.name)[0]}-{view_index}"
            common = {"group": group, "source_set": photo.source_set, "blurry": False, "corrupt": None}
            original = _encode(pixels)
            write(f"{group}.jpg", original, kind="original", **common)
            valid_samples.append(original)
            originals += 1
            for kind in rng.choice(COPY_KINDS, size=int(rng.integers(3, 6)), replace=False):
                data = near_copy(pixels, str(kind), rng)
                extension = "png" if data.startswith(b"\x89PNG") else "jpg"
                write(f"{group}-{kind}.{extension}", data, kind=str(kind), **common)
            for kind in ("gaussian", "motion"):
                if rng.random() >= 0.45:
                    continue
                write(
                    f"{group}-blur-{kind}.jpg",
                    blurred_copy(pixels, kind, rng),
                    kind=f"blur_{kind}",
                    **{**common, "blurry": True},
                )
    for index in range(max(40, originals // 3)):
        kind = ("truncated", "zero_bytes", "random_bytes", "decompression_bomb")[index % 4]
        data = corrupt_file(kind, valid_samples[int(rng.integers(len(valid_samples)))], rng)
        write(
            f"corrupt-{index:03d}-{kind}.jpg",
            data,
            group=None,
            kind="corrupt",
            source_set=None,
            blurry=False,
            corrupt=kind,
        )
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "out" / "prefilter_corpus"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth = build(pathlib.Path(args.out), args.seed)
    kinds: dict[str, int] = {}
    for facts in truth.values():
        kinds[facts["kind"]] = kinds.get(facts["kind"], 0) + 1
    print(f"{len(truth)} files in {args.out}: {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
