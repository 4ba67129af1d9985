"""train_model component: trains from a manifest, writes a safe model folder and metrics."""

import json
import os

import pytest
from kfp import dsl
from labelloop.components.core import model_io, sample_data
from labelloop.components.train_model import train_model


def digits_manifest(folder, n=300):
    data = sample_data.load_digits_images()
    return sample_data.write_image_manifest(
        data.images[:n], list(data.labels[:n]), str(folder), ml_uses=sample_data.assign_ml_uses(n, seed=2)
    )


def test_train_model_writes_model_and_accounting(tmp_path):
    path = digits_manifest(tmp_path / "data")
    model = dsl.Model(name="model", uri=str(tmp_path / "model"), metadata={})
    metrics = dsl.Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={})
    train_model.python_func(
        items=dsl.Dataset(name="d", uri=path, metadata={}),
        model=model,
        metrics=metrics,
        task="image_classification",
        budget_seconds=4,
        dataset_version="dv1",
    )
    meta = json.loads(open(os.path.join(model.path, "metadata.json")).read())
    assert meta["dataset_version"] == "dv1" and meta["accounting"]["input_items"] == 300
    assert (
        metrics.metadata["training_items"] + metrics.metadata["validation_items"] + metrics.metadata["test_items"]
        == 300
    )
    assert len(model_io.load_model(model.path).model.labels) == 10
    warm = dsl.Model(name="warm", uri=str(tmp_path / "warm"), metadata={})
    train_model.python_func(
        items=dsl.Dataset(name="d", uri=path, metadata={}),
        model=warm,
        metrics=dsl.Metrics(name="m", uri=str(tmp_path / "m2"), metadata={}),
        task="image_classification",
        budget_seconds=3,
        base_model=model,
    )
    assert json.loads(open(os.path.join(warm.path, "metadata.json")).read())["warm_started_from"] == model.uri


def test_tabular_without_target_column_is_refused(tmp_path):
    wine = sample_data.load_wine()
    csv = sample_data.write_tabular_csv(wine.frame, str(tmp_path / "w.csv"), ml_uses=sample_data.assign_ml_uses(178))
    with pytest.raises(ValueError, match="needs target_column"):
        train_model.python_func(
            items=dsl.Dataset(name="d", uri=csv, metadata={}),
            model=dsl.Model(name="m", uri=str(tmp_path / "m"), metadata={}),
            metrics=dsl.Metrics(name="x", uri=str(tmp_path / "x"), metadata={}),
            task="tabular_classification",
            budget_seconds=2,
        )
