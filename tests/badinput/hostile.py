"""Helpers for the bad-input suite: hostile files, and an import runner that checks the accounting.

Every run asserts inputs = kept + rejects (from the result, and from the written files), so a case
can never pass by losing an item.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pa_csv
from labelloop.components.core import import_data, manifest
from PIL import Image


def image_bytes(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    """A real image of ``fmt`` (PNG, JPEG, GIF, BMP, ICO, TIFF, WEBP) made by Pillow."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def jsonl(*records) -> bytes:
    """Lines from dicts (JSON) or bytes (as they are), each ending in a newline."""
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


@dataclass(frozen=True)
class Outcome:
    result: import_data.ImportResult
    kept: list[bytes]  # raw output lines (JSONL) or rows as dicts (tables)
    rejects: list[dict]
    summary: str | None

    @property
    def codes(self) -> dict[int | None, str]:
        """``{line: reason_code}`` of every reject."""
        return {r["line"]: r["reason_code"] for r in self.rejects}


def run_import(tmp_path: Path, source: str, data_type: str, *, inputs: int, **options) -> Outcome:
    """Import ``source`` and check that every one of ``inputs`` items is kept or rejected, once."""
    options = {"allowed_uri_schemes": ("gs", "file"), "min_items_per_label": 0, "max_reject_rate": 1.0, **options}
    opts = import_data.options_from(source, data_type, **options)
    items, rejects_path = tmp_path / "out-items", tmp_path / "out-rejects"
    result = import_data.import_items(opts, str(items), str(rejects_path), step="import_dataset")
    rejects = [json.loads(line) for line in rejects_path.read_bytes().splitlines()]
    if result.output_format == "jsonl":
        kept = [line for line in items.read_bytes().splitlines() if line.strip()]
    else:
        kept = pa_csv.read_csv(items).to_pylist() if items.stat().st_size else []
    assert result.total == inputs, f"{result.total} items counted, {inputs} given"
    assert result.total == result.kept + result.rejected
    assert len(kept) == result.kept and len(rejects) == result.rejected
    assert all(r["reason_code"] and r["reason"] for r in rejects)
    return Outcome(result, kept, rejects, import_data.failure_summary(result, opts.max_reject_rate))


def without_id(raw: bytes) -> dict:
    """A kept output line as a record, less the id import added, for "accepted unchanged" checks."""
    record = manifest.loads(raw)
    labels = dict(record.get("dataItemResourceLabels") or {})
    labels.pop(manifest.ID_KEY, None)
    if labels:
        record["dataItemResourceLabels"] = labels
    else:
        record.pop("dataItemResourceLabels", None)
    return record
