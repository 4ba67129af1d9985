"""The sharded prefilter writes exactly what the unsharded one writes, on real images with copies across shards."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest
from labelloop.components.core import image_checks, shards
from labelloop.components.core import manifest as mf
from labelloop.components.core import prefilter as pf
from labelloop.components.core import prefilter_shards as ps
from labelloop.components.core.demo_data import make_demo_data

SETTINGS = pf.PrefilterSettings(limits=image_checks.DecodeLimits(min_width=16, min_height=16), workers=2)
STEP = "prefilter_images"


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """Digits with planted resized, re-encoded, brightened, mirrored and blurred copies and broken files,
    plus byte-identical copies under their own ids, a text item, an item without id and a blank URI."""
    folder = tmp_path_factory.mktemp("data")
    data = make_demo_data(str(folder), limit=120, near_duplicates=16, blurred=8)
    names = sorted(os.listdir(data.images_dir))
    for n, name in enumerate(names[:60:6]):  # exact copies, ids of their own: other shards
        shutil.copy(os.path.join(data.images_dir, name), os.path.join(data.images_dir, f"exact-{n:02d}.png"))
    names = sorted(os.listdir(data.images_dir))
    records = [mf.with_id({"imageGcsUri": os.path.join(data.images_dir, name)}, name) for name in names]
    records.insert(7, mf.with_id({"textContent": "a caption"}, "words"))
    records.insert(30, {"imageGcsUri": os.path.join(data.images_dir, names[0])})  # no id
    records.insert(50, mf.with_id({"imageGcsUri": ""}, "blank"))
    records.insert(70, mf.with_id({"imageGcsUri": str(folder / "missing.png")}, "missing"))
    path = folder / "items.jsonl"
    mf.write_jsonl(str(path), records)
    return str(path)


def run_sharded(items, folder, count, settings=SETTINGS):
    plan = shards.split_manifest(items, str(folder / "shards"), shards=count)
    paths = []
    for shard in reversed(plan.shard_numbers):  # the merge takes the facts in any order
        path = str(folder / f"facts-{shard}.npz")
        ps.write_shard_facts(path, ps.inspect_shard(str(folder / "shards"), shard, settings))
        paths.append(path)
    kept, rejects = str(folder / "kept"), str(folder / "rejects")
    result = ps.merge_shards(items, paths, kept, rejects, settings, step=STEP)
    return result, kept, rejects


@pytest.mark.parametrize("count", [1, 5])
def test_sharded_output_is_byte_identical_to_unsharded(items, tmp_path, count):
    expected = pf.prefilter_manifest(items, str(tmp_path / "kept"), str(tmp_path / "rejects"), SETTINGS, step=STEP)
    result, kept, rejects = run_sharded(items, tmp_path / "sharded", count)
    assert open(kept, "rb").read() == open(tmp_path / "kept", "rb").read()
    assert open(rejects, "rb").read() == open(tmp_path / "rejects", "rb").read()
    assert result == expected
    # The set exercises every kind of outcome, so identity is not trivially true.
    codes = {r["reason_code"] for r in mf.read_jsonl(rejects)}
    assert {"exact_duplicate", "near_duplicate", "blurry", "missing_id", "invalid_uri", "unreadable"} <= codes
    assert {"corrupt", "empty_file"} & codes and expected.duplicate_groups >= 15


def test_duplicates_and_their_kept_copy_cross_shards(items, tmp_path):
    _, kept, rejects = run_sharded(items, tmp_path, 5)
    removed = [r for r in mf.read_jsonl(rejects) if r["reason_code"] in ("exact_duplicate", "near_duplicate")]
    crossing = [
        r
        for r in removed
        if shards.shard_of(r["id"], 5) != shards.shard_of(r["record"]["labelloop"]["duplicate_group"], 5)
    ]
    assert len(crossing) >= len(removed) // 2 >= 5  # most copies were found across shards
    kept_ids = {mf.item_id(r) for r in mf.read_jsonl(kept)}
    assert all(r["record"]["labelloop"]["duplicate_group"] in kept_ids for r in removed)


def test_identical_with_checks_off_and_a_tighter_threshold(items, tmp_path):
    settings = dataclasses.replace(SETTINGS, hamming_threshold=4, blurry=False, cropped_copies=False)
    pf.prefilter_manifest(items, str(tmp_path / "kept"), str(tmp_path / "rejects"), settings, step=STEP)
    _, kept, rejects = run_sharded(items, tmp_path / "sharded", 3, settings)
    assert open(kept, "rb").read() == open(tmp_path / "kept", "rb").read()
    assert open(rejects, "rb").read() == open(tmp_path / "rejects", "rb").read()


def test_facts_round_trip_every_field(items, tmp_path):
    shards.split_manifest(items, str(tmp_path / "shards"), shards=2)
    original = ps.inspect_shard(str(tmp_path / "shards"), 0, SETTINGS)
    ps.write_shard_facts(str(tmp_path / "facts.npz"), original)
    back = ps.read_shard_facts(str(tmp_path / "facts.npz"))
    assert (back.shard, back.shards, back.ids) == (0, 2, original.ids)
    for before, after in zip(original.facts, back.facts, strict=True):
        for field in dataclasses.fields(pf.ImageFacts):
            a, b = getattr(before, field.name), getattr(after, field.name)
            if isinstance(a, np.ndarray):
                assert np.array_equal(a, b) and a.dtype == b.dtype
            else:
                assert a == b and type(a) is type(b), field.name
    assert any(f.reason_code for f in back.facts) and any(f.phash and f.phash >= 2**63 for f in back.facts)


def test_generic_columns_carry_a_field_the_facts_do_not_have_yet():
    values = [(1, 2), None, (3,)]
    columns = ps._encode(values, ps._kind([v for v in values if v is not None]))
    assert ps._decode(columns, "int_tuple", 3) == [(1, 2), None, (3,)]
    arrays = [np.arange(4, dtype=np.float16), None]
    decoded = ps._decode(ps._encode(arrays, "array"), "array", 2)
    assert np.array_equal(decoded[0], arrays[0]) and decoded[1] is None
    with pytest.raises(TypeError, match="cannot store"):
        ps._kind([{"a": 1}])


def test_merge_refuses_missing_or_repeated_shards(items, tmp_path):
    shards.split_manifest(items, str(tmp_path / "shards"), shards=3)
    paths = []
    for shard in (0, 1):
        paths.append(str(tmp_path / f"f{shard}.npz"))
        ps.write_shard_facts(paths[-1], ps.inspect_shard(str(tmp_path / "shards"), shard, SETTINGS))
    with pytest.raises(ValueError, match=r"missing for shards \[2\]"):
        ps.merge_shards(items, paths, str(tmp_path / "k"), str(tmp_path / "r"), SETTINGS, step=STEP)
    with pytest.raises(ValueError, match="appears twice"):
        ps.merge_shards(items, [paths[0], *paths], str(tmp_path / "k"), str(tmp_path / "r"), SETTINGS, step=STEP)


def test_split_is_deterministic_by_id_and_keeps_every_item(items, tmp_path):
    first = shards.split_manifest(items, str(tmp_path / "a"), shards=4)
    second = shards.split_manifest(items, str(tmp_path / "b"), shard_size=50)
    total = sum(1 for _ in mf.read_lines(items))
    assert first.items == second.items == total and len(second.shard_numbers) == -(-total // 50)
    for shard in first.shard_numbers:
        lines = shards.read_shard(str(tmp_path / "a"), shard)
        assert all(
            shards.shard_of(mf.item_id(line.record), 4) == shard
            for line in lines
            if "dataItemResourceLabels" in line.record
        )
    again = shards.split_manifest(items, str(tmp_path / "c"), shards=4)
    assert again == first
    for shard in first.shard_numbers:
        assert (
            open(shards.shard_paths(str(tmp_path / "a"), shard)[0], "rb").read()
            == open(shards.shard_paths(str(tmp_path / "c"), shard)[0], "rb").read()
        )
    index = json.load(open(tmp_path / "a" / shards.INDEX_FILE))
    assert index["counts"] == first.counts and sum(index["counts"]) == total
    with pytest.raises(ValueError, match="exactly one"):
        shards.split_manifest(items, str(tmp_path / "d"), shards=2, shard_size=10)


def test_identical_when_every_merge_phase_works_in_small_pieces(items, tmp_path, monkeypatch):
    """Rows read a few at a time, pairs confirmed three at a time, components decided in batches of
    about four rows: the same output as the unsharded prefilter."""
    from labelloop.components.core import prefilter_merge as pm

    monkeypatch.setattr(pm, "_CHUNK_BYTES", 700)  # 1 thumbnail row, a few ids, ~20 hashes per read
    monkeypatch.setattr(pm, "_CONFIRM_PAIRS", 3)
    monkeypatch.setattr(pm, "_DECIDE_ROWS", 4)
    pf.prefilter_manifest(items, str(tmp_path / "kept"), str(tmp_path / "rejects"), SETTINGS, step=STEP)
    phases = []
    plan = shards.split_manifest(items, str(tmp_path / "shards"), shards=4)
    paths = [str(tmp_path / f"facts-{shard}.npz") for shard in plan.shard_numbers]
    for shard, path in zip(plan.shard_numbers, paths):
        ps.write_shard_facts(path, ps.inspect_shard(str(tmp_path / "shards"), shard, SETTINGS))
    kept, rejects = str(tmp_path / "k"), str(tmp_path / "r")
    ps.merge_shards(items, paths, kept, rejects, SETTINGS, step=STEP, workers=1, phase_done=phases.append)
    assert open(kept, "rb").read() == open(tmp_path / "kept", "rb").read()
    assert open(rejects, "rb").read() == open(tmp_path / "rejects", "rb").read()
    assert len(phases) == 6 and phases[-1].startswith("stream")
