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
