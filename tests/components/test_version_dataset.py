"""version_dataset component: direct calls and a kfp.local pipeline run."""

import json
from pathlib import Path

import pytest
from kfp import dsl
from labelloop.components.core import versions
from labelloop.components.core.manifest import ManifestError, content_id, with_id, with_label, with_ml_use, write_jsonl
from labelloop.components.version_dataset import version_dataset


def items(*texts: str) -> list:
    return [
        with_ml_use(with_label(with_id({"textContent": t}, content_id(t)), "pos", source="human"), "training")
        for t in texts
    ]


def dataset_artifact(tmp_path: Path, name: str, records: list[dict] | None = None) -> dsl.Dataset:
    artifact = dsl.Dataset(name=name, uri=str(tmp_path / name), metadata={})
    if records is not None:
        write_jsonl(artifact.path, records)
    return artifact


def test_creates_a_version_and_outputs_the_versioned_manifest(tmp_path):
    store = str(tmp_path / "store")
    manifest = dataset_artifact(tmp_path, "in", items("a", "b", "c"))
    versioned = dataset_artifact(tmp_path, "out")

    out = version_dataset.python_func(
        items=manifest,
        store_uri=store,
        dataset_name="reviews",
        description="first",
        versioned=versioned,
        pipeline_run="run-7",
        producing_step="split_dataset",
    )

    assert out.version_id == content_id(Path(manifest.path).read_bytes())
    assert (out.parent_version, out.item_count) == ("", 3)
    assert Path(versioned.path).read_bytes() == Path(manifest.path).read_bytes()
    assert versioned.metadata["version_id"] == out.version_id
    assert versioned.metadata["counts_by_split"] == {"training": 3}
    assert versioned.metadata["created"] is True
    stored = versions.get_version(store, "reviews")
    assert (stored.pipeline_run, stored.producing_step, stored.description) == ("run-7", "split_dataset", "first")


def test_second_version_names_its_parent_and_rerun_is_idempotent(tmp_path):
    store = str(tmp_path / "store")
    first = version_dataset.python_func(
        items=dataset_artifact(tmp_path, "in1", items("a")),
        store_uri=store,
        dataset_name="reviews",
        description="",
        versioned=dataset_artifact(tmp_path, "o1"),
    )
    second = version_dataset.python_func(
        items=dataset_artifact(tmp_path, "in2", items("a", "b")),
        store_uri=store,
        dataset_name="reviews",
        description="",
        versioned=dataset_artifact(tmp_path, "o2"),
    )
    again_out = dataset_artifact(tmp_path, "o3")
    again = version_dataset.python_func(
        items=dataset_artifact(tmp_path, "in3", items("a", "b")),
        store_uri=store,
        dataset_name="reviews",
        description="",
        versioned=again_out,
    )

    assert second.parent_version == first.version_id
    assert again == second
    assert again_out.metadata["created"] is False
    assert len(versions.list_versions(store, "reviews")) == 2


def test_bad_manifest_fails_with_the_line_and_writes_no_output(tmp_path):
    manifest = dataset_artifact(tmp_path, "in")
    Path(manifest.path).write_text(json.dumps(items("a")[0]) + "\nnot json\n")
    versioned = dataset_artifact(tmp_path, "out")
    with pytest.raises(ManifestError, match=r"in:2: not valid JSON"):
        version_dataset.python_func(
            items=manifest,
            store_uri=str(tmp_path / "s"),
            dataset_name="reviews",
            description="",
            versioned=versioned,
        )
    assert not Path(versioned.path).exists()
    assert not (tmp_path / "s").exists()


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def _write_manifest(out: dsl.Output[dsl.Dataset]):
    import json

    rows = [{"textContent": t, "dataItemResourceLabels": {"labelloop_id": f"{i:032x}"}} for i, t in enumerate("xyz")]
    with open(out.path, "w") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def test_runs_in_a_local_pipeline_and_records_the_run_name(tmp_path):
    from kfp import local

    store = str(tmp_path / "store")

    @dsl.pipeline(name="version-demo")
    def demo(store_uri: str):
        made = _write_manifest()
        version_dataset(
            items=made.outputs["out"],
            store_uri=store_uri,
            dataset_name="demo",
            description="from a pipeline",
            pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            producing_step="write_manifest",
        )

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    demo(store_uri=store)

    version = versions.get_version(store, "demo")
    assert version.item_count == 3
    assert version.pipeline_run.startswith("version-demo")
