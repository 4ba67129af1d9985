"""The lead's manifest helpers: streaming JSONL I/O (local and gs://), atomic writes, rejects, accessors."""

from __future__ import annotations

import os

import orjson
import pytest
from labelloop.components.core import manifest as m


def test_content_id_is_stable_and_text_equals_its_utf8_bytes():
    assert m.content_id("héllo") == m.content_id("héllo".encode())
    assert len(m.content_id(b"x")) == 32 and m.content_id(b"x") != m.content_id(b"y")


def test_accessors_round_trip_and_leave_unknown_fields():
    record = {"imageGcsUri": "gs://b/a.jpg", "custom": {"k": [1, 2]}}
    labeled = m.with_ml_use(m.with_id(m.with_label(record, "cat", source="human", confidence=0.9), "ab" * 16), "test")
    assert m.item_id(labeled) == "ab" * 16 and m.label_of(labeled) == "cat" and m.ml_use_of(labeled) == "test"
    assert m.label_source_of(labeled) == "human" and labeled["custom"] == {"k": [1, 2]}
    assert record == {"imageGcsUri": "gs://b/a.jpg", "custom": {"k": [1, 2]}}  # input not mutated
    multi = m.with_label(record, ["a", "b"], source="import")
    assert m.labels_of(multi) == ["a", "b"] and "classificationAnnotation" not in multi
    with pytest.raises(ValueError, match="multi-label"):
        m.label_of(multi)
    assert m.labels_of(m.without_label(labeled)) == [] and m.label_source_of(m.without_label(labeled)) is None
    assert m.content_of(record) == ("imageGcsUri", "gs://b/a.jpg")


def test_accessor_errors_say_what_to_do():
    with pytest.raises(KeyError, match="import_dataset"):
        m.item_id({"imageGcsUri": "gs://b/a.jpg"})
    with pytest.raises(ValueError, match="ml_use must be one of"):
        m.with_ml_use({}, "train")
    with pytest.raises(KeyError, match="imageGcsUri"):
        m.content_of({"x": 1})


def test_read_lines_numbers_lines_and_skips_blanks(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2}\n')
    assert [(line.number, line.record) for line in m.read_lines(str(path))] == [(1, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize(
    ("content", "message"), [(b'{"a": 1}\n{oops\n', ":2: not valid JSON"), (b"[1]\n", ":1: expected a JSON object")]
)
def test_read_lines_names_file_and_line_of_bad_input(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(m.ManifestError, match=message):
        list(m.read_jsonl(str(path)))


def test_write_jsonl_streams_a_generator(tmp_path):
    path = str(tmp_path / "out" / "m.jsonl")
    count = m.write_jsonl(path, ({"i": i} for i in range(1000)))
    assert count == 1000 and [r["i"] for r in m.read_jsonl(path)] == list(range(1000))


def test_atomic_writer_leaves_no_partial_file_on_error(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"old": true}\n')

    def records():
        yield {"new": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        m.write_jsonl(str(path), records())
    assert path.read_bytes() == b'{"old": true}\n'
    assert os.listdir(tmp_path) == ["m.jsonl"]  # no temp file left behind


def test_rejects_writer_keeps_the_whole_record_and_counts(tmp_path):
    path = str(tmp_path / "rejects.jsonl")
    with m.RejectsWriter(path, "step_x") as rejects:
        rejects.reject(
            {"imageGcsUri": "gs://b/a.jpg", "dataItemResourceLabels": {m.ID_KEY: "id1"}}, "bad", "why", line=3
        )
        rejects.reject("not json {", "invalid_json", "broken", line=4)
    lines = list(m.read_jsonl(path))
    assert [(r["line"], r["id"], r["reason_code"], r["step"]) for r in lines] == [
        (3, "id1", "bad", "step_x"),
        (4, None, "invalid_json", "step_x"),
    ]
    assert lines[1]["record"] == "not json {" and rejects.counts == {"bad": 1, "invalid_json": 1} and rejects.total == 2


def test_count_by_names_missing_values():
    records = [m.with_label({}, "a", source="x"), {}, m.with_label({}, "a", source="x")]
    assert m.count_by(records, m.label_of) == {"(none)": 1, "a": 2}


@pytest.mark.gcs
def test_gs_round_trip_against_the_emulator(gcs_prefix):
    path = f"{gcs_prefix}/manifests/m.jsonl"
    records = [{"imageGcsUri": f"gs://b/{i}.jpg", "n": i} for i in range(50)]
    assert m.write_jsonl(path, records) == 50
    assert list(m.read_jsonl(path)) == records
    with m.open_file(path) as handle:
        assert orjson.loads(handle.readline()) == records[0]


@pytest.mark.gcs
def test_gs_rejects_writer_and_missing_object(gcs_prefix):
    path = f"{gcs_prefix}/rejects.jsonl"
    with m.RejectsWriter(path, "s") as rejects:
        rejects.reject({"a": 1}, "c", "r", line=1)
    assert [r["reason_code"] for r in m.read_jsonl(path)] == ["c"]
    with pytest.raises(FileNotFoundError):
        list(m.read_jsonl(f"{gcs_prefix}/missing.jsonl"))
