"""The prefilter-sharded pipeline runs with kfp.local (ParallelFor fan-out, Collected fan-in) and
writes what the unsharded prefilter writes; it compiles with per-task resources and a parallelism cap."""

import os

import pytest
import yaml
from kfp import compiler, local
from labelloop.components.core import image_checks
from labelloop.components.core import manifest as mf
from labelloop.components.core import prefilter as pf
from labelloop.components.core.demo_data import make_demo_data
from labelloop.pipelines.prefilter_sharded import build_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture
def trained_digits(tmp_path):
    """An unlabeled pool of digits and a quick model trained on other digits (path, model path, model)."""
    from labelloop.components.core import model_io, sample_data, train

    data = sample_data.load_digits_images()
    labeled = sample_data.write_image_manifest(
        data.images[:200], list(data.labels[:200]), str(tmp_path / "labeled"), ml_uses=sample_data.assign_ml_uses(200)
    )
    model = train.fit_quick(train.examples_from_manifest(labeled, "image_classification"))
    model_io.save_model(str(tmp_path / "model"), model, dataset_version="dv1")
    unlabeled = sample_data.write_image_manifest(data.images[200:500], [None] * 300, str(tmp_path / "pool"))
    return unlabeled, str(tmp_path / "model"), model


def test_sharded_pipeline_matches_the_unsharded_prefilter(tmp_path):
    data = make_demo_data(str(tmp_path / "data"), limit=60, near_duplicates=8, blurred=4)
    names = sorted(os.listdir(data.images_dir))
    records = [mf.with_id({"imageGcsUri": os.path.join(data.images_dir, n)}, n) for n in names]
    items = str(tmp_path / "items.jsonl")
    mf.write_jsonl(items, records)
    settings = pf.PrefilterSettings(limits=image_checks.DecodeLimits(min_width=16, min_height=16), hamming_threshold=6)
    expected = pf.prefilter_manifest(items, str(tmp_path / "kept"), str(tmp_path / "rejects"), settings, step="x")

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    build_pipeline("local", parallelism=2)(items_uri=items, shard_count=3, min_side=16, hamming_threshold=6)

    root = tmp_path / "root"
    assert len(list(root.rglob("prefilter-shard*/facts"))) == 3  # one task per shard
    kept = next(root.rglob("merge-prefilter-shards/kept"))
    assert open(kept, "rb").read() == open(tmp_path / "kept", "rb").read()
    rejects = next(root.rglob("merge-prefilter-shards/rejects"))

    def without_step(path):
        return [{**r, "step": None} for r in mf.read_jsonl(str(path))]

    assert without_step(rejects) == without_step(tmp_path / "rejects")
    assert expected.duplicate_groups >= 6 and expected.rejected.get("near_duplicate", 0) >= 6


def test_vertex_target_compiles_with_task_resources_and_parallelism(tmp_path):
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(build_pipeline("vertex", parallelism=5), str(path))
    spec = yaml.safe_load(path.read_text())
    dags = [spec["root"], *spec["components"].values()]
    loops = [t for d in dags for t in d.get("dag", {}).get("tasks", {}).values() if "iteratorPolicy" in t]
    assert [loop["iteratorPolicy"]["parallelismLimit"] for loop in loops] == [5]
    assert loops[0]["parameterIterator"]["items"]["inputParameter"]
    executors = spec["deploymentSpec"]["executors"]
    shard = executors["exec-prefilter-shard"]["container"]["resources"]
    assert "shard_cpu" in shard["resourceCpuLimit"] and "shard_memory" in shard["resourceMemoryLimit"]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) >= {
        "shard_count",
        "shard_size",
        "shard_cpu",
        "merge_memory",
    }


def test_sharded_selection_pipeline_matches_select_items(tmp_path, trained_digits):
    pool_path, model_path, loaded = trained_digits
    from labelloop.components.core import sampling, train
    from labelloop.pipelines.select_sharded import build_pipeline as select_pipeline

    work = tmp_path / "pred"
    work.mkdir()
    with mf.RejectsWriter(str(work / "rejects"), "x") as rejects:
        train.predict_manifest(
            loaded, pool_path, str(work / "p.jsonl"), str(work / "probabilities.npy"), str(work / "ids.txt"), rejects
        )
    sampling.select_from_manifest(
        pool_path,
        str(tmp_path / "selected"),
        str(tmp_path / "remaining"),
        strategy="margin",
        k=30,
        seed=3,
        predictions=sampling.read_predictions(str(work)),
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    select_pipeline("local", parallelism=2)(
        pool_uri=pool_path, model_uri=model_path, strategy="margin", batch_size=30, seed=3, shard_count=3
    )
    root = tmp_path / "root"
    assert len(list(root.rglob("select-shard-candidates*/candidates"))) == 3
    for name in ("selected", "remaining"):
        produced = next(root.rglob(f"merge-selection/{name}"))
        assert open(produced, "rb").read() == open(tmp_path / name, "rb").read()


def test_curate_sharded_gives_the_same_split_as_curate_whole(tmp_path):
    from labelloop.components.core.demo_data import make_demo_data as demo
    from labelloop.pipelines.curate import build_pipeline as curate

    data = demo(str(tmp_path / "data"), limit=80, near_duplicates=8, blurred=4)
    splits = {}
    for sharded in (False, True):
        root = tmp_path / f"root-{sharded}"
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
        curate("local", parallelism=2)(source_uri=data.images_dir, hamming_threshold=6, sharded=sharded, shard_count=3)
        (split,) = list(root.rglob("split-dataset*/split"))  # only the branch asked for ran
        splits[sharded] = open(split, "rb").read()
        assert bool(list(root.rglob("merge-prefilter-shards/kept"))) == sharded
    assert splits[True] == splits[False] and splits[True].count(b"\n") >= 80


@pytest.mark.parametrize("name", ["active_learning", "retrain"])
def test_active_learning_and_retrain_build_with_a_sharded_prefilter(tmp_path, name):
    import importlib

    from labelloop.pipelines import steps

    module = importlib.import_module(f"labelloop.pipelines.{name}")
    for target in ("local", "vertex"):
        sharding = steps.ShardSettings(target=target, shard_count=50, cpu="8", memory="32G", parallelism=7)
        path = tmp_path / f"{name}-{target}.yaml"
        compiler.Compiler().compile(module.build_pipeline(target, sharding=sharding), str(path))
        spec = yaml.safe_load(path.read_text())
        dags = [spec["root"], *spec["components"].values()]
        loops = [t for d in dags for t in d.get("dag", {}).get("tasks", {}).values() if "iteratorPolicy" in t]
        assert [loop["iteratorPolicy"]["parallelismLimit"] for loop in loops] == [7]
        assert "exec-merge-prefilter-shards" in spec["deploymentSpec"]["executors"]
        assert "exec-prefilter-images" not in spec["deploymentSpec"]["executors"]
        resources = spec["deploymentSpec"]["executors"]["exec-prefilter-shard"]["container"].get("resources", {})
        assert (resources.get("resourceCpuLimit") == "8") == (target == "vertex")
