"""Storage faults: on real gs:// (the local GCS emulator): a missing bucket is found once and fast,
missing or hostile objects are per-item rejects, and gs:// sources get the same line checks; a local source
must be a regular file."""

from __future__ import annotations

import json
import time

import fsspec
import pytest
from hostile import image_bytes, run_import
from labelloop.components.core import sources


def put(uri: str, data: bytes) -> str:
    with fsspec.open(uri, "wb") as handle:
        handle.write(data)
    return uri


@pytest.mark.gcs
def test_a_missing_bucket_rejects_every_item_fast_after_one_probe(tmp_path, gcs_prefix, monkeypatch):
    probes = []
    real = sources.FileReader._bucket_problem

    def counted(self, protocol, bucket):
        probes.append(bucket) if f"{protocol}://{bucket}" not in self.buckets else None
        return real(self, protocol, bucket)

    monkeypatch.setattr(sources.FileReader, "_bucket_problem", counted)
    uris = [f"gs://no-such-bucket-labelloop/img/{n}.jpg" for n in range(200)]
    source = tmp_path / "m.jsonl"
    source.write_text("".join(json.dumps({"imageGcsUri": u}) + "\n" for u in uris))
    started = time.monotonic()
    outcome = run_import(tmp_path, str(source), "image", inputs=200)
    assert time.monotonic() - started < 10
    assert set(outcome.codes.values()) == {"bucket_not_found"} and len(outcome.codes) == 200
    assert probes == ["no-such-bucket-labelloop"]
    assert "gs://no-such-bucket-labelloop does not exist" in outcome.rejects[0]["reason"]


@pytest.mark.gcs
def test_missing_and_hostile_objects_in_a_real_bucket(tmp_path, gcs_prefix):
    good = put(f"{gcs_prefix}/img/good.png", image_bytes("PNG"))
    webp = put(f"{gcs_prefix}/img/webp.jpg", image_bytes("WEBP"))
    empty = put(f"{gcs_prefix}/img/empty.jpg", b"")
    glob = put(f"{gcs_prefix}/img/odd[1]*.png", image_bytes("PNG", (5, 5)))
    missing = f"{gcs_prefix}/img/missing.jpg"
    source = tmp_path / "m.jsonl"
    source.write_text("".join(json.dumps({"imageGcsUri": u}) + "\n" for u in (good, webp, empty, glob, missing)))
    outcome = run_import(tmp_path, str(source), "image", inputs=5)
    assert outcome.codes == {2: "unsupported_image_format", 3: "empty_file", 5: "file_not_found"}


@pytest.mark.gcs
def test_a_gs_object_is_read_only_up_to_the_limit(gcs_prefix):
    uri = put(f"{gcs_prefix}/big.png", image_bytes("PNG") + b"\0" * 10_000)
    (read,) = sources.FileReader(max_bytes=1000).read([uri])
    assert read.code == "file_too_large"


@pytest.mark.gcs
def test_a_gs_manifest_with_hostile_lines(tmp_path, gcs_prefix):
    good = put(f"{gcs_prefix}/img/a.png", image_bytes("PNG"))
    data = (
        b"\xef\xbb\xbf"
        + json.dumps({"imageGcsUri": good}).encode()
        + b"\n"
        + b'{"imageGcsUri": "\xff.png"}\n'
        + b"[" * 100_000
        + b"\n"
    )
    source = put(f"{gcs_prefix}/m.jsonl", data)
    outcome = run_import(tmp_path, source, "image", inputs=3)
    assert outcome.codes == {2: "not_utf8", 3: "too_deeply_nested"}


@pytest.mark.gcs
def test_a_gs_image_folder_with_hostile_objects(tmp_path, gcs_prefix):
    put(f"{gcs_prefix}/folder/cat/a.png", image_bytes("PNG"))
    put(f"{gcs_prefix}/folder/cat/b.jpg", image_bytes("WEBP"))
    put(f"{gcs_prefix}/folder/dog/c.jpg", b"")
    put(f"{gcs_prefix}/folder/dog/d.gif", image_bytes("GIF"))
    outcome = run_import(tmp_path, f"{gcs_prefix}/folder", "image", inputs=4)
    assert sorted(r["reason_code"] for r in outcome.rejects) == ["empty_file", "unsupported_image_format"]
    assert outcome.result.label_counts == {"cat": 1, "dog": 1}


@pytest.mark.gcs
def test_a_gs_csv_with_a_ragged_and_a_non_utf8_row(tmp_path, gcs_prefix):
    source = put(f"{gcs_prefix}/t.csv", b"a,b,target\n1,2,x\n3,4,y,z\n5,\xff,x\n7,8,y\n")
    outcome = run_import(tmp_path, source, "tabular", inputs=4, target_column="target")
    assert outcome.codes == {2: "bad_row", 3: "not_utf8"}


@pytest.mark.gcs
def test_a_missing_bucket_among_good_ones_costs_only_its_own_items(tmp_path, gcs_prefix):
    good = put(f"{gcs_prefix}/img/a.png", image_bytes("PNG"))
    other = put(f"{gcs_prefix}/img/b.png", image_bytes("PNG", (4, 4)))
    lost = "gs://no-such-bucket-labelloop/img/c.png"
    source = tmp_path / "m.jsonl"
    source.write_text("".join(json.dumps({"imageGcsUri": u}) + "\n" for u in (good, lost, other)))
    outcome = run_import(tmp_path, str(source), "image", inputs=3)
    assert outcome.codes == {2: "bucket_not_found"}


@pytest.mark.gcs
def test_a_text_document_on_gs_that_is_not_utf8(tmp_path, gcs_prefix):
    doc = put(f"{gcs_prefix}/docs/a.txt", "caf\u00e9".encode("latin-1"))
    fine = put(f"{gcs_prefix}/docs/b.txt", "caf\u00e9".encode())
    source = tmp_path / "m.jsonl"
    source.write_text("".join(json.dumps({"textGcsUri": u}) + "\n" for u in (doc, fine)))
    outcome = run_import(tmp_path, str(source), "text", inputs=2)
    assert outcome.codes == {1: "not_utf8"}


@pytest.mark.parametrize(
    "where",
    ["{prefix}/nothing-here.jsonl", "gs://no-such-bucket-labelloop/m.jsonl", "gs://no-such-bucket-labelloop/folder"],
)
def test_a_missing_gs_source_is_a_source_error_naming_it(tmp_path, gcs_prefix, where):
    from labelloop.components.core import import_data

    uri = where.format(prefix=gcs_prefix)
    with pytest.raises(sources.SourceError, match="does not exist"):
        import_data.import_items(
            import_data.options_from(uri, "image"), str(tmp_path / "i"), str(tmp_path / "r"), step="import_dataset"
        )


@pytest.mark.gcs
def test_an_annotation_store_on_gs_keeps_spend_exact_and_names_a_corrupt_part(gcs_prefix):
    from labelloop.components.core import manifest
    from labelloop.components.core.annotation_store import AnnotationStore, StoredAnnotation

    store = AnnotationStore(f"{gcs_prefix}/store")
    store.append_annotations([StoredAnnotation(f"i{n}", "l1", "a", 0.035, 1, "r1", "sim") for n in range(7)])
    assert (
        sum(e.cost_usd for e in store.load_ledger()) == store.spent_usd() == 0.245
    )  # nano-dollar sums: no 0.24500000000000002
    put(
        f"{gcs_prefix}/store/annotations/part-zz.jsonl",
        b'{"item_id": "x", "labeler_id": "l", "value": 1, "cost_usd": 1}\n{oops\n',
    )
    with pytest.raises(manifest.ManifestError, match=r"part-zz\.jsonl:2"):
        store.load_annotations()


@pytest.mark.parametrize("kind", ["fifo", "zero-link", "urandom-link"])
def test_a_source_that_is_not_a_regular_file_is_refused_unread(tmp_path, kind):
    import os

    from labelloop.components.core import import_data

    source = tmp_path / ("m.jsonl" if kind != "urandom-link" else "t.csv")
    if kind == "fifo":
        os.mkfifo(source)
    else:
        os.symlink("/dev/zero" if kind == "zero-link" else "/dev/urandom", source)
    with pytest.raises(sources.SourceError, match="not a regular file"):
        import_data.import_items(
            import_data.options_from(str(source), "tabular" if kind == "urandom-link" else "text"),
            str(tmp_path / "i"),
            str(tmp_path / "r"),
            step="import_dataset",
        )
