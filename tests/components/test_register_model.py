"""register_model component: registers blessed models, refuses unblessed ones."""

import json

import pytest
from kfp import dsl
from labelloop.components.core import model_io
from labelloop.components.core.registry import ModelRegistry, RegistryError
from labelloop.components.register_model import register_model


def test_register_blessed_and_refuse_unblessed(tmp_path, trained_model):
    _, model = trained_model(tmp_path)
    blessing = dsl.Artifact(name="b", uri=str(tmp_path / "b.json"), metadata={})
    (tmp_path / "b.json").write_text(json.dumps({"blessed": True, "checks": []}))
    registry = str(tmp_path / "registry")
    version = register_model.python_func(
        model=model, registry_uri=registry, model_name="digits", pipeline_run="run-1", blessing=blessing
    ).version
    reg = ModelRegistry(registry)
    assert reg.alias("digits", "champion") == version == "1"
    assert (
        reg.get("digits", "1").lineage["dataset_version"] == "dv1"
        and reg.get("digits", "1").lineage["pipeline_run"] == "run-1"
    )
    assert model_io.load_model(reg.get("digits", "1").uri).model.task == "image_classification"
    (tmp_path / "b.json").write_text(json.dumps({"blessed": False}))
    with pytest.raises(RegistryError, match="not blessed"):
        register_model.python_func(model=model, registry_uri=registry, model_name="digits", blessing=blessing)
    assert reg.versions("digits") == ["1"]
