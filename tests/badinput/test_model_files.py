"""Hostile model folders: nothing outside the exact allow-list is ever constructed or called, and
every way a folder can be broken is a ModelFileError naming the file."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import zipfile

import pytest
import skops
import skops.io
from labelloop.components.core import model_io, sample_data
from labelloop.components.core import train as T


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real saved model folder's two files, as bytes."""
    wine = sample_data.load_wine()
    frame = wine.frame.assign(ml_use=sample_data.assign_ml_uses(len(wine.frame)))
    model = T.fit_quick(T.examples_from_table(frame, "tabular_classification", "cultivar"))
    folder = tmp_path_factory.mktemp("model")
    model_io.save_model(str(folder), model)
    return (folder / model_io.MODEL_FILE).read_bytes(), (folder / model_io.METADATA_FILE).read_text()


def forged(tmp_path, saved, data: bytes | None = None, *, metadata: str | None = None):
    """A model folder holding ``data`` with its checksum fixed, as a forger who can write both files would."""
    model, meta = saved
    folder = tmp_path / "forged"
    folder.mkdir()
    data = model if data is None else data
    if metadata is None:
        metadata = meta.replace(hashlib.sha256(model).hexdigest(), hashlib.sha256(data).hexdigest())
    (folder / model_io.MODEL_FILE).write_bytes(data)
    (folder / model_io.METADATA_FILE).write_text(metadata)
    return str(folder)


def node(module: str, name: str, loader: str, **rest) -> dict:
    return {"__class__": name, "__module__": module, "__loader__": loader, "__id__": id(rest), **rest}


def calling(module: str, name: str, *args: str) -> bytes:
    """A skops file whose root calls ``module.name(*args)`` while loading (a constructor-from-reduce node)."""
    values = [node("builtins", "str", "JsonNode", content=json.dumps(a), is_json=True) for a in args]
    schema = node(
        module, name, "ConstructorFromReduceNode", content=node("builtins", "tuple", "TupleNode", content=values)
    )
    schema.update(protocol=2, _skops_version=skops.__version__)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def test_the_real_model_loads(tmp_path, saved):
    assert model_io.load_model(forged(tmp_path, saved)).model.labels


@pytest.mark.parametrize(
    "module, name, code",
    [
        ("builtins", "exec", "open({marker!r}, 'w').write('ran')"),
        ("builtins", "eval", "open({marker!r}, 'w').write('ran')"),
        ("posix", "system", "touch {marker}"),
        ("os", "system", "touch {marker}"),
        ("subprocess", "getoutput", "touch {marker}"),
        ("builtins", "open", "{marker}"),
    ],
)
def test_a_file_calling_a_function_while_loading_runs_nothing(tmp_path, saved, module, name, code):
    marker = tmp_path / "pwned"
    data = calling(module, name, code.format(marker=str(marker)))
    folder = forged(tmp_path, saved, data, metadata=None)
    with pytest.raises(model_io.ModelFileError, match=rf"{module}\.{name}.*refusing to load"):
        model_io.load_model(folder)
    assert not marker.exists()


def test_a_partial_of_a_dangerous_function_is_refused(tmp_path, saved):
    data = skops.io.dumps({"estimator": functools.partial(os.system, "true"), "vocabularies": {}})
    with pytest.raises(model_io.ModelFileError, match="system"):
        model_io.load_model(forged(tmp_path, saved, data))


@pytest.mark.parametrize(
    "make",
    [
        lambda model: pickle.dumps({"a": 1}),
        lambda model: os.urandom(2048),
        lambda model: b"",
        lambda model: model[: len(model) // 2],
        lambda model: b"PK\x03\x04" + os.urandom(100),
        lambda model: _zip({"other.json": "{}"}),
        lambda model: _zip({"schema.json": "{not json"}),
        lambda model: _zip({"schema.json": "[1, 2, 3]"}),
    ],
    ids=[
        "pickle",
        "random",
        "empty",
        "truncated-zip",
        "zip-header-garbage",
        "no-schema",
        "schema-not-json",
        "schema-list",
    ],
)
def test_a_model_file_that_is_not_skops_is_a_model_file_error(tmp_path, saved, make):
    folder = forged(tmp_path, saved, make(saved[0]))
    with pytest.raises(model_io.ModelFileError, match=r"model\.skops"):
        model_io.load_model(folder)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda meta: "{broken", r"metadata\.json is not readable JSON"),
        (lambda meta: "[]", r"metadata\.json holds a list"),
        (lambda meta: json.dumps({k: v for k, v in json.loads(meta).items() if k != "task"}), r"metadata\.json lacks"),
        (lambda meta: json.dumps({**json.loads(meta), "task": "mind_reading"}), r"metadata\.json"),
        (lambda meta: json.dumps({**json.loads(meta), "model_sha256": "0" * 64}), "checksum"),
    ],
    ids=["broken-json", "a-list", "no-task", "unknown-task", "wrong-checksum"],
)
def test_broken_metadata_is_a_model_file_error(tmp_path, saved, edit, match):
    folder = forged(tmp_path, saved, metadata=edit(saved[1]))
    with pytest.raises(model_io.ModelFileError, match=match):
        model_io.load_model(folder)


def test_a_missing_model_file_is_named(tmp_path, saved):
    folder = forged(tmp_path, saved)
    os.remove(os.path.join(folder, model_io.MODEL_FILE))
    with pytest.raises(model_io.ModelFileError, match="incomplete"):
        model_io.load_model(folder)


@pytest.mark.parametrize(
    "payload, match",
    [
        ({"estimator": 5, "vocabularies": {}}, "not a fitted model"),
        ({"estimator": [1, 2], "vocabularies": {}}, "not a fitted model"),
        ({"vocabularies": {}}, "does not hold the estimator"),
        ({"estimator": None, "vocabularies": ["a"]}, "not a map of strings"),
        ({"estimator": None, "vocabularies": {"features": 5}}, "not a map of strings"),
    ],
    ids=["int", "list", "no-estimator", "vocabularies-list", "vocabulary-int"],
)
def test_a_safe_file_holding_the_wrong_thing_is_a_model_file_error(tmp_path, saved, payload, match):
    with pytest.raises(model_io.ModelFileError, match=match):
        model_io.load_model(forged(tmp_path, saved, skops.io.dumps(payload)))
