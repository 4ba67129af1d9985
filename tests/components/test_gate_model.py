"""gate_model component: first model blessed on values; a worse challenger refused vs the champion."""

import json

from kfp import dsl
from labelloop.components.core.registry import ModelRegistry
from labelloop.components.gate_model import gate_model

CONFIG = json.dumps(
    {
        "value_thresholds": {"accuracy": {"lower_bound": 0.5}},
        "change_thresholds": {"accuracy": {"absolute": 0.0}},
        "resamples": 200,
    }
)


def test_gate_model_against_registry_champion(tmp_path, trained_model):
    dataset, good = trained_model(tmp_path, name="good")
    _, weak = trained_model(tmp_path, C=1e-4, name="weak")
    registry = str(tmp_path / "registry")
    blessing = dsl.Artifact(name="b", uri=str(tmp_path / "b.json"), metadata={})
    first = gate_model.python_func(
        challenger=good,
        items=dataset,
        blessing=blessing,
        gate_config=CONFIG,
        registry_uri=registry,
        model_name="digits",
    )
    assert first is True and "no champion" in " ".join(blessing.metadata["reasons"])
    version = ModelRegistry(registry).register("digits", good.path, {}).version
    ModelRegistry(registry).promote("digits", version)
    second = gate_model.python_func(
        challenger=weak,
        items=dataset,
        blessing=blessing,
        gate_config=CONFIG,
        registry_uri=registry,
        model_name="digits",
    )
    report = json.load(open(blessing.path))
    assert second is False and report["has_champion"] and report["champion_uri"].endswith("/1")
