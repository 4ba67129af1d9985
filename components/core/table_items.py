"""Table rows as items: one JSON Lines record per row, so labeling, merging, dataset versions and
active-learning rounds read tables exactly as they read images and text.

A row item::

    {"tableRow": {"alcohol": 13.2, "color": "red", "hue": null},
     "classificationAnnotation": {"displayName": "class_1", ...},        # the target, when known
     "dataItemResourceLabels": {"labelloop_id": "<row content id>",
                                "aiplatform.googleapis.com/ml_use": "training"}}

``tableRow`` holds every column but the target and ``ml_use``: a number as a JSON number, text as a
string, a missing cell as ``null``. The id is the row's content id as the CSV/Parquet import gives
it (:func:`tabular.row_ids`, target included, ``ml_use`` excluded), so a row keeps its id whichever
form it travels in. :func:`frame_of` turns row items back into the table the trainer reads, with
the column types a CSV of the same rows gets (it goes through the same CSV reader), so a model
trained from row items is the model trained from the table.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from . import manifest

TABLE_ROW_KEY = manifest.TABLE_ROW_KEY
#: The label column of a table rebuilt from row items (a row may not have a column of this name).
TARGET_KEY = "labelloop_label"
ML_USE_COLUMN = "ml_use"
WEIGHT_COLUMN = "weight"
_INTEGER_RE = re.compile(r"^\s*[-+]?\d+\s*$")
_NUMBER_RE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
#: orjson writes integers up to 64 bits; a longer run of digits stays text (it reads back the same).
_MAX_INT = 2**63 - 1


def cell_value(value: Any) -> Any:
    """A cell as JSON keeps it: text that reads back as the same number becomes that number (CSV
    cells arrive as text), other text stays text (``007`` and ``1.50`` too: a text column keeps
    them as written), a missing cell is None; typed values (Parquet) are kept."""
    if isinstance(value, str):
        if _INTEGER_RE.match(value) and str(int(value)) == value:
            number = int(value)
            return number if abs(number) <= _MAX_INT else value
        if _NUMBER_RE.match(value) and repr(float(value)) == value:
            return float(value)
        return value
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def is_row_item(record: dict) -> bool:
    return isinstance(record.get(TABLE_ROW_KEY), dict)


def row_item(values: dict, item_id: str, *, target_column: str = "", ml_use: str | None = None) -> dict:
    """The item of one table row: ``values`` by column (``ml_use`` and the target taken out)."""
    row = {k: cell_value(v) for k, v in values.items() if k not in (target_column, ML_USE_COLUMN, manifest.ID_KEY)}
    record: dict = {TABLE_ROW_KEY: row}
    label = values.get(target_column) if target_column else None
    if label is not None and str(label) != "":
        record = manifest.with_label(record, str(label), source="import")
    record = manifest.with_id(record, item_id)
    return manifest.with_ml_use(record, ml_use) if ml_use in manifest.ML_USES else record


def batch_items(batch, target_column: str = "") -> list[dict]:
    """The row items of an imported record batch (it carries the ``labelloop_id`` column)."""
    items = []
    for values in batch.to_pylist():
        ml_use = values.get(ML_USE_COLUMN)
        items.append(
            row_item(values, values[manifest.ID_KEY], target_column=target_column, ml_use=str(ml_use or "") or None)
        )
    return items


def _columns(records: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record[TABLE_ROW_KEY]))
    return list(seen)


def frame_of(records: Iterable[dict], *, weight_of: Callable[[dict], float] | None = None) -> pd.DataFrame:
    """The table of row items: their columns typed as a CSV of the same rows reads (numbers as
    numbers, text as text, missing as NaN), plus ``labelloop_label`` (the item's label or missing),
    ``ml_use``, ``labelloop_id`` and, given ``weight_of`` and unless the rows have their own,
    ``weight`` (each item's training weight, e.g. ``train.WeightPolicy.weight_of``).

    Raises:
        ValueError: naming the item that is not a row item.
    """
    records = list(records)
    for number, record in enumerate(records, 1):
        if not is_row_item(record):
            raise ValueError(
                f"item {number} ({manifest.record_name(record)}) has no {TABLE_ROW_KEY!r}; a tabular task reads "
                "table rows (import the table with table_rows_as_items) or a CSV/Parquet table"
            )
    columns = _columns(records)
    reserved = [c for c in columns if c in (TARGET_KEY, ML_USE_COLUMN, manifest.ID_KEY)]
    if reserved:
        raise ValueError(f"table rows may not have column(s) {reserved}: labelloop keeps its own facts there")
    rows = pd.DataFrame.from_records([r[TABLE_ROW_KEY] for r in records], columns=columns)
    text = rows.to_csv(index=False) if columns else ""
    frame = pd.read_csv(io.StringIO(text)) if len(records) else pd.DataFrame(columns=columns)
    if len(frame) != len(records):  # a table of columns only: no rows to read back
        frame = pd.DataFrame(index=range(len(records)), columns=columns)
    labels = [manifest.labels_of(r) for r in records]
    frame[TARGET_KEY] = pd.Series([found[0] if found else None for found in labels], dtype=object)
    frame[ML_USE_COLUMN] = [manifest.ml_use_of(r) or "" for r in records]
    frame[manifest.ID_KEY] = [manifest.item_id(r) for r in records]
    if weight_of is not None and WEIGHT_COLUMN not in frame.columns:
        frame[WEIGHT_COLUMN] = np.asarray([weight_of(r) for r in records], dtype=np.float64)
    return frame
