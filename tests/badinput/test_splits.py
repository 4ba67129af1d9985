"""Splits that cannot be made are clear errors, never a silent empty validation or test set; what
a split writes keeps every item and every field exactly."""

from __future__ import annotations

import json

import pytest
from labelloop.components.core import manifest
from labelloop.components.core.split import ItemKey, SplitError, SplitSpec, assign_splits, split_manifest


def keys(n, *, labels=("a", "b"), group=None) -> list[ItemKey]:
    return [ItemKey(f"i{k}", labels[k % len(labels)], group or f"g{k}") for k in range(n)]


@pytest.mark.parametrize(
    "items, spec, match",
    [
        (keys(50, group="one"), SplitSpec(method="random"), r"50 item\(s\) form 1 group\(s\)"),
        (keys(50, group="one"), SplitSpec(method="stratified"), r"50 item\(s\) form 1 group\(s\)"),
        (keys(50, group="one"), SplitSpec(method="kfold", fractions=(0.8, 0.1, 0.1)), r"form 1 group\(s\)"),
        (keys(2), SplitSpec(method="random"), r"too few for 3 non-empty splits"),
        (keys(3, labels=("a",)), SplitSpec(method="stratified"), "the test split would be empty"),
        (keys(3, labels=("a",)), SplitSpec(method="random"), "split would be empty"),
        (keys(4, labels=("a",)), SplitSpec(method="random", fractions=(0.5, 0.5, 0.0)), None),
        (keys(1), SplitSpec(method="random", fractions=(1.0, 0.0, 0.0)), None),
        (keys(22, labels=("a",) * 10 + ("rare",)), SplitSpec(method="stratified"), r"label 'rare' leads 2 group"),
        ([], SplitSpec(), "nothing to split"),
    ],
    ids=[
        "one-group-random",
        "one-group-stratified",
        "one-group-kfold",
        "two-groups-three-splits",
        "three-items-stratified",
        "three-items-random",
        "explicit-no-test",
        "explicit-training-only",
        "rare-label",
        "empty",
    ],
)
def test_an_impossible_split_is_an_error_and_an_explicit_choice_is_honoured(items, spec, match):
    if match is None:
        result = assign_splits(items, spec)
        assert len(result.assignment) == len(items)  # every item placed
        wanted = [s for s, f in zip(manifest.ML_USES, spec.fractions) if f > 0]
        assert all(result.summary()[s] > 0 for s in wanted)
    else:
        with pytest.raises(SplitError, match=match):
            assign_splits(items, spec)


def test_a_split_manifest_keeps_big_integers_and_unknown_fields_exactly(tmp_path):
    big = 123456789012345678901234567890
    records = [
        {
            "textContent": f"doc {n}",
            "dataItemResourceLabels": {manifest.ID_KEY: f"id{n}"},
            "extra": {"n": big + n, "neg": -big, "f": 0.1, "nested": [[big]]},
        }
        for n in range(20)
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = split_manifest(str(source), str(tmp_path / "out.jsonl"), SplitSpec(method="random"))
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == 20 == len(result.assignment)
    assert [r["extra"] for r in out] == [r["extra"] for r in records]
    assert "e+29" not in (tmp_path / "out.jsonl").read_text()


def test_a_split_manifest_with_a_bom_reads_its_first_line(tmp_path):
    lines = [
        json.dumps({"textContent": f"d{n}", "dataItemResourceLabels": {manifest.ID_KEY: f"id{n}"}}) for n in range(10)
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(manifest.BOM + "\n".join(lines).encode() + b"\n")
    result = split_manifest(str(source), str(tmp_path / "out.jsonl"), SplitSpec(method="random"))
    assert len(result.assignment) == 10


def write(tmp_path, records) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def item(n, **labels) -> dict:
    return {"textContent": f"d{n}", "dataItemResourceLabels": {manifest.ID_KEY: f"id{n}", **labels}}


@pytest.mark.parametrize(
    "records, spec, match",
    [
        ([item(n, **{manifest.ML_USE_KEY: "train"}) for n in range(3)], SplitSpec(method="ml_use"), "'train'"),
        (
            [item(0), {"textContent": "no id"}],
            SplitSpec(method="random", fractions=(1.0, 0.0, 0.0)),
            r"in\.jsonl:2: .*import_dataset",
        ),
        ([item(n) for n in range(10)], SplitSpec(method="ml_use"), "has no aiplatform.googleapis.com/ml_use"),
        ([item(n) for n in range(10)], SplitSpec(method="chronological", time_field="when"), "has no 'when'"),
        (
            [{**item(n), "when": "yesterday"} for n in range(10)],
            SplitSpec(method="chronological", time_field="when"),
            "neither a number nor",
        ),
    ],
    ids=["bad-ml-use-value", "no-id", "ml-use-missing", "no-time", "bad-time"],
)
def test_a_manifest_that_cannot_be_split_says_which_item_and_why(tmp_path, records, spec, match):
    with pytest.raises(SplitError, match=match):
        split_manifest(write(tmp_path, records), str(tmp_path / "out.jsonl"), spec)
    assert not (tmp_path / "out.jsonl").exists()  # nothing half-written
