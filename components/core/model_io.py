"""Save and load trained models safely: skops files with an explicit type allow-list + metadata.

A model folder holds ``model.skops`` (the fitted scikit-learn pipeline, in skops' format, which is
never unpickled; text vocabularies are stored beside it as one string, see
:func:`_detached_vocabularies`) and ``metadata.json`` (task, label set, feature spec, training
data version, metrics, library versions and the SHA-256 of ``model.skops``). Loading refuses a
file whose checksum differs from its metadata, or that names any type skops does not trust by
default and :data:`ALLOWED_NAMES` does not list exactly. The check runs before skops constructs
anything, so a file rooted at ``builtins.exec`` (or any other callable) is refused unexecuted, and
every way a file can fail to load (not a zip, broken JSON, a pickle renamed) is a
:class:`ModelFileError` naming the file."""

from __future__ import annotations

import contextlib
import hashlib
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata

import orjson

from . import features as feats
from . import manifest
from .train import HeldOutPredictions, TrainedModel, check_task

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
#: The search's predictions on labeled items its fits did not see (ids, probabilities): what
#: machine-label thresholds are calibrated on (the refitted model has seen the validation items).
HELDOUT_FILE = "heldout_predictions.npz"
#: 2: the payload is ``{"estimator": ..., "vocabularies": {...}}``; 1: the estimator alone.
FORMAT_VERSION = 2
#: The exact names a model file may hold beyond the types skops trusts by default (its own list of
#: scikit-learn estimators and plain containers). No prefixes: ``builtins.*`` or ``numpy.*`` would
#: admit ``builtins.exec`` or ``numpy.load``, which skops *calls* while loading. The list is what
#: every family :mod:`.train` fits leaves in a file: tree and boosting internals, the SVM's
#: calibration, the search's ensemble, and ``functools.partial`` around ``check_array``, which
#: boosting with categorical features keeps (skops lists a partial's function as a type of its
#: own, so a partial of anything else is still refused).
ALLOWED_NAMES = (
    "labelloop.components.core.train.models.SoftVotingEnsemble",
    "functools.partial",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
)
#: Where allowed types lived when older model files were saved: each old name is checked as its new
#: one, and still resolves (``train`` re-exports ``SoftVotingEnsemble``, which moved into ``train.models``).
RENAMED_TYPES = {
    "labelloop.components.core.train.SoftVotingEnsemble": "labelloop.components.core.train.models.SoftVotingEnsemble"
}
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


def save_model(
    folder: str,
    model: TrainedModel,
    *,
    dataset_version: str = "",
    metrics: dict | None = None,
    extra: dict | None = None,
    heldout: HeldOutPredictions | None = None,
) -> dict:
    """Write ``model`` into ``folder`` (local or fsspec URL); returns the metadata written.

    ``heldout`` (the search's held-out predictions) goes into :data:`HELDOUT_FILE`. The metadata
    is written last, so a folder with ``metadata.json`` is complete.
    """
    import skops.io

    if heldout is not None:
        _save_heldout(folder, heldout)

    with _detached_vocabularies(model.estimator) as vocabularies:
        data = skops.io.dumps({"estimator": model.estimator, "vocabularies": vocabularies})
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
        "created_at": datetime.now(UTC).isoformat(),
        **({"heldout_predictions": {"items": len(heldout.ids), "fitted_on": heldout.fitted_on}} if heldout else {}),
        **(extra or {}),
    }
    with manifest.atomic_writer(_join(folder, METADATA_FILE)) as handle:
        handle.write(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return meta


def _save_heldout(folder: str, heldout: HeldOutPredictions) -> None:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(
        buffer,
        ids=np.asarray(heldout.ids, dtype=str),
        probabilities=np.asarray(heldout.probabilities, dtype=np.float64),
        fitted_on=np.asarray(heldout.fitted_on, dtype=str),
    )
    with manifest.atomic_writer(_join(folder, HELDOUT_FILE)) as handle:
        handle.write(buffer.getvalue())


def read_heldout(folder: str) -> HeldOutPredictions | None:
    """The held-out predictions saved with the model in ``folder``, or None when it has none
    (a model saved before they were kept, or one trained elsewhere)."""
    import io

    import numpy as np

    path = _join(folder, HELDOUT_FILE)
    try:
        with manifest.open_file(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            ids, probabilities = tuple(str(i) for i in arrays["ids"]), np.asarray(arrays["probabilities"])
            fitted_on = str(arrays["fitted_on"])
    except (ValueError, KeyError, OSError) as err:
        raise ModelFileError(f"{path} is not a held-out predictions file ({err}); retrain the model") from None
    if len(ids) != len(probabilities):
        raise ModelFileError(f"{path} has {len(ids)} ids for {len(probabilities)} rows; retrain the model")
    return HeldOutPredictions(ids, probabilities, fitted_on)


def read_metadata(folder: str) -> dict:
    path = _join(folder, METADATA_FILE)
    try:
        with manifest.open_file(path, "rb") as handle:
            meta = orjson.loads(handle.read())
    except FileNotFoundError:
        raise ModelFileError(f"{path} not found; is {folder} a model saved by labelloop's train_model?") from None
    except (orjson.JSONDecodeError, OSError) as err:
        raise ModelFileError(f"{path} is not readable JSON ({err}); re-save the model with train_model") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path} holds a {type(meta).__name__}, not a JSON object; re-save the model")
    return meta


def untrusted_types(data: bytes, *, path: str = MODEL_FILE) -> list[str]:
    """Types in a skops payload that neither skops' defaults nor :data:`ALLOWED_NAMES` trust.

    skops reads only the file's schema here; nothing is constructed.
    """
    import skops.io

    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as err:  # noqa: BLE001 - skops raises whatever its zip or JSON reader raises: all mean "not a model"
        raise _unreadable(path, err) from None
    return [t for t in found if RENAMED_TYPES.get(t, t) not in ALLOWED_NAMES]


def _unreadable(path: str, err: Exception) -> ModelFileError:
    return ModelFileError(
        f"{path} is not a skops model file ({type(err).__name__}: {str(err)[:200]}); "
        "re-save the model with train_model (pickles are never loaded)"
    )


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
    refused = untrusted_types(data, path=path)
    if refused:
        raise ModelFileError(
            f"{path} contains types outside the allow-list (skops' defaults and {', '.join(ALLOWED_NAMES)}): "
            f"{refused}; refusing to load"
        )
    try:
        # Only the exact names of ALLOWED_NAMES (and their old paths) are trusted, never the file's own list.
        payload = skops.io.loads(data, trusted=[*ALLOWED_NAMES, *RENAMED_TYPES])
    except Exception as err:  # noqa: BLE001 - a schema that passed the audit can still be malformed
        raise _unreadable(path, err) from None
    estimator = _with_vocabularies(payload) if meta.get("format_version", 1) >= 2 else payload
    if not callable(getattr(estimator, "predict", None)):
        raise ModelFileError(f"{path} holds a {type(estimator).__name__}, not a fitted model; re-save the model")
    try:
        model = TrainedModel(
            estimator=estimator,
            task=check_task(meta["task"]),
            labels=tuple(meta["labels"]),
            spec=feats.FeatureSpec.from_dict(meta["feature_spec"]),
            family=meta.get("family", ""),
            params=meta.get("params", {}),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{_join(folder, METADATA_FILE)} lacks or garbles {err}; re-save the model") from None
    return LoadedModel(model, meta)


#: Separates the terms of a stored vocabulary; TF-IDF terms are words joined by spaces.
_TERM_SEPARATOR = "\n"


def _vectorizers(estimator) -> dict:
    """The fitted text vectorizers inside ``estimator``, by their parameter path (``features``)."""
    from sklearn.feature_extraction.text import CountVectorizer

    nested = estimator.get_params(deep=True).items() if hasattr(estimator, "get_params") else ()
    return {
        name: value
        for name, value in [("", estimator), *nested]
        if isinstance(value, CountVectorizer) and hasattr(value, "vocabulary_")
    }


@contextlib.contextmanager
def _detached_vocabularies(estimator):
    """Lend out each vectorizer's vocabulary as one string of terms in column order, leaving an
    empty dict in its place while the estimator is dumped.

    skops writes a dict entry by entry: a 50,000-term vocabulary took 35 s and 35 MB that way;
    as one string it takes milliseconds and well under 1 MB. The estimator is restored on exit.
    """
    vectorizers = _vectorizers(estimator)
    kept = {name: v.vocabulary_ for name, v in vectorizers.items()}
    try:
        stored = {}
        for name, vectorizer in vectorizers.items():
            terms = sorted(kept[name], key=kept[name].__getitem__)
            if any(not term or _TERM_SEPARATOR in term for term in terms):
                continue  # a custom tokenizer kept newlines or empty terms: leave this vocabulary in the estimator
            stored[name] = _TERM_SEPARATOR.join(terms)
            vectorizer.vocabulary_ = {}
        yield stored
    finally:
        for name, vectorizer in vectorizers.items():
            vectorizer.vocabulary_ = kept[name]


def _with_vocabularies(payload) -> object:
    """The estimator of a format-2 payload with its vocabularies put back."""
    if not isinstance(payload, dict) or "estimator" not in payload:
        raise ModelFileError("model.skops does not hold the estimator its metadata's format_version promises")
    estimator = payload["estimator"]
    vocabularies = payload.get("vocabularies", {})
    if not isinstance(vocabularies, dict) or not all(isinstance(v, str) for v in vocabularies.values()):
        raise ModelFileError("model.skops stores vocabularies that are not a map of strings; re-save the model")
    vectorizers = _vectorizers(estimator)
    for name, joined in vocabularies.items():
        if name not in vectorizers:
            raise ModelFileError(f"model.skops stores a vocabulary for {name!r}, which the estimator lacks")
        terms = joined.split(_TERM_SEPARATOR) if joined else []
        vectorizers[name].vocabulary_ = {term: column for column, term in enumerate(terms)}
    return estimator
