"""Save and load trained models safely: skops files with an explicit type allow-list + metadata.

A model folder holds ``model.skops`` (the fitted scikit-learn pipeline, in skops' format, which is
never unpickled) and ``metadata.json`` (task, label set, feature spec, training data version,
metrics, library versions and the SHA-256 of ``model.skops``). Loading refuses a file whose
checksum differs from its metadata, or that contains any type outside :data:`ALLOWED_PREFIXES`.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata

import orjson

from labelloop.components.core import features as feats
from labelloop.components.core import manifest
from labelloop.components.core.train import TrainedModel, check_task

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1
#: Types a model file may contain: scikit-learn, numpy and scipy objects, and the search's ensemble.
ALLOWED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.",
                    "labelloop.components.core.train.SoftVotingEnsemble")
LIBRARIES = ("scikit-learn", "numpy", "scipy", "skops", "flaml", "labelloop")


class ModelFileError(ValueError):
    """A model folder is missing, corrupted or holds types outside the allow-list."""


@dataclass(frozen=True)
class LoadedModel:
    model: TrainedModel
    metadata: dict


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}"


def save_model(folder: str, model: TrainedModel, *, dataset_version: str = "", metrics: dict | None = None,
               extra: dict | None = None) -> dict:
    """Write ``model`` into ``folder`` (local or fsspec URL); returns the metadata written.

    The metadata is written last, so a folder with ``metadata.json`` is complete.
    """
    import skops.io

    data = skops.io.dumps(model.estimator)
    with manifest.atomic_writer(_join(folder, MODEL_FILE)) as handle:
        handle.write(data)
    meta = {
        "format_version": FORMAT_VERSION,
        "task": model.task,
        "labels": list(model.labels),
        "feature_spec": model.spec.to_dict(),
        "family": model.family,
        "params": model.params,
        "dataset_version": dataset_version,
        "metrics": metrics or {},
        "library_versions": library_versions(),
        "model_sha256": hashlib.sha256(data).hexdigest(),
        "created_at": datetime.now(timezone.utc).isoformat(),
        **(extra or {}),
    }
    with manifest.atomic_writer(_join(folder, METADATA_FILE)) as handle:
        handle.write(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return meta


def read_metadata(folder: str) -> dict:
    path = _join(folder, METADATA_FILE)
    try:
        with manifest.open_file(path, "rb") as handle:
            return orjson.loads(handle.read())
    except FileNotFoundError:
        raise ModelFileError(f"{path} not found; is {folder} a model saved by labelloop's train_model?") from None


def untrusted_types(data: bytes) -> list[str]:
    """Types in a skops payload that are outside :data:`ALLOWED_PREFIXES`."""
    import skops.io

    return [t for t in skops.io.get_untrusted_types(data=data) if not t.startswith(ALLOWED_PREFIXES)]


def load_model(folder: str) -> LoadedModel:
    """Load a model folder written by :func:`save_model`, checking checksum and type allow-list.

    Raises:
        ModelFileError: when files are missing, the checksum differs, or a type is not allowed.
    """
    import skops.io

    meta = read_metadata(folder)
    path = _join(folder, MODEL_FILE)
    try:
        with manifest.open_file(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path} not found; the model folder is incomplete") from None
    if hashlib.sha256(data).hexdigest() != meta.get("model_sha256"):
        raise ModelFileError(f"{path} does not match the checksum in its metadata; the file was changed or corrupted")
    refused = untrusted_types(data)
    if refused:
        raise ModelFileError(f"{path} contains types outside the allow-list {ALLOWED_PREFIXES}: {refused}; refusing to load")
    trusted = skops.io.get_untrusted_types(data=data)
    estimator = skops.io.loads(data, trusted=trusted)
    model = TrainedModel(
        estimator=estimator,
        task=check_task(meta["task"]),
        labels=tuple(meta["labels"]),
        spec=feats.FeatureSpec.from_dict(meta["feature_spec"]),
        family=meta.get("family", ""),
        params=meta.get("params", {}),
    )
    return LoadedModel(model, meta)
