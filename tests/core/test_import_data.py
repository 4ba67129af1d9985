"""Import orchestration: every source, every item kept or rejected with a reason, failure rules."""

from __future__ import annotations

import fsspec
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from labelloop.components.core import import_data as d
from labelloop.components.core import manifest as m
from labelloop.components.core import sources, tabular, validate

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
LOCAL = ("gs", "file")


def put(uri: str, data: bytes) -> str:
    fs, path = fsspec.core.url_to_fs(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)
    return uri


def run(tmp_path, **options):
    result = d.import_items(
        d.ImportOptions(**options), str(tmp_path / "items"), str(tmp_path / "rejects.jsonl"), step="import_dataset"
    )
    rejects = list(m.read_jsonl(str(tmp_path / "rejects.jsonl")))
    return result, rejects


def items_of(tmp_path) -> list[dict]:
    return list(m.read_jsonl(str(tmp_path / "items")))


def write_lines(path, lines: list) -> str:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines))
    return str(path)


# ---------------------------------------------------------------------------------------------
# Image folders


def test_image_folder_class_per_subfolder_and_unlabeled(tmp_path):
    root = tmp_path / "imgs"
    put(str(root / "cat" / "a.png"), PNG)
    put(str(root / "cat" / "b.jpg"), JPEG)
    put(str(root / "dog" / "c.jpg"), JPEG)
    put(str(root / "loose.png"), PNG + b"x")
    put(str(root / "Bad Name!" / "d.png"), PNG + b"y")
    put(str(root / "dog" / "readme.txt"), b"notes")
    put(str(root / "dog" / "fake.jpg"), b"<html>")
    result, rejects = run(
        tmp_path,
        source_uri=str(root),
        data_type="image",
        allowed_uri_schemes=LOCAL,
        allowed_labels=("cat", "dog"),
        max_reject_rate=1.0,
    )
    items = items_of(tmp_path)
    assert result.total == 7 and result.kept == 4 and result.rejected == 3
    assert result.label_counts == {"(none)": 1, "cat": 2, "dog": 1} and result.split_counts == {"(none)": 4}
    assert {r["reason_code"] for r in rejects} == {"unknown_label", "unsupported_image_format", "not_an_image"}
    assert any("subfolder 'Bad Name!'" in r["reason"] for r in rejects)
    by_uri = {i["imageGcsUri"]: i for i in items}
    assert m.item_id(by_uri[str(root / "cat" / "a.png")]) == m.content_id(PNG)
    assert (
        m.label_of(by_uri[str(root / "loose.png")]) is None and m.label_of(by_uri[str(root / "dog" / "c.jpg")]) == "dog"
    )


def test_local_folder_needs_the_file_scheme(tmp_path):
    put(str(tmp_path / "imgs" / "a.png"), PNG)
    result, rejects = run(tmp_path, source_uri=str(tmp_path / "imgs"), data_type="image")
    assert result.kept == 0 and rejects[0]["reason_code"] == "uri_scheme_not_allowed"
    assert "nothing valid remains" in d.failure_summary(result, 0.1)


def test_empty_folder_fails_with_nothing_valid(tmp_path):
    (tmp_path / "imgs").mkdir()
    result, rejects = run(tmp_path, source_uri=str(tmp_path / "imgs"), data_type="image", allowed_uri_schemes=LOCAL)
    assert (result.total, result.kept, rejects) == (0, 0, [])
    assert "nothing valid remains of 0" in d.failure_summary(result, 0.1)


@pytest.mark.gcs
def test_gs_image_folder_against_the_emulator(tmp_path, gcs_prefix):
    put(f"{gcs_prefix}/imgs/cat/a.png", PNG)
    put(f"{gcs_prefix}/imgs/dog/b.jpg", JPEG)
    put(f"{gcs_prefix}/imgs/dog/empty.jpg", b"")
    result, rejects = run(tmp_path, source_uri=f"{gcs_prefix}/imgs", data_type="image", max_reject_rate=0.5)
    assert result.kept == 2 and [r["reason_code"] for r in rejects] == ["empty_file"]
    uris = sorted(i["imageGcsUri"] for i in items_of(tmp_path))
    assert uris == [f"{gcs_prefix}/imgs/cat/a.png", f"{gcs_prefix}/imgs/dog/b.jpg"]
    assert d.failure_summary(result, 0.5) is None


# ---------------------------------------------------------------------------------------------
# JSONL manifests


@pytest.mark.gcs
def test_jsonl_with_gs_uris_checks_files_and_keeps_unknown_fields(tmp_path, gcs_prefix):
    a = put(f"{gcs_prefix}/img/a.png", PNG)
    b = put(f"{gcs_prefix}/img/b.jpg", JPEG)
    put(f"{gcs_prefix}/img/c.jpg", JPEG + b"c")
    first = b'{"imageGcsUri":"%s","classificationAnnotation":{"displayName":"cat"},"custom":{"n":1.50}}' % a.encode()
    source = write_lines(
        tmp_path / "m.jsonl",
        [
            first,
            {"imageGcsUri": b, "dataItemResourceLabels": {m.ML_USE_KEY: "test", "team": "x"}},
            {"imageGcsUri": f"{gcs_prefix}/img/missing.png"},
            {"imageGcsUri": f"{gcs_prefix}/img/c.jpg", "dataItemResourceLabels": {m.ID_KEY: m.content_id(JPEG + b"c")}},
            {"imageGcsUri": f"{gcs_prefix}/img/gone.jpg", "dataItemResourceLabels": {m.ID_KEY: "carried2"}},
            b"{broken",
            {"imageGcsUri": a},
        ],
    )
    result, rejects = run(tmp_path, source_uri=source, data_type="image", max_reject_rate=1.0)
    items = items_of(tmp_path)
    assert [(r["line"], r["reason_code"]) for r in rejects] == [
        (6, "invalid_json"),
        (7, "duplicate_uri"),
        (3, "file_not_found"),
        (5, "file_not_found"),
    ]
    assert rejects[0]["record"] == "{broken"
    raw_out = (tmp_path / "items").read_bytes().splitlines()
    assert raw_out[0].startswith(first[:-1]) and b'"n":1.50' in raw_out[0]  # original bytes, id appended
    assert m.item_id(items[0]) == m.content_id(PNG) and items[0]["custom"] == {"n": 1.5}
    assert items[1]["dataItemResourceLabels"] == {m.ML_USE_KEY: "test", "team": "x", m.ID_KEY: m.content_id(JPEG)}
    assert m.item_id(items[2]) == m.content_id(JPEG + b"c")  # a carried id is kept when it is the content's
    assert result.split_counts == {"(none)": 2, "test": 1} and result.label_counts == {"(none)": 2, "cat": 1}
    assert result.total == 7 == result.kept + result.rejected


def test_text_jsonl_inline_and_file_with_label_minimum(tmp_path):
    doc = put(str(tmp_path / "docs" / "d1.txt"), "Un texte en français".encode())
    put(str(tmp_path / "docs" / "latin1.txt"), "caf\xe9".encode("latin-1"))
    lines = [
        {"textContent": f"review {i}", "classificationAnnotation": {"displayName": "pos" if i % 2 else "neg"}}
        for i in range(24)
    ]
    lines += [
        {"textGcsUri": doc, "classificationAnnotations": [{"displayName": "pos"}, {"displayName": "neg"}]},
        {"textGcsUri": str(tmp_path / "docs" / "latin1.txt")},
        {"textContent": "   "},
        {"textContent": "short", "classificationAnnotation": {"displayName": "rare"}},
    ]
    source = write_lines(tmp_path / "t.jsonl", lines)
    result, rejects = run(tmp_path, source_uri=source, data_type="text", allowed_uri_schemes=LOCAL)
    assert [r["reason_code"] for r in rejects] == ["empty_text", "not_utf8"]
    assert result.label_counts == {"neg": 13, "pos": 13, "rare": 1}
    (issue,) = result.issues
    assert issue.code == "too_few_items_per_label" and issue.severity == "warning" and "rare (1)" in issue.message
    items = items_of(tmp_path)
    assert m.item_id(items[0]) == m.content_id("review 0") and m.item_id(items[24]) == m.content_id(
        "Un texte en français".encode()
    )
    assert d.failure_summary(result, 0.1) is None  # 2/28 rejected, warning only
    strict, _ = run(
        tmp_path, source_uri=source, data_type="text", allowed_uri_schemes=LOCAL, label_count_severity="error"
    )
    assert "fewer than 10" in d.failure_summary(strict, 0.1)


def test_unknown_classes_and_missing_labels_are_rejected(tmp_path):
    put(str(tmp_path / "a.png"), PNG)
    source = write_lines(
        tmp_path / "m.jsonl",
        [
            {"imageGcsUri": str(tmp_path / "a.png"), "classificationAnnotation": {"displayName": "cow"}},
            {"imageGcsUri": str(tmp_path / "a.png"), "classificationAnnotation": {}},
            {"classificationAnnotation": {"displayName": "cat"}},
        ],
    )
    result, rejects = run(
        tmp_path, source_uri=source, data_type="image", allowed_uri_schemes=LOCAL, allowed_labels=("cat",)
    )
    assert [r["reason_code"] for r in rejects] == ["unknown_label", "missing_label_name", "missing_content"]
    assert "(cat)" in rejects[0]["reason"] and result.kept == 0
    summary = d.failure_summary(result, 0.1)
    assert "nothing valid remains of 3" in summary and "unknown_label ×1" in summary


def test_reject_rate_above_the_maximum_fails_with_a_summary(tmp_path):
    put(str(tmp_path / "a.png"), PNG)
    source = write_lines(tmp_path / "m.jsonl", [{"imageGcsUri": str(tmp_path / "a.png")}, {"imageGcsUri": "rel/b.png"}])
    result, rejects = run(tmp_path, source_uri=source, data_type="image", allowed_uri_schemes=LOCAL)
    assert result.reject_rate == 0.5 and len(rejects) == 1
    assert "more than max_reject_rate 10.0%" in d.failure_summary(result, 0.1)
    assert d.failure_summary(result, 0.5) is None
    report = d.render_report(result, 0.1)
    assert "**FAILED**" in report and "| `bad_uri` | 1 |" in report


def test_empty_manifest_fails_but_writes_outputs(tmp_path):
    source = write_lines(tmp_path / "m.jsonl", [])
    result, rejects = run(tmp_path, source_uri=source, data_type="image")
    assert result.total == 0 and rejects == [] and (tmp_path / "items").read_bytes() == b""
    assert "nothing valid remains" in d.failure_summary(result, 0.1)


def test_wrong_pairings_raise_clear_errors(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    write_lines(tmp_path / "m.jsonl", [])
    with pytest.raises(validate.ValidationError, match="data_type 'image'"):
        run(tmp_path, source_uri=str(tmp_path / "imgs"), data_type="text")
    with pytest.raises(validate.ValidationError, match="data_type 'tabular'"):
        run(tmp_path, source_uri=str(tmp_path / "t.csv"), data_type="image")
    with pytest.raises(validate.ValidationError, match="csv or parquet"):
        run(tmp_path, source_uri=str(tmp_path / "m.jsonl"), data_type="tabular")
    with pytest.raises(sources.SourceError, match="does not exist"):
        run(tmp_path, source_uri=str(tmp_path / "nope.jsonl"), data_type="image")
    with pytest.raises(validate.ValidationError, match="max_reject_rate"):
        d.ImportOptions(source_uri="x", data_type="image", max_reject_rate=2)


# ---------------------------------------------------------------------------------------------
# Tables


def test_csv_rows_keep_columns_and_gain_ids(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("f1,f2,target,ml_use\n1,a,yes,training\n2,b,,test\n3,a,no,validation\n4,b,no,bogus\n")
    result, rejects = run(
        tmp_path, source_uri=str(source), data_type="tabular", target_column="target", max_reject_rate=0.5
    )
    assert [(r["line"], r["reason_code"]) for r in rejects] == [(2, "null_target"), (4, "bad_ml_use")]
    out = (tmp_path / "items").read_text().splitlines()
    assert out[0] == '"f1","f2","target","ml_use","labelloop_id"' and out[1].startswith('"1","a","yes","training","')
    assert result.output_format == "csv" and result.label_counts == {"no": 1, "yes": 1}
    assert result.split_counts == {"training": 1, "validation": 1}
    assert any(i.code == "too_few_rows" for i in result.issues)


def test_parquet_schema_error_fails_with_outputs_written(tmp_path):
    pq.write_table(pa.table({"_x": [1], "y": [2]}), tmp_path / "t.parquet")
    result, rejects = run(tmp_path, source_uri=str(tmp_path / "t.parquet"), data_type="tabular")
    assert [(r["line"], r["reason_code"]) for r in rejects] == [(1, "bad_columns")] and result.issues[
        0
    ].code == "bad_columns"
    assert result.total == 1 == result.rejected and result.kept == 0
    summary = d.failure_summary(result, 0.1)
    assert "not start with '_'" in summary and "nothing valid remains" not in summary


def test_parquet_round_trip_keeps_types(tmp_path):
    pq.write_table(pa.table({"x": [1.5, 2.5], "y": ["a", "b"]}), tmp_path / "t.parquet")
    result, _ = run(tmp_path, source_uri=str(tmp_path / "t.parquet"), data_type="tabular", target_column="y")
    out = pq.read_table(tmp_path / "items")
    assert out.column("x").to_pylist() == [1.5, 2.5] and out.column_names == ["x", "y", m.ID_KEY]
    assert result.kept == 2 and tabular.ML_USE_COLUMN not in out.column_names


def test_metrics_flatten_counts(tmp_path):
    result = d.ImportResult("s", "jsonl", "image", "jsonl", 3, 2, 1, {"cat": 2}, {"(none)": 2}, {"bad_uri": 1})
    assert d.metrics_of(result) == {
        "items_total": 3,
        "items_kept": 2,
        "items_rejected": 1,
        "reject_rate": 0.333333,
        "label_cat": 2,
        "split_(none)": 2,
        "rejects_bad_uri": 1,
    }
