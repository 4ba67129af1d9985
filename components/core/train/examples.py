"""Examples: model inputs + targets + weights per split, read from a manifest or a table, with an
account of where every input item went."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import features as feats
from .. import manifest
from ..table_items import TARGET_KEY, frame_of
from .tasks import TrainingError, feature_kind, is_multilabel, is_regression


@dataclass(frozen=True)
class Split:
    """Inputs of one split with their targets, weights and item ids (rows in manifest order)."""

    inputs: Any
    targets: tuple
    weights: np.ndarray
    ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Examples:
    """Everything the trainer needs from a manifest, plus where every input item went."""

    task: str
    spec: feats.FeatureSpec
    training: Split
    validation: Split
    test: Split
    accounting: dict[str, int]


@dataclass(frozen=True)
class WeightPolicy:
    """How much an item counts: its ``labelloop.weight`` fact times, for machine labels,
    ``machine_label_weight`` and the label's confidence."""

    machine_label_weight: float = 1.0

    def weight_of(self, record: dict) -> float:
        extra = manifest.extra_of(record)
        weight = float(extra.get("weight", 1.0))
        if manifest.label_source_of(record) == "machine":
            weight *= self.machine_label_weight * float(extra.get("label_confidence", 1.0))
        if not math.isfinite(weight) or weight < 0:
            raise TrainingError(
                f"item {manifest.record_name(record)} has invalid weight {weight}; fix labelloop.weight"
            )
        return weight


def _target_of(record: dict, task: str):
    labels = manifest.labels_of(record)
    if not labels:
        return None
    return tuple(sorted(labels)) if is_multilabel(task) else manifest.label_of(record)


def _record_inputs(records: list[dict], spec: feats.FeatureSpec):
    if spec.kind == "image":
        uris = [manifest.content_of(r)[1] for r in records]
        return feats.image_features([feats.read_image(u, spec) for u in uris], spec)
    return feats.text_inputs([text_of(r) for r in records], spec)


def text_of(record: dict) -> str:
    """An item's text: inline ``textContent`` or the file at ``textGcsUri``."""
    field_name, value = manifest.content_of(record)
    if field_name == "textContent":
        return value
    if field_name == "textGcsUri":
        with manifest.open_file(value, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    raise TrainingError(f"item {manifest.record_name(record)} has {field_name}, not text")


def _split_from_records(records: list[dict], task: str, spec, policy: WeightPolicy) -> Split:
    return Split(
        inputs=_record_inputs(records, spec),
        targets=tuple(_target_of(r, task) for r in records),
        weights=np.asarray([policy.weight_of(r) for r in records], dtype=np.float64),
        ids=tuple(manifest.item_id(r) for r in records),
    )


def examples_from_manifest(
    path: str,
    task: str,
    *,
    spec: feats.FeatureSpec | None = None,
    policy: WeightPolicy = WeightPolicy(),
    image_size: int = 32,
    text_encoding: str = "tfidf",
) -> Examples:
    """Read a JSONL manifest into per-split model inputs for an image or text task.

    Labeled items with ``ml_use`` training/validation/test go to that split; every other item is
    counted under ``skipped_unlabeled`` or ``skipped_no_ml_use`` so all input items are accounted for.
    """
    kind = feature_kind(task)
    if kind == "tabular":
        raise TrainingError(f"task {task} reads a table; use examples_from_table")
    by_use: dict[str, list[dict]] = {use: [] for use in manifest.ML_USES}
    accounting = {"input_items": 0, "skipped_unlabeled": 0, "skipped_no_ml_use": 0}
    for line in manifest.read_lines(path):
        accounting["input_items"] += 1
        record = line.record
        manifest.item_id(record)  # fail early, naming the hint, on records without an id
        use = manifest.ml_use_of(record)
        if not manifest.labels_of(record):
            accounting["skipped_unlabeled"] += 1
        elif use not in by_use:
            accounting["skipped_no_ml_use"] += 1
        else:
            by_use[use].append(record)
    if spec is None:
        if kind == "image":
            sample = [manifest.content_of(r)[1] for r in by_use["training"][:16]]
            spec = feats.image_spec_for(sample, image_size=image_size)
        else:
            spec = feats.FeatureSpec(kind="text", text_encoding=text_encoding)
    splits = {use: _split_from_records(records, task, spec, policy) for use, records in by_use.items()}
    accounting.update({f"{use}_items": len(split) for use, split in splits.items()})
    return Examples(task, spec, splits["training"], splits["validation"], splits["test"], accounting)


def read_table(path: str, *, machine_label_weight: float = 1.0) -> pd.DataFrame:
    """A CSV or Parquet table (local or fsspec URL), or the table of a JSONL manifest of row items
    (``table_items.frame_of``: the label in column ``labelloop_label``); Parquet is recognised by
    its magic bytes, JSONL by its first character."""
    with manifest.open_file(path, "rb") as handle:
        data = handle.read()
    if data[:4] == b"PAR1":
        return pd.read_parquet(io.BytesIO(data))
    if data.lstrip()[:1] == b"{" or not data.strip():
        records = [manifest.parse_line(raw, path, n) for n, raw in enumerate(data.splitlines(), 1) if raw.strip()]
        return frame_of(records, weight_of=WeightPolicy(machine_label_weight).weight_of)
    return pd.read_csv(io.BytesIO(data))


def is_row_items(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` was rebuilt from JSONL row items (its label is in ``labelloop_label``)."""
    return TARGET_KEY in frame.columns


def row_ids(frame: pd.DataFrame) -> list[str]:
    """Each row's id: ``labelloop_id`` for row items, else an ``id`` column, else the row number."""
    if is_row_items(frame):
        return frame[manifest.ID_KEY].astype(str).tolist()
    return frame["id"].astype(str).tolist() if "id" in frame.columns else [str(i) for i in range(len(frame))]


def examples_from_table(
    frame: pd.DataFrame,
    task: str,
    target_column: str,
    *,
    spec: feats.FeatureSpec | None = None,
    ml_use_column: str = "ml_use",
    weight_column: str = "weight",
) -> Examples:
    """Per-split inputs from a table with an ``ml_use`` column; rows without a target are skipped."""
    if feature_kind(task) != "tabular":
        raise TrainingError(f"task {task} reads a manifest; use examples_from_manifest")
    if ml_use_column not in frame.columns:
        raise TrainingError(f"the table has no {ml_use_column!r} column; run split_dataset first")
    if target_column not in frame.columns:
        raise TrainingError(
            f"target column {target_column!r} is not in the table ({', '.join(map(str, frame.columns))})"
        )
    ignore = [c for c in (ml_use_column, weight_column, "id", manifest.ID_KEY) if c in frame.columns]
    spec = spec or feats.tabular_spec_for(frame, target_column, ignore=ignore)
    target = frame[target_column]
    if is_regression(task):
        target = pd.to_numeric(target, errors="coerce")
    labeled = target.notna() & (target.astype(str).str.len() > 0)
    uses = frame[ml_use_column].astype(str)
    ids = pd.Series(row_ids(frame))
    weights = frame[weight_column].astype(float) if weight_column in frame.columns else pd.Series(np.ones(len(frame)))
    splits = {}
    for use in manifest.ML_USES:
        rows = (labeled & (uses == use)).to_numpy()
        values = target[rows]
        targets = tuple(float(v) for v in values) if is_regression(task) else tuple(str(v) for v in values)
        splits[use] = Split(
            inputs=feats.tabular_inputs(frame[rows].reset_index(drop=True), spec),
            targets=targets,
            weights=weights[rows].to_numpy(dtype=np.float64),
            ids=tuple(ids[rows]),
        )
    accounting = {
        "input_items": len(frame),
        "skipped_unlabeled": int((~labeled).sum()),
        "skipped_no_ml_use": int((labeled & ~uses.isin(manifest.ML_USES)).sum()),
        **{f"{use}_items": len(split) for use, split in splits.items()},
    }
    return Examples(task, spec, splits["training"], splits["validation"], splits["test"], accounting)


def holdout(training: Split, task: str, fraction: float, seed: int) -> tuple[Split, Split]:
    """Carve a validation split from training when the manifest has none (stratified if possible)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(training))
    stratify = None
    if not is_regression(task) and not is_multilabel(task):
        counts = pd.Series(training.targets).value_counts()
        if counts.min() >= 2 and len(rows) * fraction >= len(counts):
            stratify = list(training.targets)
    fit_rows, valid_rows = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    return take(training, fit_rows), take(training, valid_rows)


def take(split: Split, rows: np.ndarray) -> Split:
    inputs = (
        split.inputs.iloc[rows].reset_index(drop=True) if isinstance(split.inputs, pd.DataFrame) else split.inputs[rows]
    )
    return Split(inputs, tuple(split.targets[i] for i in rows), split.weights[rows], tuple(split.ids[i] for i in rows))


def check_trainable(examples: Examples, labels: tuple[str, ...]) -> None:
    if len(examples.training) == 0:
        raise TrainingError(
            f"no labeled training items (accounting: {examples.accounting}); label items and set ml_use=training"
        )
    if (
        not is_regression(examples.task)
        and len(set(examples.training.targets)) < 2
        and not is_multilabel(examples.task)
    ):
        raise TrainingError(
            "training items carry only one label "
            f"{sorted(set(examples.training.targets))}; a classifier needs at least two"
        )


def concat_splits(first: Split, second: Split) -> Split:
    if len(second) == 0:
        return first
    if isinstance(first.inputs, pd.DataFrame):
        inputs = pd.concat([first.inputs, second.inputs], ignore_index=True)
    else:
        inputs = np.concatenate([first.inputs, second.inputs])
    return Split(
        inputs, first.targets + second.targets, np.concatenate([first.weights, second.weights]), first.ids + second.ids
    )


def load_examples(
    path: str,
    task: str,
    *,
    target_column: str = "",
    spec: feats.FeatureSpec | None = None,
    machine_label_weight: float = 1.0,
) -> Examples:
    """Examples from a JSONL manifest (image/text tasks) or a CSV/Parquet table (tabular tasks)."""
    if feature_kind(task) == "tabular":
        try:
            frame = read_table(path, machine_label_weight=machine_label_weight)
        except ValueError as err:
            raise TrainingError(str(err)) from None
        if is_row_items(frame):  # JSONL row items carry their label, whatever the column was called
            return examples_from_table(frame, task, TARGET_KEY, spec=spec)
        if not target_column:
            raise TrainingError(f"task {task} needs target_column, the table column to predict")
        return examples_from_table(frame, task, target_column, spec=spec)
    return examples_from_manifest(path, task, spec=spec, policy=WeightPolicy(machine_label_weight))
