"""Shared fixtures for component tests."""

import pytest
from kfp import dsl
from labelloop.components.core import model_io, sample_data, train


def _trained_model(tmp_path, n=300, C=1.0, name="model"):
    """A digits manifest and a quick model saved where a Model artifact would be."""
    data = sample_data.load_digits_images()
    path = sample_data.write_image_manifest(
        data.images[:n], list(data.labels[:n]), str(tmp_path / "data"), ml_uses=sample_data.assign_ml_uses(n, seed=2)
    )
    examples = train.examples_from_manifest(path, "image_classification")
    model = dsl.Model(name=name, uri=str(tmp_path / name), metadata={})
    model_io.save_model(model.path, train.fit_quick(examples, C=C), dataset_version="dv1")
    return dsl.Dataset(name="d", uri=path, metadata={}), model


@pytest.fixture
def trained_model():
    """``trained_model(tmp_path, n=300, C=1.0, name="model") -> (dataset, model)``."""
    return _trained_model
