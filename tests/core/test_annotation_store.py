"""The append-only annotation store: nothing lost, nothing bought twice, crashes leave whole parts."""

from dataclasses import replace

import pytest
from labelloop.components.core.annotation_store import (
    AnnotationStore,
    AnnotationStoreError,
    LedgerEntry,
    StoredAnnotation,
)


def annotation(item, labeler, value="cat", cost=0.05):
    return StoredAnnotation(item, labeler, value, cost, 1, "run1", "simulated")


def test_append_persists_and_skips_keys_already_stored(tmp_path):
    store = AnnotationStore(str(tmp_path / "store"))
    assert store.append_annotations([annotation("i1", "a"), annotation("i1", "b")]) == (
        annotation("i1", "a"),
        annotation("i1", "b"),
    )
    new = store.append_annotations([annotation("i1", "a", value="dog"), annotation("i2", "a")])
    assert new == (annotation("i2", "a"),)
    reopened = AnnotationStore(str(tmp_path / "store"))
    stored = {a.key: a.value for a in reopened.load_annotations()}
    assert stored == {("i1", "a"): "cat", ("i1", "b"): "cat", ("i2", "a"): "cat"}
    assert reopened.spent_usd() == pytest.approx(0.15)
    assert len(list((tmp_path / "store" / "annotations").glob("part-*.jsonl"))) == 2


def test_a_half_written_part_from_a_crash_is_ignored(tmp_path):
    store = AnnotationStore(str(tmp_path))
    store.append_annotations([annotation("i1", "a")])
    # what atomic_writer leaves behind when the process dies mid-write
    (tmp_path / "annotations" / "part-x.jsonl.tmp-deadbeef").write_text('{"item_id": "i9", "labeler')
    assert [a.key for a in store.load_annotations()] == [("i1", "a")]


def test_a_corrupt_line_names_the_file_and_line(tmp_path):
    store = AnnotationStore(str(tmp_path))
    store.append_annotations([annotation("i1", "a")])
    bad = tmp_path / "annotations" / "part-zzz.jsonl"
    bad.write_text('{"item_id": "i2", "labeler_id": "a", "value": "cat", "cost_usd": 0.05}\n{"item_id": "i3"}\n')
    with pytest.raises(
        AnnotationStoreError, match=r"part-zzz.jsonl:2: annotation lacks \['labeler_id', 'value', 'cost_usd'\]"
    ):
        store.load_annotations()


def test_ledger_and_state_round_trip(tmp_path):
    store = AnnotationStore(str(tmp_path))
    entry = LedgerEntry("run1", 1, 10, 8, 0.4, 10, "2025-01-01T00:00:00Z")
    store.append_ledger(entry)
    assert store.load_ledger() == (replace(entry, labels_delivered=0, cost_usd=0.0),)  # nothing stored yet
    store.append_annotations([StoredAnnotation(f"i{n}", "l1", "a", 0.05, 1, "run1", "sim") for n in range(8)])
    assert store.load_ledger() == (entry,)  # delivered and cost come from the stored annotations
    assert store.read_state("label_studio") is None
    store.write_state("label_studio", {"project_id": 3})
    assert store.read_state("label_studio") == {"project_id": 3}


def test_empty_uri_is_refused():
    with pytest.raises(AnnotationStoreError, match="annotation_store_uri is empty"):
        AnnotationStore("")


def test_works_on_an_fsspec_url(tmp_path):
    store = AnnotationStore("memory://labelloop-test-store")
    store.append_annotations([annotation("i1", "a", value=["cat", "dog"])])
    assert AnnotationStore("memory://labelloop-test-store").load_annotations()[0].value == ["cat", "dog"]
