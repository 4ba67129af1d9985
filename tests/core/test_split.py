import pytest
from labelloop.components.core import manifest as mf
from labelloop.components.core.split import (
    ItemKey,
    SplitError,
    SplitSpec,
    assign_splits,
    key_of,
    split_manifest,
)


def keys(n_per_label, labels=("a", "b"), group_size=1):
    out = []
    for label in labels:
        for i in range(n_per_label):
            out.append(ItemKey(id=f"{label}{i}", label=label, group=f"{label}{i // group_size}"))
    return out


def test_default_is_stratified_80_10_10_per_label():
    result = assign_splits(keys(50), SplitSpec())
    for label in ("a", "b"):
        assert [result.counts[s][label] for s in ("training", "validation", "test")] == [40, 5, 5]


def test_random_split_respects_fractions_and_seed():
    spec = SplitSpec(method="random", fractions=(0.6, 0.2, 0.2), seed=3)
    first = assign_splits(keys(50), spec)
    assert first.summary() == {"training": 60, "validation": 20, "test": 20}
    assert assign_splits(keys(50), spec).assignment == first.assignment
    assert assign_splits(keys(50), SplitSpec(method="random", seed=4)).assignment != first.assignment


def test_duplicate_groups_never_straddle_splits():
    items = keys(60, group_size=4)
    result = assign_splits(items, SplitSpec(method="random", seed=1))
    by_group = {}
    for key in items:
        by_group.setdefault(key.group, set()).add(result.assignment[key.id])
    assert all(len(splits) == 1 for splits in by_group.values())
    assert result.groups == 30


def test_ml_use_method_keeps_values_and_refuses_missing_or_straddling():
    items = [ItemKey("x", "a", "g1", ml_use="test"), ItemKey("y", "a", "g2", ml_use="training")]
    assert assign_splits(items, SplitSpec(method="ml_use")).assignment == {"x": "test", "y": "training"}
    with pytest.raises(SplitError, match="item y has no"):
        assign_splits([items[0], ItemKey("y", "a", "g2")], SplitSpec(method="ml_use"))
    with pytest.raises(SplitError, match="straddles"):
        assign_splits([items[0], ItemKey("y", "a", "g1", ml_use="training")], SplitSpec(method="ml_use"))


def test_chronological_puts_newest_in_test():
    items = [ItemKey(f"i{t}", "a", f"i{t}", time=float(t)) for t in range(10)]
    result = assign_splits(items, SplitSpec(method="chronological", time_field="t"))
    assert [result.assignment[f"i{t}"] for t in range(10)] == ["training"] * 8 + ["validation", "test"]


def test_kfold_rotates_validation_and_keeps_test_fixed():
    items = keys(50)
    folds = [assign_splits(items, SplitSpec(method="kfold", folds=5, fold=f, seed=2)) for f in range(5)]
    tests = [{i for i, s in r.assignment.items() if s == "test"} for r in folds]
    assert all(t == tests[0] for t in tests) and len(tests[0]) == 10
    validations = [{i for i, s in r.assignment.items() if s == "validation"} for r in folds]
    assert sum(len(v) for v in validations) == 90
    assert set().union(*validations) == {k.id for k in items} - tests[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fractions": (0.8, 0.1, 0.2)}, "sum to 1.1"),
        ({"fractions": (1.2, -0.1, -0.1)}, "non-negative"),
        ({"method": "alphabetical"}, "unknown split method"),
        ({"method": "chronological"}, "needs time_field"),
        ({"method": "kfold", "folds": 3, "fold": 3}, "0 <= fold < folds"),
    ],
)
def test_impossible_specs_are_refused(kwargs, message):
    with pytest.raises(SplitError, match=message):
        SplitSpec(**kwargs)


def test_class_too_small_to_stratify_names_the_class():
    items = keys(20) + [ItemKey("rare0", "rare", "rare0"), ItemKey("rare1", "rare", "rare1")]
    with pytest.raises(SplitError, match=r"label 'rare' leads 2 group\(s\) \(2 item"):
        assign_splits(items, SplitSpec())


def test_empty_manifest_is_an_error():
    with pytest.raises(SplitError, match="nothing to split"):
        assign_splits([], SplitSpec())


def test_split_manifest_streams_records_through_untouched(tmp_path):
    records = []
    for i in range(40):
        record = mf.with_id({"textContent": f"doc {i}", "custom": {"keep": i}}, f"id{i:02d}")
        records.append(mf.with_label(record, "ab"[i % 2], source="import"))
    src, dst = str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl")
    mf.write_jsonl(src, records)
    result = split_manifest(src, dst, SplitSpec(seed=5))
    out = list(mf.read_jsonl(dst))
    assert [mf.item_id(r) for r in out] == [mf.item_id(r) for r in records]
    assert [r["custom"] for r in out] == [r["custom"] for r in records]
    assert {mf.ml_use_of(r) for r in out} == {"training", "validation", "test"}
    assert result.summary() == {"training": 32, "validation": 4, "test": 4}


def test_key_of_reads_group_and_time():
    record = mf.with_extra(
        mf.with_id({"imageGcsUri": "x.png", "ts": "2024-01-02T00:00:00Z"}, "abc"), duplicate_group="g7"
    )
    key = key_of(record, "ts")
    assert (key.group, key.label) == ("g7", "(unlabeled)")
    assert key.time == pytest.approx(1704153600.0)
    with pytest.raises(SplitError, match="neither a number"):
        key_of({**record, "ts": "yesterday"}, "ts")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_split_table_adds_ml_use_column_stratified_by_target(tmp_path, suffix, monkeypatch):
    import pandas as pd
    from labelloop.components.core import split as split_module

    monkeypatch.setattr(split_module, "TABLE_CHUNK_ROWS", 7)  # several chunks, to exercise streaming
    frame = pd.DataFrame({"x": range(60), "target": ["a", "b", "c"] * 20})
    src, dst = tmp_path / f"t.{suffix}", tmp_path / f"out.{suffix}"
    frame.to_csv(src, index=False) if suffix == "csv" else frame.to_parquet(src)
    assert split_module.file_format(str(src)) == suffix
    result = split_module.split_table(str(src), str(dst), SplitSpec(seed=2), target_column="target")
    out = pd.read_csv(dst) if suffix == "csv" else pd.read_parquet(dst)
    assert list(out["x"]) == list(range(60))
    assert out.groupby("ml_use")["target"].value_counts().unstack().loc["test"].tolist() == [2, 2, 2]
    assert result.summary() == {"training": 48, "validation": 6, "test": 6}


def test_split_table_names_a_missing_column(tmp_path):
    import pandas as pd
    from labelloop.components.core.split import split_table

    pd.DataFrame({"x": [1, 2]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(SplitError, match="no column 'label'"):
        split_table(str(tmp_path / "t.csv"), str(tmp_path / "o.csv"), SplitSpec(), target_column="label")
