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


def test_cross_validated_search_gives_every_labeled_item_a_held_out_prediction(tmp_path):
    path = digits_manifest(tmp_path / "data", n=200)
    runs = {}
    for folds in (0, 3):
        model = dsl.Model(name="model", uri=str(tmp_path / f"model{folds}"), metadata={})
        metrics = dsl.Metrics(name="metrics", uri=str(tmp_path / f"metrics{folds}"), metadata={})
        train_model.python_func(
            items=dsl.Dataset(name="d", uri=path, metadata={}),
            model=model,
            metrics=metrics,
            task="image_classification",
            budget_seconds=4,
            cv_folds=folds,
        )
        runs[folds] = (model_io.read_heldout(model.path), metrics.metadata)
    split, split_metrics = runs[0]
    folded, folded_metrics = runs[3]
    assert len(split.ids) == split_metrics["validation_items"] and split.fitted_on == "training split"
    labeled = folded_metrics["training_items"] + folded_metrics["validation_items"]
    assert len(folded.ids) == labeled > len(split.ids) and folded.fitted_on == "other folds of training+validation"


@pytest.mark.parametrize("folds", [1, -2])
def test_a_fold_count_that_cannot_cross_validate_is_refused(tmp_path, folds):
    with pytest.raises(ValueError, match="cv_folds must be 0"):
        train_model.python_func(
            items=dsl.Dataset(name="d", uri=digits_manifest(tmp_path / "data", n=60), metadata={}),
            model=dsl.Model(name="m", uri=str(tmp_path / "m"), metadata={}),
            metrics=dsl.Metrics(name="x", uri=str(tmp_path / "x"), metadata={}),
            task="image_classification",
            budget_seconds=2,
            cv_folds=folds,
        )
