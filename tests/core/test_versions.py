"""Dataset version store: content addressing, lineage, restore, models and state."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pytest
from labelloop.components.core import versions as v
from labelloop.components.core.manifest import ManifestError, content_id, with_id, with_label, with_ml_use, write_jsonl

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def item(text: str, label=None, split=None, source="human") -> dict:
    record = with_id({"textContent": text}, content_id(text))
    if label is not None:
        record = with_label(record, label, source=source)
    if split is not None:
        record = with_ml_use(record, split)
    return record


def manifest(tmp_path: Path, records: list[dict], name: str = "m.jsonl") -> str:
    path = tmp_path / name
    write_jsonl(str(path), records)
    return str(path)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store")


def test_create_then_restore_gives_back_the_same_bytes(tmp_path, store):
    source = manifest(tmp_path, [item("a", "cat", "training"), item("b", "dog", "test")])
    created = v.create_version(
        store, "pets", source, description="first import", pipeline_run="run-1", producing_step="import_dataset", now=T0
    )

    assert created.created
    version = created.version
    assert version.version_id == content_id(Path(source).read_bytes())
    assert (version.parent, version.item_count, version.pipeline_run) == (None, 2, "run-1")
    assert version.created_at == T0.isoformat(timespec="microseconds")

    restored = tmp_path / "restored.jsonl"
    again = v.get_version(store, "pets", version.version_id, restore_to=str(restored))
    assert again == version
    assert restored.read_bytes() == Path(source).read_bytes()


def test_counts_by_label_split_and_label_source(tmp_path, store):
    records = [
        item("a", "cat", "training"),
        item("b", "cat", "validation", source="machine"),
        item("c", ["cat", "dog"], "training"),
        item("d"),
    ]
    counts = v.create_version(store, "pets", manifest(tmp_path, records)).version.counts
    assert counts == v.ItemCounts(
        total=4,
        by_label={"(none)": 1, "cat": 3, "dog": 1},
        by_split={"(none)": 1, "training": 2, "validation": 1},
        by_label_source={"(none)": 1, "human": 2, "machine": 1},
    )


def test_identical_content_returns_the_existing_version(tmp_path, store):
    first = v.create_version(
        store, "pets", manifest(tmp_path, [item("a", "cat")], "1.jsonl"), description="one", now=T0
    )
    second = v.create_version(
        store, "pets", manifest(tmp_path, [item("a", "cat")], "2.jsonl"), description="two", now=T0 + timedelta(hours=1)
    )

    assert not second.created
    assert second.version == first.version
    assert second.version.description == "one"
    assert len(v.list_versions(store, "pets")) == 1


def test_new_content_gets_the_latest_as_parent_and_becomes_latest(tmp_path, store):
    one = v.create_version(store, "pets", manifest(tmp_path, [item("a")], "1.jsonl"), now=T0).version
    two = v.create_version(
        store, "pets", manifest(tmp_path, [item("a"), item("b")], "2.jsonl"), now=T0 + timedelta(minutes=1)
    ).version

    assert two.parent == one.version_id
    assert v.latest_version_id(store, "pets") == two.version_id
    assert v.get_version(store, "pets") == two
    assert [x.version_id for x in v.list_versions(store, "pets")] == [one.version_id, two.version_id]


def test_recreating_old_content_moves_latest_back_to_it(tmp_path, store):
    one = v.create_version(store, "pets", manifest(tmp_path, [item("a")], "1.jsonl"), now=T0).version
    v.create_version(store, "pets", manifest(tmp_path, [item("b")], "2.jsonl"), now=T0 + timedelta(minutes=1))
    back = v.create_version(store, "pets", manifest(tmp_path, [item("a")], "3.jsonl"))
    assert not back.created
    assert v.latest_version(store, "pets") == one


def test_explicit_parent_and_root_versions(tmp_path, store):
    one = v.create_version(store, "pets", manifest(tmp_path, [item("a")], "1.jsonl")).version
    v.create_version(store, "pets", manifest(tmp_path, [item("b")], "2.jsonl"))
    three = v.create_version(store, "pets", manifest(tmp_path, [item("c")], "3.jsonl"), parent=one.version_id).version
    root = v.create_version(store, "pets", manifest(tmp_path, [item("d")], "4.jsonl"), parent=None).version
    assert three.parent == one.version_id
    assert root.parent is None


def test_unknown_parent_is_refused_and_nothing_is_written(tmp_path, store):
    with pytest.raises(v.VersionStoreError, match="parent version 0{32} of dataset 'pets' does not exist"):
        v.create_version(store, "pets", manifest(tmp_path, [item("a")]), parent="0" * 32)
    assert v.list_versions(store, "pets") == []


def test_bad_json_line_names_file_and_line_and_writes_nothing(tmp_path, store):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(item("a")) + "\n{not json\n")
    with pytest.raises(ManifestError, match=r"bad\.jsonl:2: not valid JSON"):
        v.create_version(store, "pets", str(path))
    assert not Path(store).exists()


def test_item_without_id_is_refused(tmp_path, store):
    path = tmp_path / "noid.jsonl"
    path.write_text(json.dumps(item("a")) + "\n" + json.dumps({"textContent": "b"}) + "\n")
    with pytest.raises(ManifestError, match=r"noid\.jsonl:2: .*labelloop_id.*run it through import_dataset"):
        v.create_version(store, "pets", str(path))


def test_non_object_line_is_refused(tmp_path, store):
    path = tmp_path / "list.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(ManifestError, match=r"list\.jsonl:1: expected a JSON object, got list"):
        v.create_version(store, "pets", str(path))


def test_empty_manifest_is_refused(tmp_path, store):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(v.VersionStoreError, match="manifest has no items"):
        v.create_version(store, "pets", str(path))


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", "x" * 129, None])
def test_bad_dataset_names_are_refused(tmp_path, store, name):
    with pytest.raises(v.VersionStoreError, match="dataset name .* is not allowed"):
        v.create_version(store, name, manifest(tmp_path, [item("a")]))


def test_missing_dataset_and_version_errors_say_what_to_do(tmp_path, store):
    with pytest.raises(v.VersionStoreError, match="dataset 'pets' has no versions .* create one first"):
        v.get_version(store, "pets")
    v.create_version(store, "pets", manifest(tmp_path, [item("a")]))
    with pytest.raises(v.VersionStoreError, match="has no version f{32} .* see list_versions"):
        v.get_version(store, "pets", "f" * 32)
    with pytest.raises(v.VersionStoreError, match="not 32 lowercase hex digits"):
        v.get_version(store, "pets", "v1")


def test_incomplete_version_folders_are_not_listed(tmp_path, store):
    one = v.create_version(store, "pets", manifest(tmp_path, [item("a")])).version
    partial = Path(store) / "pets" / "versions" / ("a" * 32)
    partial.mkdir()
    (partial / "manifest.jsonl").write_text("half")
    assert [x.version_id for x in v.list_versions(store, "pets")] == [one.version_id]


def test_restore_refuses_a_tampered_manifest_and_leaves_no_output(tmp_path, store):
    version = v.create_version(store, "pets", manifest(tmp_path, [item("a")])).version
    Path(version.manifest_uri).write_bytes(b'{"tampered": true}\n')
    target = tmp_path / "out.jsonl"
    with pytest.raises(v.VersionStoreError, match="stored manifest .* does not match its sha256 .* store is damaged"):
        v.get_version(store, "pets", version.version_id, restore_to=str(target))
    assert not target.exists()


def test_models_are_recorded_without_rewriting_the_version(tmp_path, store):
    version = v.create_version(store, "pets", manifest(tmp_path, [item("a", "cat")])).version
    version_json = Path(store) / "pets" / "versions" / version.version_id / "version.json"
    before = version_json.read_bytes()

    v.record_model(store, "pets", version.version_id, "gs://m/1", pipeline_run="r1", metrics={"f1": 0.8}, now=T0)
    v.record_model(store, "pets", version.version_id, "gs://m/2", now=T0 + timedelta(seconds=1))

    models = v.models_trained_on(store, "pets", version.version_id)
    assert [(m.model_uri, m.pipeline_run, m.metrics) for m in models] == [
        ("gs://m/1", "r1", {"f1": 0.8}),
        ("gs://m/2", None, {}),
    ]
    assert version_json.read_bytes() == before


def test_recording_a_model_on_an_unknown_version_fails(store):
    with pytest.raises(v.VersionStoreError, match="has no version"):
        v.record_model(store, "pets", "b" * 32, "gs://m/1")


def test_state_updates_carry_a_revision_and_detect_conflicts(store):
    assert v.read_state(store, "pets") == v.DatasetState({}, 0, None)
    first = v.update_state(store, "pets", {"round": 1, "spend_usd": 12.5}, now=T0)
    second = v.update_state(store, "pets", {"round": 2}, now=T0)
    assert (first.revision, second.revision) == (1, 2)
    assert v.read_state(store, "pets").values == {"round": 2, "spend_usd": 12.5}

    with pytest.raises(v.StateConflictError, match="revision 2, expected 1"):
        v.write_state(store, "pets", {"round": 9}, expected_revision=1)
    assert v.read_state(store, "pets").values["round"] == 2


def test_state_must_be_json(store):
    with pytest.raises(v.VersionStoreError, match="must be JSON-serialisable"):
        v.update_state(store, "pets", {"bad": object()})
    assert v.read_state(store, "pets").revision == 0
    assert list(Path(store, "pets").iterdir()) == []


def test_damaged_pointer_is_reported(tmp_path, store):
    v.create_version(store, "pets", manifest(tmp_path, [item("a")]))
    (Path(store) / "pets" / "latest.json").write_text("{oops")
    with pytest.raises(v.VersionStoreError, match=r"latest\.json: not valid JSON .* restore the file"):
        v.latest_version(store, "pets")


def test_object_store_prefix_works_like_a_folder(tmp_path):
    store = f"memory://labelloop-test-{uuid.uuid4().hex[:8]}/versions"
    source = manifest(tmp_path, [item("a", "cat"), item("b", "dog")])
    version = v.create_version(store, "pets", source, description="remote").version
    v.record_model(store, "pets", version.version_id, "gs://m/1")
    v.update_state(store, "pets", {"round": 1})
    restored = tmp_path / "r.jsonl"

    assert v.get_version(store, "pets", restore_to=str(restored)) == version
    assert restored.read_bytes() == Path(source).read_bytes()
    assert version.manifest_uri.startswith("memory://")
    assert [m.model_uri for m in v.models_trained_on(store, "pets", version.version_id)] == ["gs://m/1"]
    assert v.list_datasets(store) == ["pets"]
    assert v.read_state(store, "pets").values == {"round": 1}
    fsspec.filesystem("memory").rm(store.removeprefix("memory://").split("/")[0], recursive=True)


def test_list_datasets_only_names_datasets_with_versions(tmp_path, store):
    v.create_version(store, "pets", manifest(tmp_path, [item("a")]))
    v.update_state(store, "state-only", {"x": 1})
    assert v.list_datasets(store) == ["pets"]
    assert v.list_datasets(str(tmp_path / "nowhere")) == []


@pytest.mark.gcs
def test_gcs_store_on_the_emulator(tmp_path, gcs_prefix):
    store = f"{gcs_prefix}/versions"
    source = manifest(tmp_path, [item("a", "cat"), item("b", "dog")])
    one = v.create_version(store, "pets", source, description="on gcs").version
    again = v.create_version(store, "pets", manifest(tmp_path, [item("a", "cat"), item("b", "dog")], "same.jsonl"))
    v.update_state(store, "pets", {"round": 3})
    restored = tmp_path / "r.jsonl"

    assert not again.created
    assert v.get_version(store, "pets", restore_to=str(restored)) == one
    assert restored.read_bytes() == Path(source).read_bytes()
    assert one.manifest_uri.startswith("gs://")
    assert [x.version_id for x in v.list_versions(store, "pets")] == [one.version_id]
    assert v.read_state(store, "pets").values == {"round": 3}
