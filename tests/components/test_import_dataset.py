"""The import_dataset component: outputs and metadata via python_func, failure behaviour, a kfp.local run."""

import json

import orjson
import pytest
from kfp import dsl
from labelloop.components.core import import_data, manifest
from labelloop.components.import_dataset import import_dataset

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def artifacts(tmp_path) -> dict:
    return {
        "items": dsl.Dataset(name="items", uri=str(tmp_path / "out" / "items"), metadata={}),
        "rejects": dsl.Dataset(name="rejects", uri=str(tmp_path / "out" / "rejects"), metadata={}),
        "metrics": dsl.Metrics(name="metrics", uri=str(tmp_path / "out" / "metrics"), metadata={}),
        "report": dsl.HTML(name="report", uri=str(tmp_path / "out" / "report.html"), metadata={}),
    }


def image_manifest(tmp_path, bad_lines: int) -> str:
    (tmp_path / "img").mkdir()
    lines = []
    for i in range(4):
        (tmp_path / "img" / f"{i}.png").write_bytes(PNG + bytes([i]))
        lines.append(
            orjson.dumps(
                {
                    "imageGcsUri": str(tmp_path / "img" / f"{i}.png"),
                    "classificationAnnotation": {"displayName": "cat" if i % 2 else "dog"},
                }
            )
        )
    lines += [b"{oops"] * bad_lines
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def test_python_func_writes_items_rejects_metrics_and_report(tmp_path):
    outs = artifacts(tmp_path)
    import_dataset.python_func(
        source_uri=image_manifest(tmp_path, bad_lines=0),
        source_format="auto",
        data_type="image",
        allowed_uri_schemes=["gs", "file"],
        allowed_labels=["cat", "dog"],
        min_items_per_label=1,
        **outs,
    )
    items = list(manifest.read_jsonl(outs["items"].path))
    assert len(items) == 4 and all(len(manifest.item_id(i)) == 32 for i in items)
    assert outs["items"].metadata == {"format": "jsonl", "data_type": "image", "item_count": 4}
    assert outs["rejects"].metadata["item_count"] == 0 and open(outs["rejects"].path).read() == ""
    assert outs["metrics"].metadata["items_kept"] == 4 and outs["metrics"].metadata["label_cat"] == 2
    report = open(outs["report"].path).read()
    assert "<b>OK</b>" in report and "<td><code>dog</code></td><td>2</td>" in report


def test_python_func_fails_after_writing_rejects_and_report(tmp_path):
    outs = artifacts(tmp_path)
    with pytest.raises(import_data.ImportFailed, match="more than max_reject_rate") as failure:
        import_dataset.python_func(
            source_uri=image_manifest(tmp_path, bad_lines=2),
            source_format="jsonl",
            data_type="image",
            allowed_uri_schemes=["gs", "file"],
            **outs,
        )
    assert "invalid_json ×2" in str(failure.value)
    rejects = list(manifest.read_jsonl(outs["rejects"].path))
    assert [(r["line"], r["reason_code"]) for r in rejects] == [(5, "invalid_json"), (6, "invalid_json")]
    assert {r["step"] for r in rejects} == {"import_dataset"}  # the component names itself; core takes it
    assert "<b>FAILED</b>" in open(outs["report"].path).read()
    assert outs["metrics"].metadata["items_rejected"] == 2


@pytest.fixture
def local_runner(tmp_path):
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


def test_local_run_of_the_task(tmp_path, local_runner):
    task = import_dataset(
        source_uri=image_manifest(tmp_path, bad_lines=1),
        source_format="auto",
        data_type="image",
        allowed_uri_schemes=["gs", "file"],
        max_reject_rate=0.5,
        min_items_per_label=1,
    )
    assert (
        task.outputs["metrics"].metadata["items_kept"] == 4
        and task.outputs["metrics"].metadata["rejects_invalid_json"] == 1
    )
    assert len(open(task.outputs["items"].path).read().splitlines()) == 4
    assert task.outputs["items"].metadata["format"] == "jsonl"


@pytest.mark.gcs
def test_local_run_reads_gs_through_the_emulator(tmp_path, gcs_prefix, local_runner):
    import fsspec

    fs = fsspec.filesystem("gs")
    fs.pipe_file(f"{gcs_prefix}/imgs/cat/a.png", PNG)
    fs.pipe_file(f"{gcs_prefix}/imgs/dog/b.png", PNG + b"b")
    task = import_dataset(
        source_uri=f"{gcs_prefix}/imgs", source_format="image_folder", data_type="image", min_items_per_label=1
    )
    items = [json.loads(line) for line in open(task.outputs["items"].path)]
    assert sorted(i["imageGcsUri"] for i in items) == [f"{gcs_prefix}/imgs/cat/a.png", f"{gcs_prefix}/imgs/dog/b.png"]
    assert task.outputs["metrics"].metadata["label_cat"] == 1
