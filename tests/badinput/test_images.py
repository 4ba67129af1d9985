"""Bad image files, in manifests and folders: only regular files are read, with a byte limit; only
formats Vertex imports pass; a carried id must be the content's. Nothing hangs."""

from __future__ import annotations

import json
import os
import signal

import pytest
from hostile import image_bytes, run_import
from labelloop.components.core import manifest, sources

VERTEX_FORMATS = [("PNG", ".png"), ("JPEG", ".jpg"), ("GIF", ".gif"), ("BMP", ".bmp"), ("ICO", ".ico")]


def manifest_of(tmp_path, *uris, extra=None) -> str:
    path = tmp_path / "m.jsonl"
    lines = [{"imageGcsUri": str(uri), **(extra or {})} for uri in uris]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def one_image(tmp_path, name: str, data: bytes | None = None) -> str:
    folder = tmp_path / "img"
    folder.mkdir(exist_ok=True)
    path = folder / name
    if data is not None:
        path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("fmt, suffix", VERTEX_FORMATS)
def test_every_format_vertex_imports_is_kept_unchanged(tmp_path, fmt, suffix):
    data = image_bytes(fmt)
    uri = one_image(tmp_path, f"a{suffix}", data)
    outcome = run_import(tmp_path, manifest_of(tmp_path, uri), "image", inputs=1)
    assert outcome.codes == {}
    record = manifest.loads(outcome.kept[0])
    assert record["imageGcsUri"] == uri and manifest.item_id(record) == manifest.content_id(data)


@pytest.mark.parametrize(
    "name, data, code",
    [
        ("webp-named.jpg", image_bytes("WEBP"), "unsupported_image_format"),
        ("tiff-named.png", image_bytes("TIFF"), "unsupported_image_format"),
        ("text-named.png", b"hello, I am not an image\n", "not_an_image"),
        ("html-named.jpg", b"<!doctype html><html></html>", "not_an_image"),
        ("empty.jpg", b"", "empty_file"),
        ("named.webp", image_bytes("WEBP"), "unsupported_image_format"),
        ("named.tiff", image_bytes("TIFF"), "unsupported_image_format"),
        ("no-suffix", image_bytes("PNG"), "unsupported_image_format"),
    ],
)
def test_bytes_vertex_cannot_import_are_rejected_with_the_reason(tmp_path, name, data, code):
    uri = one_image(tmp_path, name, data)
    outcome = run_import(tmp_path, manifest_of(tmp_path, uri), "image", inputs=1)
    assert outcome.codes == {1: code}
    if code == "unsupported_image_format" and name.endswith((".jpg", ".png")):
        assert "does not import" in outcome.rejects[0]["reason"]  # names the real format, not the suffix


def test_png_bytes_named_jpg_are_accepted_as_an_image_vertex_reads(tmp_path):
    uri = one_image(tmp_path, "really-a-png.jpg", image_bytes("PNG"))
    assert run_import(tmp_path, manifest_of(tmp_path, uri), "image", inputs=1).codes == {}


def test_uppercase_suffix_is_accepted(tmp_path):
    uri = one_image(tmp_path, "SHOUT.JPG", image_bytes("JPEG"))
    assert run_import(tmp_path, manifest_of(tmp_path, uri), "image", inputs=1).codes == {}


def test_a_fifo_named_jpg_is_refused_without_hanging(tmp_path):
    fifo = one_image(tmp_path, "x.jpg")
    os.mkfifo(fifo)

    def hung(*_):
        raise TimeoutError("import hung on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        outcome = run_import(tmp_path, manifest_of(tmp_path, fifo), "image", inputs=1)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert outcome.codes == {1: "not_a_regular_file"} and "FIFO" in outcome.rejects[0]["reason"]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_link_to_a_device_is_refused_unread(tmp_path, device):
    link = one_image(tmp_path, "z.jpg")
    os.symlink(device, link)
    outcome = run_import(tmp_path, manifest_of(tmp_path, link), "image", inputs=1)
    assert outcome.codes == {1: "not_a_regular_file"} and "character device" in outcome.rejects[0]["reason"]


def test_a_folder_named_jpg_and_a_dangling_link_are_rejected(tmp_path):
    folder = one_image(tmp_path, "dir.jpg")
    os.mkdir(folder)
    dangling = one_image(tmp_path, "dangling.jpg")
    os.symlink(str(tmp_path / "nowhere.jpg"), dangling)
    missing = one_image(tmp_path, "missing.jpg")
    outcome = run_import(tmp_path, manifest_of(tmp_path, folder, dangling, missing), "image", inputs=3)
    assert outcome.codes == {1: "file_not_found", 2: "file_not_found", 3: "file_not_found"}
    assert "is a folder" in outcome.rejects[0]["reason"]


def test_a_file_over_the_byte_limit_is_rejected_without_reading_it(tmp_path):
    big = one_image(tmp_path, "big.jpg")
    with open(big, "wb") as handle:  # sparse: costs no disk
        handle.write(image_bytes("JPEG"))
        handle.truncate(sources.MAX_FILE_BYTES + 1)
    outcome = run_import(tmp_path, manifest_of(tmp_path, big), "image", inputs=1)
    assert outcome.codes == {1: "file_too_large"}


def test_the_reader_stops_at_its_limit_on_a_regular_file(tmp_path):
    path = one_image(tmp_path, "a.png", image_bytes("PNG") + b"\0" * 5000)
    (read,) = sources.read_files([path], max_bytes=1000)
    assert read.code == "file_too_large" and read.data is None


def test_an_image_folder_of_hostile_files_accounts_for_every_file(tmp_path):
    root = tmp_path / "folder"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    (root / "cat" / "good.png").write_bytes(image_bytes("PNG"))
    (root / "cat" / "webp.jpg").write_bytes(image_bytes("WEBP"))
    (root / "dog" / "good.jpg").write_bytes(image_bytes("JPEG"))
    os.mkfifo(root / "dog" / "pipe.jpg")
    os.symlink("/dev/zero", root / "dog" / "zero.jpg")
    (root / "dog" / "notes.txt").write_text("not an image")
    outcome = run_import(tmp_path, str(root), "image", inputs=6)
    reasons = {os.path.basename(r["record"]["imageGcsUri"]): r["reason_code"] for r in outcome.rejects}
    assert reasons == {
        "webp.jpg": "unsupported_image_format",
        "pipe.jpg": "not_a_regular_file",
        "zero.jpg": "not_a_regular_file",
        "notes.txt": "unsupported_image_format",
    }
    assert outcome.result.label_counts == {"cat": 1, "dog": 1}


def test_a_carried_id_must_be_the_files_content(tmp_path):
    data = image_bytes("PNG")
    uri = one_image(tmp_path, "a.png", data)
    changed = one_image(tmp_path, "b.png", image_bytes("PNG", (9, 9)))
    source = tmp_path / "m.jsonl"
    source.write_text(
        json.dumps({"imageGcsUri": uri, "dataItemResourceLabels": {manifest.ID_KEY: manifest.content_id(data)}})
        + "\n"
        + json.dumps({"imageGcsUri": changed, "dataItemResourceLabels": {manifest.ID_KEY: manifest.content_id(b"old")}})
        + "\n"
    )
    outcome = run_import(tmp_path, str(source), "image", inputs=2)
    assert outcome.codes == {2: "id_mismatch"} and "labels then need buying again" in outcome.rejects[0]["reason"]
    assert outcome.kept[0] == source.read_bytes().splitlines()[0]  # the true id: the line as it was


@pytest.mark.parametrize(
    "boxes, code",
    [
        ([{"displayName": "car", "xMin": 0.6, "yMin": 0.1, "xMax": 0.2, "yMax": 0.5}], "bad_box"),
        ({"displayName": "car", "xMin": 0.1, "yMin": 0.1, "xMax": 0.2, "yMax": 0.5}, "wrong_type"),
        ([{"displayName": "car", "xMin": "0.1", "yMin": 0.1, "xMax": 0.2, "yMax": 0.5}], "bad_box"),
        ([{"displayName": "car", "xMin": True, "yMin": 0.1, "xMax": 0.2, "yMax": 0.5}], "bad_box"),
        ([{"displayName": "car", "xMin": 0.1, "yMin": 0.1, "xMax": 1.5, "yMax": 0.5}], "bad_box"),
        ([{"displayName": "car", "xMin": 0.1, "yMin": 0.1, "xMax": 0.2}], "bad_box"),
        ([{"xMin": 0.1, "yMin": 0.1, "xMax": 0.2, "yMax": 0.5}], "missing_label_name"),
        (["car"], "wrong_type"),
        ([{"displayName": "car", "xMin": 0.1, "yMin": 0.1, "xMax": 0.2, "yMax": 0.5}], None),
    ],
)
def test_bounding_boxes_are_checked(tmp_path, boxes, code):
    uri = one_image(tmp_path, "a.png", image_bytes("PNG"))
    outcome = run_import(
        tmp_path, manifest_of(tmp_path, uri, extra={"boundingBoxAnnotations": boxes}), "image", inputs=1
    )
    assert outcome.codes == ({1: code} if code else {})


@pytest.mark.parametrize(
    "outline, code",
    [
        ({"normalizedVertices": [{"x": 0.1, "y": 0.2}, {"x": 0.3, "y": 0.4}]}, None),
        ({"normalizedVertices": [{"x": 0.1, "y": 0.2}]}, "bad_box"),
        ({"normalizedVertices": [{"x": 0.3, "y": 0.2}, {"x": 0.3, "y": 0.4}]}, "bad_box"),
        ({"normalizedVertices": [{"x": "a", "y": 0.2}, {"x": 0.3, "y": 0.4}]}, "bad_box"),
        ({"normalizedVertices": "0.1,0.2"}, "bad_box"),
        ("box", "bad_box"),
    ],
)
def test_object_annotations_are_checked(tmp_path, outline, code):
    uri = one_image(tmp_path, "a.png", image_bytes("PNG"))
    annotations = [{"displayName": "car", "boundingBox": outline}]
    outcome = run_import(
        tmp_path, manifest_of(tmp_path, uri, extra={"objectAnnotations": annotations}), "image", inputs=1
    )
    assert outcome.codes == ({1: code} if code else {})
