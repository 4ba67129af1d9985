"""Models are saved in skops' safe format and refused when tampered with or holding foreign types."""

import numpy as np
import pytest
import skops.io
from labelloop.components.core import features, model_io, sample_data
from labelloop.components.core import train as T


@pytest.fixture(scope="module")
def model_and_examples(tmp_path_factory):
    wine = sample_data.load_wine()
    frame = wine.frame.assign(ml_use=sample_data.assign_ml_uses(len(wine.frame)))
    examples = T.examples_from_table(frame, "tabular_classification", "cultivar")
    return T.fit_quick(examples), examples


def test_round_trip_keeps_predictions_and_metadata(tmp_path, model_and_examples):
    model, examples = model_and_examples
    meta = model_io.save_model(str(tmp_path), model, dataset_version="v7", metrics={"accuracy": 0.9})
    loaded = model_io.load_model(str(tmp_path))
    assert np.allclose(loaded.model.predict_proba(examples.test.inputs), model.predict_proba(examples.test.inputs))
    assert loaded.model.labels == model.labels and loaded.model.spec == model.spec
    assert loaded.metadata["dataset_version"] == "v7" and meta["library_versions"]["scikit-learn"]
    assert isinstance(loaded.model.spec, features.FeatureSpec)


def test_a_text_model_stores_its_vocabulary_compactly_and_round_trips(tmp_path):
    """A TF-IDF vocabulary is saved as one string, not skops' entry-by-entry dict (35 s for 50k terms)."""
    import time

    bbc = sample_data.load_bbc_news()
    picked = np.random.default_rng(0).choice(len(bbc.texts), 300, replace=False)
    texts, frame_labels = [bbc.texts[i] for i in picked], [bbc.labels[i] for i in picked]
    spec = features.FeatureSpec("text")
    uses = sample_data.assign_ml_uses(len(texts), seed=0)
    splits = {use: [i for i, u in enumerate(uses) if u == use] for use in ("training", "validation", "test")}

    def split(rows):
        return T.Split(
            np.asarray([texts[i] for i in rows], dtype=object),
            tuple(frame_labels[i] for i in rows),
            np.ones(len(rows)),
            tuple(map(str, rows)),
        )

    examples = T.Examples(
        "text_classification", spec, split(splits["training"]), split(splits["validation"]), split(splits["test"]), {}
    )
    model = T.fit_quick(examples)
    vocabulary = dict(model.estimator.named_steps["features"].vocabulary_)
    assert len(vocabulary) > 10_000
    started = time.monotonic()
    model_io.save_model(str(tmp_path), model)
    assert time.monotonic() - started < 5  # was ~10 s for this vocabulary
    assert model.estimator.named_steps["features"].vocabulary_ == vocabulary  # the model in memory is untouched
    assert (tmp_path / model_io.MODEL_FILE).stat().st_size < 100 * len(vocabulary)  # a dict took ~700 bytes a term
    loaded = model_io.load_model(str(tmp_path)).model
    assert loaded.estimator.named_steps["features"].vocabulary_ == vocabulary
    assert np.allclose(loaded.predict_proba(examples.test.inputs), model.predict_proba(examples.test.inputs))


def _swap_model_file(folder, data: bytes, *, format_version: int | None = None) -> None:
    """Replace a saved model's file with ``data`` and fix its checksum, as a forger would."""
    import hashlib

    meta = model_io.read_metadata(str(folder))
    text = (folder / model_io.METADATA_FILE).read_text()
    text = text.replace(meta["model_sha256"], hashlib.sha256(data).hexdigest())
    if format_version is not None:
        text = text.replace(f'"format_version": {meta["format_version"]}', f'"format_version": {format_version}')
    (folder / model_io.MODEL_FILE).write_bytes(data)
    (folder / model_io.METADATA_FILE).write_text(text)


def test_a_format_1_model_file_still_loads(tmp_path, model_and_examples):
    model, examples = model_and_examples
    model_io.save_model(str(tmp_path), model)
    _swap_model_file(tmp_path, skops.io.dumps(model.estimator), format_version=1)  # format 1: the estimator alone
    loaded = model_io.load_model(str(tmp_path)).model
    assert np.allclose(loaded.predict_proba(examples.test.inputs), model.predict_proba(examples.test.inputs))


def _ensemble_model(examples):
    """A two-member SoftVotingEnsemble behind the shared preprocessor, as a search returns it."""
    from sklearn.pipeline import Pipeline

    labels = T.label_set(examples.training.targets, examples.task)
    prepared = T.prepare(examples.task, examples.spec, examples.training, examples.validation, labels)
    members = [T.refit_model(examples.task, "logistic", {"C": c}, prepared.all, seed=0) for c in (0.1, 1.0)]
    ensemble = T.SoftVotingEnsemble(members, [1, 1], examples.task, len(labels))
    estimator = Pipeline([("features", prepared.preprocessor), ("model", ensemble)])
    return T.TrainedModel(estimator, examples.task, labels, examples.spec, "ensemble(logistic)", {"members": []})


def _with_module_renamed(data: bytes, old: str, new: str) -> bytes:
    """A skops file whose schema records ``old`` as a class's module where it said ``new``."""
    import io
    import zipfile

    source, target = io.BytesIO(data), io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "schema.json":
                assert f'"{new}"'.encode() in content
                content = content.replace(f'"{new}"'.encode(), f'"{old}"'.encode())
            zout.writestr(info, content)
    return target.getvalue()


@pytest.mark.parametrize("format_version", [1, 2])
def test_an_ensemble_saved_before_train_became_a_package_still_loads(tmp_path, model_and_examples, format_version):
    """Files saved before the split record ``labelloop.components.core.train.SoftVotingEnsemble``."""
    examples = model_and_examples[1]
    model = _ensemble_model(examples)
    assert type(model.estimator.named_steps["model"]).__module__ == "labelloop.components.core.train.models"
    model_io.save_model(str(tmp_path), model)
    payload = {"estimator": model.estimator, "vocabularies": {}} if format_version == 2 else model.estimator
    old = _with_module_renamed(
        skops.io.dumps(payload), "labelloop.components.core.train", "labelloop.components.core.train.models"
    )
    assert "labelloop.components.core.train.SoftVotingEnsemble" in skops.io.get_untrusted_types(data=old)
    _swap_model_file(tmp_path, old, format_version=format_version)
    loaded = model_io.load_model(str(tmp_path)).model
    assert isinstance(loaded.estimator.named_steps["model"], T.SoftVotingEnsemble)
    assert np.allclose(loaded.predict_proba(examples.test.inputs), model.predict_proba(examples.test.inputs))


def test_a_new_ensemble_file_names_the_new_module(tmp_path, model_and_examples):
    model_io.save_model(str(tmp_path), _ensemble_model(model_and_examples[1]))
    data = (tmp_path / model_io.MODEL_FILE).read_bytes()
    assert "labelloop.components.core.train.models.SoftVotingEnsemble" in skops.io.get_untrusted_types(data=data)
    assert model_io.untrusted_types(data) == []
    assert model_io.load_model(str(tmp_path)).model.family == "ensemble(logistic)"


def test_tampered_file_is_refused(tmp_path, model_and_examples):
    model_io.save_model(str(tmp_path), model_and_examples[0])
    with open(tmp_path / model_io.MODEL_FILE, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(model_io.ModelFileError, match="checksum"):
        model_io.load_model(str(tmp_path))


def test_types_outside_the_allow_list_are_refused(tmp_path, model_and_examples):
    import fractions

    model_io.save_model(str(tmp_path), model_and_examples[0])
    _swap_model_file(tmp_path, skops.io.dumps({"x": fractions.Fraction(1, 3)}))
    with pytest.raises(model_io.ModelFileError, match="fractions.Fraction"):
        model_io.load_model(str(tmp_path))


def test_a_partial_of_a_function_outside_the_allow_list_is_refused(tmp_path, model_and_examples):
    """``functools.partial`` is allowed (boosting on categories keeps one), but not what it wraps."""
    import functools
    import os

    model_io.save_model(str(tmp_path), model_and_examples[0])
    _swap_model_file(tmp_path, skops.io.dumps({"estimator": functools.partial(os.system, "true"), "vocabularies": {}}))
    with pytest.raises(model_io.ModelFileError, match="posix.system|os.system"):
        model_io.load_model(str(tmp_path))


def test_missing_folder_says_what_it_expected(tmp_path):
    with pytest.raises(model_io.ModelFileError, match="train_model"):
        model_io.load_model(str(tmp_path / "nope"))


def exec_rooted_skops(code: str) -> bytes:
    """A skops file whose root is ``builtins.exec`` called on ``code`` (skops' constructor-from-reduce loader)."""
    import io
    import json
    import zipfile

    text = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "__id__": 3}
    args = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "__id__": 2}
    schema = {
        "__class__": "exec",
        "__module__": "builtins",
        "__loader__": "ConstructorFromReduceNode",
        "__id__": 1,
        "content": {**args, "content": [{**text, "content": json.dumps(code), "is_json": True}]},
        "protocol": 2,
        "_skops_version": skops.__version__,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def test_an_exec_rooted_file_with_a_matching_checksum_runs_nothing(tmp_path, model_and_examples):
    """skops calls a ConstructorFromReduceNode's type; ``builtins.exec`` was allowed by the old ``builtins.`` prefix."""
    folder, marker = tmp_path / "model", tmp_path / "pwned"
    model_io.save_model(str(folder), model_and_examples[0])
    data = exec_rooted_skops(f"open({str(marker)!r}, 'w').write('ran')")
    assert "builtins.exec" in skops.io.get_untrusted_types(data=data)  # the forged file is what we think
    _swap_model_file(folder, data)
    with pytest.raises(model_io.ModelFileError, match=r"builtins\.exec.*refusing to load"):
        model_io.load_model(str(folder))
    assert not marker.exists()


@pytest.mark.parametrize(
    "data, what",
    [
        (b"\x80\x04\x95" + bytes(range(256)) * 4, "pickle bytes"),
        (__import__("os").urandom(4096), "random bytes"),
        (b"", "an empty file"),
        (b"PK\x05\x06" + b"\x00" * 18, "an empty zip"),
    ],
)
def test_a_file_that_is_not_a_skops_model_is_a_model_file_error(tmp_path, model_and_examples, data, what):
    model_io.save_model(str(tmp_path), model_and_examples[0])
    _swap_model_file(tmp_path, data)
    with pytest.raises(model_io.ModelFileError, match=r"model\.skops is not a skops model file"):
        model_io.load_model(str(tmp_path))


def test_a_pickle_saved_as_model_skops_is_refused_unloaded(tmp_path, model_and_examples):
    import pickle

    model_io.save_model(str(tmp_path), model_and_examples[0])
    _swap_model_file(tmp_path, pickle.dumps(model_and_examples[0].estimator))
    with pytest.raises(model_io.ModelFileError, match=str(tmp_path)):
        model_io.load_model(str(tmp_path))


def test_a_zip_with_broken_schema_json_is_a_model_file_error(tmp_path, model_and_examples):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", "{not json")
    model_io.save_model(str(tmp_path), model_and_examples[0])
    _swap_model_file(tmp_path, buffer.getvalue())
    with pytest.raises(model_io.ModelFileError, match="not a skops model file"):
        model_io.load_model(str(tmp_path))


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", ""])
def test_broken_metadata_is_a_model_file_error_naming_it(tmp_path, model_and_examples, text):
    model_io.save_model(str(tmp_path), model_and_examples[0])
    (tmp_path / model_io.METADATA_FILE).write_text(text)
    with pytest.raises(model_io.ModelFileError, match=r"metadata\.json"):
        model_io.load_model(str(tmp_path))


def test_the_allow_list_holds_exact_names_only():
    assert all(not name.endswith(".") and "*" not in name for name in model_io.ALLOWED_NAMES)
    assert not any(name.startswith("builtins.") for name in model_io.ALLOWED_NAMES)


def test_held_out_predictions_round_trip_beside_the_model(tmp_path, model_and_examples):
    from labelloop.components.core.train import HeldOutPredictions

    heldout = HeldOutPredictions(("a", "b"), np.array([[0.9, 0.1], [0.2, 0.8]]), "training split")
    meta = model_io.save_model(str(tmp_path / "with"), model_and_examples[0], heldout=heldout)
    assert meta["heldout_predictions"] == {"items": 2, "fitted_on": "training split"}
    back = model_io.read_heldout(str(tmp_path / "with"))
    assert back.ids == ("a", "b") and back.fitted_on == "training split"
    assert np.array_equal(back.probabilities, heldout.probabilities)
    model_io.save_model(str(tmp_path / "without"), model_and_examples[0])
    assert model_io.read_heldout(str(tmp_path / "without")) is None
    (tmp_path / "with" / model_io.HELDOUT_FILE).write_bytes(b"not numpy")
    with pytest.raises(model_io.ModelFileError, match="held-out predictions"):
        model_io.read_heldout(str(tmp_path / "with"))
