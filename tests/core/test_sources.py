"""Reading sources: formats, image folders, batched listing and reads, tables; local and gs://."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from labelloop.components.core import sources as s

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


def make_folder(root: str) -> None:
    """cat/ and dog/ subfolders, one unlabeled root image, and a text file."""
    fs, path = fsspec.core.url_to_fs(root)
    for rel, data in {
        "cat/a.png": PNG,
        "cat/b.jpg": JPEG,
        "dog/deep/c.jpg": JPEG,
        "root.png": PNG,
        "dog/notes.txt": b"hi",
    }.items():
        fs.makedirs(f"{path}/{rel}".rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(f"{path}/{rel}", data)


def test_detect_format_from_folder_and_suffix(tmp_path):
    (tmp_path / "imgs").mkdir()
    for name in ("a.jsonl", "a.csv", "a.parquet", "a.bin"):
        (tmp_path / name).write_bytes(b"x")
    assert s.detect_format(str(tmp_path / "imgs")) == "image_folder"
    assert [s.detect_format(str(tmp_path / n)) for n in ("a.jsonl", "a.csv", "a.parquet")] == [
        "jsonl",
        "csv",
        "parquet",
    ]
    assert s.detect_format(str(tmp_path / "a.bin"), "jsonl") == "jsonl"
    with pytest.raises(s.SourceError, match="pass source_format"):
        s.detect_format(str(tmp_path / "a.bin"))
    with pytest.raises(s.SourceError, match="does not exist"):
        s.detect_format(str(tmp_path / "missing.jsonl"))
    with pytest.raises(s.SourceError, match="is a folder"):
        s.detect_format(str(tmp_path / "imgs"), "jsonl")
    with pytest.raises(s.SourceError, match="source_format must be one of"):
        s.detect_format(str(tmp_path / "a.csv"), "excel")


def test_list_image_folder_labels_by_first_subfolder(tmp_path):
    make_folder(str(tmp_path))
    found = {(i.uri.removeprefix(str(tmp_path) + "/"), i.label) for i in s.list_image_folder(str(tmp_path))}
    assert found == {
        ("cat/a.png", "cat"),
        ("cat/b.jpg", "cat"),
        ("dog/deep/c.jpg", "dog"),
        ("root.png", None),
        ("dog/notes.txt", "dog"),
    }


def test_read_files_reports_missing_empty_and_glob_named_files(tmp_path):
    (tmp_path / "x[1].png").write_bytes(PNG)
    (tmp_path / "x1.png").write_bytes(JPEG)  # would match the glob x[1].png if names were expanded
    (tmp_path / "empty.png").write_bytes(b"")
    uris = [str(tmp_path / n) for n in ("x[1].png", "empty.png", "gone.png")]
    reads = s.read_files(uris)
    assert reads[0].data == PNG
    assert [r.code for r in reads] == [None, "empty_file", "file_not_found"]
    assert "gone.png" in reads[2].reason


def test_file_sizes_lists_each_folder_once(tmp_path, monkeypatch):
    make_folder(str(tmp_path))
    calls = []
    local = fsspec.filesystem("file")
    original = type(local).ls
    monkeypatch.setattr(
        type(local), "ls", lambda self, path, *a, **k: calls.append(path) or original(self, path, *a, **k)
    )
    uris = [str(tmp_path / "cat" / n) for n in ("a.png", "b.jpg", "zz.png")] + [str(tmp_path / "nowhere" / "q.png")]
    sizes = s.file_sizes(uris)
    assert sizes == {uris[0]: len(PNG), uris[1]: len(JPEG), uris[2]: None, uris[3]: None}
    assert sorted(calls) == sorted({str(tmp_path / "cat"), str(tmp_path / "nowhere")})


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG, "png"),
        (JPEG, "jpeg"),
        (b"GIF89a..", "gif"),
        (b"BM....", "bmp"),
        (b"\x00\x00\x01\x00..", "ico"),
        (b"RIFF\x00\x00\x00\x00WEBP", "webp"),
        (b"<html>", None),
        (b"", None),
    ],
)
def test_sniff_image_format(data, kind):
    assert s.sniff_image_format(data) == kind


def test_batched():
    assert list(s.batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(s.batched([], 3)) == []


def test_tables_stream_csv_as_text_and_parquet_typed(tmp_path):
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("a,b,target\n1,x,\n2,,yes\n")
    schema, batches = s.iter_table_batches(str(csv_path), "csv")
    chunks = list(batches)
    table = pa.Table.from_batches([chunk.batch for chunk in chunks])
    assert [chunk.rows.tolist() for chunk in chunks] == [[1, 2]] and not chunks[0].unreadable
    assert schema.names == ["a", "b", "target"] and all(pa.types.is_string(t) for t in schema.types)
    assert table.column("target").to_pylist() == [None, "yes"] and table.column("a").to_pylist() == ["1", "2"]
    pq.write_table(pa.table({"a": [1, 2], "target": ["u", "v"]}), tmp_path / "t.parquet")
    schema, batches = s.iter_table_batches(str(tmp_path / "t.parquet"), "parquet")
    assert pa.types.is_integer(schema.field("a").type) and sum(b.num_rows for b in batches) == 2
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(s.SourceError, match="no header"):
        s.iter_table_batches(str(tmp_path / "empty.csv"), "csv")


@pytest.mark.gcs
def test_gs_folder_listing_reads_and_sizes(gcs_prefix):
    make_folder(gcs_prefix)
    images = s.list_image_folder(gcs_prefix)
    assert {(i.uri.removeprefix(gcs_prefix + "/"), i.label) for i in images} >= {
        ("cat/a.png", "cat"),
        ("root.png", None),
    }
    assert all(i.uri.startswith("gs://") for i in images)
    assert s.detect_format(gcs_prefix) == "image_folder"
    uris = [f"{gcs_prefix}/cat/a.png", f"{gcs_prefix}/cat/missing.png", f"{gcs_prefix}/dog/deep/c.jpg"]
    assert [r.code for r in s.read_files(uris)] == [None, "file_not_found", None]
    assert s.read_files(uris)[2].data == JPEG
    assert s.file_sizes(uris) == {uris[0]: len(PNG), uris[1]: None, uris[2]: len(JPEG)}
