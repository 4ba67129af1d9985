"""The columnar merge's parts against brute force and against the prefilter's own table and decisions."""

import dataclasses
import os

import numpy as np
import pytest
from labelloop.components.core import image_checks, shards
from labelloop.components.core import manifest as mf
from labelloop.components.core import prefilter as pf
from labelloop.components.core import prefilter_merge as pm
from labelloop.components.core import prefilter_shards as ps
from labelloop.components.core.demo_data import make_demo_data

SETTINGS = pf.PrefilterSettings(limits=image_checks.DecodeLimits(min_width=16, min_height=16), workers=2)


def hex_strings(values: np.ndarray) -> np.ndarray:
    return np.array([f"{int(a):016x}{int(b):016x}" for a, b in values], "U32")


def test_hex_digests_are_equal_exactly_when_the_hashes_are():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**63, (300, 2), dtype=np.int64)
    values[100:150] = values[:50]  # exact copies
    values[150:200, 0] = values[:50, 0]  # same first half, other second half
    contents = hex_strings(values)
    digests = pm.hex_digests(contents, np.arange(300))
    same = (digests[:, None, :] == digests[None, :, :]).all(axis=2)
    assert np.array_equal(same, contents[:, None] == contents[None, :])
    assert same.sum() == 300 + 2 * 50


@pytest.mark.parametrize("bad", ["0" * 31 + "g", "0" * 31 + "A", "0" * 31 + ":"])
def test_hex_digests_name_the_line_of_a_malformed_hash(bad):
    with pytest.raises(ValueError, match="line 7: content hash"):
        pm.hex_digests(np.array(["0" * 32, bad], "U32"), np.array([3, 7]))


def test_exact_edges_connect_exactly_the_rows_with_equal_digests():
    rng = np.random.default_rng(1)
    digests = rng.integers(0, 2**64, (400, 2), dtype=np.uint64)
    digests[rng.integers(0, 400, 150)] = digests[rng.integers(0, 400, 150)]
    digests[rng.integers(0, 400, 40), 0] = digests[rng.integers(0, 400, 40), 0]  # first halves collide
    edges = pm.exact_edges(digests)
    from labelloop.components.core.near_duplicates import groups_from_pairs

    labels = groups_from_pairs(400, edges)
    same = (digests[:, None, :] == digests[None, :, :]).all(axis=2)
    assert np.array_equal(labels[:, None] == labels[None, :], same)
    assert len(edges) == 400 - len(np.unique(digests, axis=0))  # a chain: one edge per extra copy


@pytest.mark.parametrize("stored", [False, True])
def test_facts_file_reads_selected_rows_in_chunks(tmp_path, monkeypatch, stored):
    rng = np.random.default_rng(2)
    wide = rng.standard_normal((1000, 256)).astype(np.float16)
    ids = np.array([f"item-{i}" for i in range(1000)])
    path = tmp_path / "f.npz"
    with open(path, "wb") as handle:
        ps.write_columns(
            handle,
            {"wide/values": wide, "__ids__": ids, "__schema__": np.array('{"fields": {"wide": "array"}}')},
            stored={"wide/values"} if stored else set(),
        )
    monkeypatch.setattr(pm, "_CHUNK_BYTES", 5000)  # 9 thumbnail rows per read
    rows = np.sort(rng.choice(1000, 137, replace=False))
    with pm.FactsFile(str(path)) as facts:
        assert facts.rows == 1000
        assert np.array_equal(facts.read("wide/values", rows), wide[rows])
        assert np.array_equal(facts.read("wide/values"), wide)
        assert facts.read("__ids__", rows).tolist() == ids[rows].tolist()
        assert facts.read("wide/values", np.array([], np.int64)).shape == (0, 256)
    assert np.array_equal(np.load(path)["wide/values"], wide)  # still an ordinary .npz


@pytest.fixture(scope="module")
def shard_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("merge")
    data = make_demo_data(str(folder), limit=60, near_duplicates=10, blurred=5)
    names = sorted(os.listdir(data.images_dir))
    records = [mf.with_id({"imageGcsUri": os.path.join(data.images_dir, name)}, name) for name in names]
    records.append(mf.with_id({"imageGcsUri": str(folder / "missing.png")}, "missing"))
    items = str(folder / "items.jsonl")
    mf.write_jsonl(items, records)
    plan = shards.split_manifest(items, str(folder / "shards"), shards=3)
    paths, facts, ids = [], [], {}
    for shard in plan.shard_numbers:
        found = ps.inspect_shard(str(folder / "shards"), shard, SETTINGS)
        paths.append(str(folder / f"facts-{shard}.npz"))
        ps.write_shard_facts(paths[-1], found)
        facts += found.facts
        ids.update({f.line: i for f, i in zip(found.facts, found.ids)})
    return items, paths, facts, ids


def test_candidate_table_equals_the_prefilters_table(shard_files):
    _, paths, facts, ids = shard_files
    good = sorted((f for f in facts if f.reason_code is None), key=lambda f: f.line)
    expected = pf.image_table(good, ids)
    keys = pm.read_keys(paths)
    assert keys.lines.tolist() == [f.line for f in good]
    assert set(keys.failed) == {f.line for f in facts if f.reason_code} and keys.failed
    rows = np.arange(len(good))[::2]
    table = pm.candidate_table(keys, rows, paths)
    for field in dataclasses.fields(pf._ImageTable):
        mine, theirs = getattr(table, field.name), getattr(expected, field.name)
        if field.name == "ids":
            assert mine == [theirs[i] for i in rows]
        elif field.name == "contents":
            assert mine.astype("U32").tolist() == theirs[rows].tolist()
        else:
            assert np.array_equal(mine, theirs[rows]) and mine.dtype == theirs.dtype, field.name


@pytest.mark.parametrize("workers", [1, 2])
def test_candidate_pairs_and_decisions_equal_the_prefilters(shard_files, monkeypatch, workers):
    _, paths, facts, ids = shard_files
    good = sorted((f for f in facts if f.reason_code is None), key=lambda f: f.line)
    table = pf.image_table(good, ids)
    keys = pm.read_keys(paths)
    mine, theirs = pm.candidate_pairs(keys, SETTINGS, workers=1), pf.candidate_pairs(table, SETTINGS)
    as_set = lambda c: {(min(a, b), max(a, b), k) for (a, b), k in zip(c.pairs.tolist(), c.kinds.tolist())}  # noqa: E731
    components = lambda c: pf.near_duplicates.groups_from_pairs(len(good), c.pairs)  # noqa: E731
    assert len(as_set(theirs)) > 10
    # The same pairs, up to which chain links the members of an exact or same-hash group.
    assert np.array_equal(components(mine), components(theirs))
    assert {p for p in as_set(mine) if p[2] == pf._CROP} == {p for p in as_set(theirs) if p[2] == pf._CROP}
    monkeypatch.setattr(pm, "_DECIDE_ROWS", 3)
    labels = pf.duplicate_groups(table, SETTINGS)
    store = pm.DecisionStore()
    groups = pm.decide_members(table, labels, SETTINGS, store, workers=workers)  # batches in worker processes
    store.finish()
    expected, expected_groups = pf.decide(table, SETTINGS)
    assert groups == expected_groups >= 5
    decided = {}
    for line in sorted(expected):
        got = store.get(line)
        if got is not None:
            decided[line] = got
    store.close()
    lone = set(np.flatnonzero(np.bincount(labels)[labels] == 1).tolist())
    assert set(decided) == {int(table.lines[r]) for r in range(len(good)) if r not in lone}
    assert all(decided[line] == expected[line] for line in decided)


@pytest.mark.parametrize("score", [0.1, 0.86, 0.97])
@pytest.mark.parametrize("blurry", [True, False])
def test_lone_image_decision_is_what_decide_gives_a_component_of_one(score, blurry):
    settings = dataclasses.replace(SETTINGS, blurry=blurry)
    facts = pf.ImageFacts(5, content="a" * 32, phash=123, corner_hashes=(1, 2, 3, 4), width=20, height=20)
    table = pf.image_table([dataclasses.replace(facts, blur_score=score)], {5: "item-5"})
    (expected,) = pf.decide(table, settings)[0].values()
    assert pf.lone_image_decision("item-5", score, settings) == expected


def test_decision_store_serves_decisions_back_in_line_order():
    store = pm.DecisionStore()
    first = {9: pf.Decision(None, "", {"duplicates": ["b"], "quality": {"pixels": 4, "blur_score": 0.25}})}
    second = {3: pf.Decision("near_duplicate", "near x", {"hash_distance": None, "correlation": 0.9312})}
    store.add(first)
    store.add(second)
    store.finish()
    assert store.get(1) is None
    assert store.get(3) == second[3]
    assert store.get(5) is None
    assert store.get(9) == first[9]
    store.close()
