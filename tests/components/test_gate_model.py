"""gate_model component: first model blessed on values; a worse challenger refused vs the champion."""

import json

from kfp import dsl

from labelloop.components.core import model_io, sample_data, train
from labelloop.components.core.registry import ModelRegistry
from labelloop.components.gate_model import gate_model

def trained_model(tmp_path, n=300, C=1.0, name="model"):
    """A digits manifest and a quick model saved where a Model artifact would be."""
    data = sample_data.load_digits_images()
    path = sample_data.write_image_manifest(data.images[:n], list(data.labels[:n]), str(tmp_path / "data"),
                                            ml_uses=sample_data.assign_ml_uses(n, seed=2))
    examples = train.examples_from_manifest(path, "image_classification")
    model = dsl.Model(name=name, uri=str(tmp_path / name), metadata={})
    model_io.save_model(model.path, train.fit_quick(examples, C=C), dataset_version="dv1")
    return dsl.Dataset(name="d", uri=path, metadata={}), model

CONFIG = json.dumps({"value_thresholds": {"accuracy": {"lower_bound": 0.5}},
                     "change_thresholds": {"accuracy": {"absolute": 0.0}}, "resamples": 200})


def test_gate_model_against_registry_champion(tmp_path):
    dataset, good = trained_model(tmp_path, name="good")
    _, weak = trained_model(tmp_path, C=1e-4, name="weak")
    registry = str(tmp_path / "registry")
    blessing = dsl.Artifact(name="b", uri=str(tmp_path / "b.json"), metadata={})
    first = gate_model.python_func(challenger=good, dataset=dataset, blessing=blessing, gate_config=CONFIG,
                                   registry_uri=registry, model_name="digits")
    assert first is True and "no champion" in " ".join(blessing.metadata["reasons"])
    version = ModelRegistry(registry).register("digits", good.path, {}).version
    ModelRegistry(registry).promote("digits", version)
    second = gate_model.python_func(challenger=weak, dataset=dataset, blessing=blessing, gate_config=CONFIG,
                                    registry_uri=registry, model_name="digits")
    report = json.load(open(blessing.path))
    assert second is False and report["has_champion"] and report["champion_uri"].endswith("/1")
