import pytest
from labelloop.components.core import manifest as mf
from labelloop.components.core.merge import MergeError, merge_manifests


def write(path, records):
    mf.write_jsonl(str(path), records)
    return str(path)


def items(n):
    return [mf.with_id({"textContent": f"t{i}"}, f"id{i}") for i in range(n)]


def test_updates_replace_by_id_and_keep_order(tmp_path):
    base = write(tmp_path / "base.jsonl", items(5))
    update = write(tmp_path / "u.jsonl", [mf.with_label(items(5)[3], "x", source="human")])
    later = write(tmp_path / "v.jsonl", [mf.with_label(items(5)[3], "y", source="human")])
    result = merge_manifests(base, [update, later], str(tmp_path / "out.jsonl"))
    out = list(mf.read_jsonl(str(tmp_path / "out.jsonl")))
    assert [mf.item_id(r) for r in out] == [f"id{i}" for i in range(5)]
    assert [mf.label_of(r) for r in out] == [None, None, None, "y", None]
    assert (result.kept, result.replaced, result.added) == (4, 1, 0)


def test_unknown_update_is_refused_without_a_half_written_output(tmp_path):
    base = write(tmp_path / "base.jsonl", items(2))
    stray = write(tmp_path / "u.jsonl", [mf.with_id({"textContent": "new"}, "other")])
    with pytest.raises(MergeError, match="first: other"):
        merge_manifests(base, [stray], str(tmp_path / "out.jsonl"))
    assert not list(tmp_path.glob("out.jsonl*"))
    result = merge_manifests(base, [stray], str(tmp_path / "out.jsonl"), allow_new=True)
    assert (result.total, result.added) == (3, 1)


def labeled(record, label, source="import", **facts):
    return mf.with_extra(mf.with_label(record, label, source=source, confidence=facts.pop("confidence", None)), **facts)


def test_a_verified_label_replaces_the_old_one_which_goes_to_the_history(tmp_path):
    base_records = [labeled(r, "cat") for r in items(3)]
    base = write(tmp_path / "base.jsonl", base_records)
    verified = [
        mf.with_extra(mf.with_label(mf.without_label(base_records[0]), "dog", source="human", confidence=0.9), x=1),
        mf.with_label(mf.without_label(base_records[1]), "cat", source="human", confidence=1.0),
    ]
    result = merge_manifests(base, [write(tmp_path / "u.jsonl", verified)], str(tmp_path / "out.jsonl"))
    out = list(mf.read_jsonl(str(tmp_path / "out.jsonl")))
    assert [mf.label_of(r) for r in out] == ["dog", "cat", "cat"]
    assert [mf.label_source_of(r) for r in out] == ["human", "human", "import"]
    assert mf.extra_of(out[0])["label_history"] == [{"label": "cat", "source": "import"}]
    assert mf.extra_of(out[0])["x"] == 1 and mf.extra_of(out[0])["label_confidence"] == 0.9
    assert mf.extra_of(out[1])["label_history"] == [{"label": "cat", "source": "import"}]  # confirmed: still recorded
    assert "label_history" not in mf.extra_of(out[2])
    assert (result.kept, result.replaced, result.relabeled, result.labels_kept) == (1, 2, 1, 0)


def test_an_update_without_a_label_keeps_the_items_label_and_adds_its_facts(tmp_path):
    base_records = [labeled(r, "cat", confidence=0.7) for r in items(2)]
    base = write(tmp_path / "base.jsonl", base_records)
    unanswered = mf.with_extra(mf.without_label(base_records[0]), labeling_status="over_budget", given_label="cat")
    result = merge_manifests(base, [write(tmp_path / "u.jsonl", [unanswered])], str(tmp_path / "out.jsonl"))
    out = list(mf.read_jsonl(str(tmp_path / "out.jsonl")))
    assert [mf.label_of(r) for r in out] == ["cat", "cat"]
    assert mf.label_source_of(out[0]) == "import" and mf.extra_of(out[0])["label_confidence"] == 0.7
    assert mf.extra_of(out[0])["labeling_status"] == "over_budget"
    assert (result.replaced, result.relabeled, result.labels_kept) == (1, 0, 1)


def test_histories_accumulate_and_merging_the_same_label_twice_adds_nothing(tmp_path):
    base = write(tmp_path / "base.jsonl", [labeled(items(1)[0], "a")])
    first = write(tmp_path / "u1.jsonl", [mf.with_label(items(1)[0], "b", source="human")])
    merge_manifests(base, [first], str(tmp_path / "m1.jsonl"))
    again = merge_manifests(str(tmp_path / "m1.jsonl"), [first], str(tmp_path / "m2.jsonl"))
    second = write(tmp_path / "u2.jsonl", [mf.with_label(items(1)[0], "c", source="human")])
    merge_manifests(str(tmp_path / "m2.jsonl"), [second], str(tmp_path / "m3.jsonl"))
    (out,) = mf.read_jsonl(str(tmp_path / "m3.jsonl"))
    assert mf.label_of(out) == "c" and again.relabeled == 0
    assert [e["label"] for e in mf.extra_of(out)["label_history"]] == ["a", "b"]


def test_a_disputed_label_does_not_overwrite_and_is_kept_beside_the_label(tmp_path):
    base_records = [labeled(r, "cat") for r in items(2)]
    disputed = mf.with_extra(
        mf.with_label(mf.without_label(base_records[0]), "dog", source="human", confidence=0.5), needs_review=True
    )
    unsure_new = mf.with_extra(mf.with_label(items(3)[2], "dog", source="human"), needs_review=True)
    result = merge_manifests(
        write(tmp_path / "base.jsonl", [*base_records, items(3)[2]]),
        [write(tmp_path / "u.jsonl", [disputed, unsure_new])],
        str(tmp_path / "out.jsonl"),
    )
    out = list(mf.read_jsonl(str(tmp_path / "out.jsonl")))
    assert [mf.label_of(r) for r in out] == ["cat", "cat", "dog"]  # an unlabeled item takes even an unsure label
    facts = mf.extra_of(out[0])
    assert facts["label_source"] == "import" and "label_confidence" not in facts and facts["needs_review"]
    assert facts["disputed_label"] == {"label": "dog", "source": "human", "confidence": 0.5}
    assert (result.replaced, result.relabeled, result.labels_kept, result.disputed) == (2, 0, 1, 1)


@pytest.mark.parametrize(
    "votes, overwrites",
    [
        ({"dog": 3, "cat": 1, "bird": 1}, True),  # 3 votes beat the old label's 1 + its own 1
        ({"dog": 2, "cat": 1, "bird": 1}, False),  # 2 against 1 + 1: a tie keeps the label
        ({"dog": 2, "bird": 2}, True),  # nobody chose the old label: 2 beat 0 + 1
        ({}, False),  # no tally: a disputed label never overwrites
    ],
)
def test_a_disputed_label_overwrites_only_when_it_outvotes_the_old_label_plus_one(tmp_path, votes, overwrites):
    _merge_one(tmp_path, "dog", votes, overwrites)


def test_a_disputed_consensus_equal_to_the_old_label_confirms_it(tmp_path):
    _merge_one(tmp_path, "cat", {"cat": 2, "dog": 2}, True)


def _merge_one(tmp_path, answer, votes, overwrites):
    base = labeled(items(1)[0], "cat")
    update = mf.with_extra(
        mf.with_label(mf.without_label(base), answer, source="human"), needs_review=True, human_votes=votes
    )
    result = merge_manifests(
        write(tmp_path / "b.jsonl", [base]), [write(tmp_path / "u.jsonl", [update])], str(tmp_path / "o.jsonl")
    )
    (out,) = mf.read_jsonl(str(tmp_path / "o.jsonl"))
    assert (mf.label_source_of(out) == "human") == overwrites and result.disputed == (not overwrites)
    assert mf.label_of(out) == (answer if overwrites else "cat")
    assert ("disputed_label" in mf.extra_of(out)) == (not overwrites)
