"""register_model component: registers blessed models, refuses unblessed ones."""

import json

import pytest
from kfp import dsl

from labelloop.components.core import model_io, sample_data, train
from labelloop.components.core.registry import ModelRegistry, RegistryError
from labelloop.components.register_model import register_model

def trained_model(tmp_path, n=300, C=1.0, name="model"):
    """A digits manifest and a quick model saved where a Model artifact would be."""
    data = sample_data.load_digits_images()
    path = sample_data.write_image_manifest(data.images[:n], list(data.labels[:n]), str(tmp_path / "data"),
                                            ml_uses=sample_data.assign_ml_uses(n, seed=2))
    examples = train.examples_from_manifest(path, "image_classification")
    model = dsl.Model(name=name, uri=str(tmp_path / name), metadata={})
    model_io.save_model(model.path, train.fit_quick(examples, C=C), dataset_version="dv1")
    return dsl.Dataset(name="d", uri=path, metadata={}), model


def test_register_blessed_and_refuse_unblessed(tmp_path):
    _, model = trained_model(tmp_path)
    blessing = dsl.Artifact(name="b", uri=str(tmp_path / "b.json"), metadata={})
    (tmp_path / "b.json").write_text(json.dumps({"blessed": True, "checks": []}))
    registry = str(tmp_path / "registry")
    version = register_model.python_func(model=model, registry_uri=registry, model_name="digits", pipeline_run="run-1",
                                         blessing=blessing)
    reg = ModelRegistry(registry)
    assert reg.alias("digits", "champion") == version == "1"
    assert reg.get("digits", "1").lineage["dataset_version"] == "dv1" and reg.get("digits", "1").lineage["pipeline_run"] == "run-1"
    assert model_io.load_model(reg.get("digits", "1").uri).model.task == "image_classification"
    (tmp_path / "b.json").write_text(json.dumps({"blessed": False}))
    with pytest.raises(RegistryError, match="not blessed"):
        register_model.python_func(model=model, registry_uri=registry, model_name="digits", blessing=blessing)
    assert reg.versions("digits") == ["1"]
