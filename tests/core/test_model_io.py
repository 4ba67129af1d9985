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


def test_tampered_file_is_refused(tmp_path, model_and_examples):
    model_io.save_model(str(tmp_path), model_and_examples[0])
    with open(tmp_path / model_io.MODEL_FILE, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(model_io.ModelFileError, match="checksum"):
        model_io.load_model(str(tmp_path))


def test_types_outside_the_allow_list_are_refused(tmp_path, model_and_examples):
    import fractions
    import hashlib

    model_io.save_model(str(tmp_path), model_and_examples[0])
    data = skops.io.dumps({"x": fractions.Fraction(1, 3)})
    (tmp_path / model_io.MODEL_FILE).write_bytes(data)
    meta = (tmp_path / model_io.METADATA_FILE).read_text()
    old = model_io.read_metadata(str(tmp_path))["model_sha256"]
    (tmp_path / model_io.METADATA_FILE).write_text(meta.replace(old, hashlib.sha256(data).hexdigest()))
    with pytest.raises(model_io.ModelFileError, match="fractions.Fraction"):
        model_io.load_model(str(tmp_path))


def test_missing_folder_says_what_it_expected(tmp_path):
    with pytest.raises(model_io.ModelFileError, match="train_model"):
        model_io.load_model(str(tmp_path / "nope"))
