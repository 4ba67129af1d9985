import pytest
from kfp import dsl
from labelloop.components.core import manifest as mf
from labelloop.components.split_dataset import split_dataset


def artifact(cls, tmp_path, name):
    return cls(name=name, uri=str(tmp_path / name), metadata={})


def run(tmp_path, **params):
    outputs = {
        name: artifact(cls, tmp_path, name)
        for name, cls in (("split", dsl.Dataset), ("metrics", dsl.Metrics), ("report", dsl.HTML))
    }
    split_dataset.python_func(items=artifact(dsl.Dataset, tmp_path, "items"), **outputs, **params)
    return outputs


def test_splits_a_manifest_and_reports_counts(tmp_path):
    records = [
        mf.with_label(mf.with_id({"textContent": f"d{i}"}, f"i{i}"), "xy"[i % 2], source="import") for i in range(20)
    ]
    mf.write_jsonl(str(tmp_path / "items"), records)
    out = run(tmp_path, method="random", seed=1)
    assert [mf.ml_use_of(r) for r in mf.read_jsonl(out["split"].path)].count("training") == 16
    assert out["metrics"].metadata["training_items"] == 16
    assert out["split"].metadata["counts_by_split"] == {"training": 16, "validation": 2, "test": 2}
    assert "<td>x</td><td>8</td><td>1</td><td>1</td>" in open(out["report"].path).read()


def test_splits_a_csv_table(tmp_path):
    (tmp_path / "items").write_text("f,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)))
    out = run(tmp_path, target_column="label")
    assert open(out["split"].path).readline().strip() == "f,label,ml_use"


def test_bad_fractions_fail_before_writing(tmp_path):
    mf.write_jsonl(str(tmp_path / "items"), [mf.with_id({"textContent": "a"}, "a")])
    with pytest.raises(ValueError, match="sum to 1"):
        run(tmp_path, training_fraction=0.9)
    assert not (tmp_path / "split").exists()
