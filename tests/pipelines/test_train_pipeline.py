"""The train pipeline compiles for both targets and runs end to end locally."""

import pytest
from kfp import compiler
from labelloop.components.core import sample_data
from labelloop.components.core.registry import ModelRegistry
from labelloop.pipelines.train import build_pipeline


@pytest.mark.parametrize("target", ["local", "vertex"])
def test_compiles(tmp_path, target):
    path = tmp_path / f"train.{target}.yaml"
    compiler.Compiler().compile(build_pipeline(target), str(path))
    text = path.read_text()
    assert "gate-model" in text
    if target == "vertex":
        assert "AutoMLImageTrainingJobRunOp" in text or "automl-image-training-job" in text
        assert "automl-tabular-training-job" in text and "custom" in text.lower()


def test_local_run_registers_a_blessed_model(tmp_path):
    from kfp import local

    data = sample_data.load_digits_images()
    path = sample_data.write_image_manifest(
        data.images[:300],
        list(data.labels[:300]),
        str(tmp_path / "data"),
        ml_uses=sample_data.assign_ml_uses(300, seed=3),
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    registry = str(tmp_path / "registry")
    build_pipeline("local")(
        dataset_uri=path,
        task="image_classification",
        budget_seconds=3,
        registry_uri=registry,
        model_name="digits",
        dataset_version="dv1",
    )
    reg = ModelRegistry(registry)
    assert reg.alias("digits", "champion") == "1" and reg.alias("digits", "serving") == "1"  # deploy_model ran
    assert reg.get("digits", "1").lineage["dataset_version"] == "dv1"
