"""Assigning items to training/validation/test, group-aware so near duplicates never leak.

Every method works on *groups*: the near-duplicate groups the prefilter recorded
(``labelloop.duplicate_group``), or the item alone when it has none. A group lands in one split
whole, so a resized copy of a test image can never sit in training.

The manifest is read twice (keys first, then records) so memory holds only a small tuple per item.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import manifest as mf

METHODS = ("random", "stratified", "ml_use", "chronological", "kfold")
UNLABELED = "(unlabeled)"


class SplitError(ValueError):
    """A split request that cannot be met; the message says what to change."""


@dataclass(frozen=True)
class SplitSpec:
    """What split to make.

    Attributes:
        method: ``random``, ``stratified`` (by label), ``ml_use`` (keep the items' own values),
            ``chronological`` (oldest to training, newest to test, by ``time_field``) or ``kfold``.
        fractions: training, validation and test fractions; they must sum to 1. For ``kfold``
            only the test fraction is used (held out first); the rest is cut into ``folds``.
        seed: makes random assignment reproducible.
        time_field: for ``chronological``: a top-level field or a ``labelloop`` fact holding an
            ISO-8601 timestamp or a number.
        folds: number of folds for ``kfold``; ``fold`` is the one used for validation.
    """

    method: str = "stratified"
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    time_field: str = ""
    folds: int = 5
    fold: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise SplitError(f"unknown split method {self.method!r}; use one of {', '.join(METHODS)}")
        if len(self.fractions) != 3 or any(f < 0 for f in self.fractions):
            raise SplitError(f"fractions must be three non-negative numbers, got {self.fractions}")
        if not math.isclose(sum(self.fractions), 1.0, abs_tol=1e-6):
            raise SplitError(
                f"fractions {tuple(self.fractions)} sum to {sum(self.fractions):.4f}; they must sum to 1 "
                "(training, validation, test)"
            )
        if self.method == "chronological" and not self.time_field:
            raise SplitError("chronological split needs time_field: the field that holds each item's time")
        if self.method == "kfold" and not (2 <= self.folds and 0 <= self.fold < self.folds):
            raise SplitError(f"kfold needs folds >= 2 and 0 <= fold < folds, got folds={self.folds}, fold={self.fold}")


@dataclass(frozen=True)
class ItemKey:
    """The little an assignment needs to know about one item."""

    id: str
    label: str
    group: str
    time: float | None = None
    ml_use: str | None = None


@dataclass(frozen=True)
class SplitResult:
    """Where every item went, with the label distribution per split."""

    assignment: dict[str, str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    groups: int = 0
    spec: SplitSpec = SplitSpec()

    def summary(self) -> dict[str, int]:
        """Item count per split."""
        return {split: sum(c.values()) for split, c in self.counts.items()}


def key_of(record: dict, time_field: str = "") -> ItemKey:
    """Extract the :class:`ItemKey` of a manifest record."""
    labels = mf.labels_of(record)
    extra = mf.extra_of(record)
    time = None
    if time_field:
        raw = record.get(time_field, extra.get(time_field))
        if raw is None:
            raise SplitError(
                f"item {mf.record_name(record)} has no {time_field!r}; every item needs it for a chronological split"
            )
        time = _as_time(raw, mf.record_name(record))
    return ItemKey(
        id=mf.item_id(record),
        label="+".join(sorted(labels)) if labels else UNLABELED,
        group=str(extra.get("duplicate_group") or mf.item_id(record)),
        time=time,
        ml_use=mf.ml_use_of(record),
    )


def _as_time(raw, name: str) -> float:
    if isinstance(raw, (int, float)):
        return float(raw)
    try:
        return np.datetime64(str(raw).rstrip("Z"), "ns").astype("int64").item() / 1e9
    except ValueError:
        raise SplitError(f"item {name}: time {raw!r} is neither a number nor an ISO-8601 timestamp") from None


# ---------------------------------------------------------------------------------------------


def assign_splits(keys: Sequence[ItemKey], spec: SplitSpec) -> SplitResult:
    """Assign each item to a split according to ``spec``, keeping groups whole."""
    if not keys:
        raise SplitError("nothing to split: the manifest has no items")
    groups = _groups(keys)
    _check_enough_groups(groups, spec)
    if spec.method == "ml_use":
        group_split = _from_ml_use(groups)
    elif spec.method == "chronological":
        group_split = _chronological(groups, spec.fractions)
    elif spec.method == "kfold":
        group_split = _kfold(groups, spec)
    elif spec.method == "stratified":
        group_split = _stratified(groups, spec.fractions, spec.seed)
    else:
        group_split = _by_fractions(sorted(groups), groups, spec.fractions, np.random.default_rng(spec.seed))
    if spec.method != "ml_use":  # with ml_use the items' own values are the caller's choice
        _check_no_empty_split(group_split, groups, spec)
    assignment = {key.id: group_split[key.group] for key in keys}
    counts: dict[str, dict[str, int]] = {split: {} for split in mf.ML_USES}
    for key in keys:
        per_label = counts[assignment[key.id]]
        per_label[key.label] = per_label.get(key.label, 0) + 1
    return SplitResult(assignment, {s: dict(sorted(c.items())) for s, c in counts.items()}, len(groups), spec)


def _wanted_splits(spec: SplitSpec) -> list[str]:
    """The splits ``spec`` asks to be non-empty: those with a fraction above 0 (kfold: its folds' validation too)."""
    if spec.method == "kfold":
        return ["training", "validation"] + (["test"] if spec.fractions[2] > 0 else [])
    return [split for split, fraction in zip(mf.ML_USES, spec.fractions) if fraction > 0]


def _check_enough_groups(groups: dict[str, list[ItemKey]], spec: SplitSpec) -> None:
    """Fail early, and say why, when there are fewer groups than non-empty splits wanted."""
    if spec.method == "ml_use":
        return
    wanted = _wanted_splits(spec)
    if len(groups) < len(wanted):
        items = sum(len(members) for members in groups.values())
        raise SplitError(
            f"{items} item(s) form {len(groups)} group(s) (near duplicates share one and a group stays in one "
            f"split), too few for {len(wanted)} non-empty splits ({', '.join(wanted)}); add items, or set the "
            "fraction of a split you do not want to 0"
        )


def _check_no_empty_split(group_split: dict[str, str], groups: dict[str, list[ItemKey]], spec: SplitSpec) -> None:
    """A split the fractions ask for must get items: an empty validation or test set is never silent."""
    sizes = dict.fromkeys(mf.ML_USES, 0)
    for name, split in group_split.items():
        sizes[split] += len(groups[name])
    empty = [split for split in _wanted_splits(spec) if sizes[split] == 0]
    if empty:
        items = sum(sizes.values())
        raise SplitError(
            f"the {', '.join(empty)} split would be empty: {items} item(s) in {len(groups)} group(s) cut by fractions "
            f"{tuple(spec.fractions)} leave none for it; add items, or set its fraction to 0 to make that choice "
            "explicit"
        )


def _groups(keys: Sequence[ItemKey]) -> dict[str, list[ItemKey]]:
    groups: dict[str, list[ItemKey]] = defaultdict(list)
    for key in keys:
        groups[key.group].append(key)
    return groups


def _group_label(members: list[ItemKey]) -> str:
    labels = [m.label for m in members if m.label != UNLABELED]
    return max(set(labels), key=lambda name: (labels.count(name), name)) if labels else UNLABELED


def _by_fractions(order: list[str], groups: dict[str, list[ItemKey]], fractions, rng) -> dict[str, str]:
    """Shuffle groups and cut the running item count at the fraction boundaries."""
    order = [order[i] for i in rng.permutation(len(order))]
    sizes = np.array([len(groups[g]) for g in order])
    return _cut(order, sizes, fractions)


def _cut(order: list[str], sizes: np.ndarray, fractions) -> dict[str, str]:
    """Give consecutive groups of ``order`` to training, validation, test by cumulative size."""
    total = sizes.sum()
    targets = np.round(np.cumsum(fractions) * total)
    midpoints = np.cumsum(sizes) - sizes / 2.0
    index = np.searchsorted(targets, midpoints, side="right").clip(0, 2)
    return {g: mf.ML_USES[i] for g, i in zip(order, index)}


def _stratified(groups: dict[str, list[ItemKey]], fractions, seed: int) -> dict[str, str]:
    """Per label, shuffle its groups and cut them by the fractions."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for name, members in groups.items():
        by_label[_group_label(members)].append(name)
    needed = sum(1 for f in fractions if f > 0)
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for label in sorted(by_label):
        names = sorted(by_label[label])
        if label != UNLABELED and len(names) < needed:
            members = sum(len(groups[name]) for name in names)
            raise SplitError(
                f"label {label!r} leads {len(names)} group(s) ({members} item(s); a group of near duplicates counts "
                f"once, under its most common label), too few to stratify over {needed} splits; label more items "
                "of it, drop it, or use method='random'"
            )
        out.update(_by_fractions(names, groups, fractions, rng))
    return out


def _from_ml_use(groups: dict[str, list[ItemKey]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, members in groups.items():
        uses = {m.ml_use for m in members}
        if None in uses:
            missing = next(m.id for m in members if m.ml_use is None)
            raise SplitError(
                f"item {missing} has no {mf.ML_USE_KEY} value; method='ml_use' needs one on every item "
                "(set it, or use method='stratified')"
            )
        if len(uses) > 1:
            raise SplitError(
                f"near-duplicate group {name} straddles splits {sorted(uses)}: that leaks test data into training; "
                "give the group's items one ml_use value"
            )
        use = uses.pop()
        if use not in mf.ML_USES:
            raise SplitError(
                f"item {members[0].id} has {mf.ML_USE_KEY} {use!r}; method='ml_use' needs one of "
                f"{', '.join(mf.ML_USES)} (fix the value, or use method='stratified')"
            )
        out[name] = use
    return out


def _chronological(groups: dict[str, list[ItemKey]], fractions) -> dict[str, str]:
    """Oldest groups to training, newest to test; a group's time is its earliest item's."""
    order = sorted(groups, key=lambda g: (min(m.time for m in groups[g]), g))
    return _cut(order, np.array([len(groups[g]) for g in order]), fractions)


def _kfold(groups: dict[str, list[ItemKey]], spec: SplitSpec) -> dict[str, str]:
    """Hold out the test fraction, then cut the rest into folds; ``spec.fold`` is validation."""
    test_fraction = spec.fractions[2]
    held = (
        _stratified(groups, (1 - test_fraction, 0.0, test_fraction), spec.seed)
        if test_fraction
        else {g: "training" for g in groups}
    )
    rest = sorted(g for g, s in held.items() if s == "training")
    rng = np.random.default_rng(spec.seed + 1)
    rest = [rest[i] for i in rng.permutation(len(rest))]
    if len(rest) < spec.folds:
        raise SplitError(f"{len(rest)} item group(s) outside the test split cannot fill {spec.folds} folds")
    out = {g: "test" for g, s in held.items() if s == "test"}
    for position, name in enumerate(rest):
        out[name] = "validation" if position % spec.folds == spec.fold else "training"
    return out


# ---------------------------------------------------------------------------------------------


def split_manifest(source: str, destination: str, spec: SplitSpec) -> SplitResult:
    """Split the manifest at ``source`` and write it, every item with its ``ml_use``, to ``destination``."""
    keys = []
    for line in mf.read_lines(source):
        try:
            keys.append(key_of(line.record, spec.time_field))
        except KeyError as err:  # no labelloop_id: the manifest did not come through import_dataset
            raise SplitError(f"{source}:{line.number}: {err.args[0]}") from None
    result = assign_splits(keys, spec)
    fold = {"fold": spec.fold, "folds": spec.folds} if spec.method == "kfold" else {}

    def assigned():
        for record in mf.read_jsonl(source):
            out = mf.with_ml_use(record, result.assignment[mf.item_id(record)])
            yield mf.with_extra(out, **fold) if fold else out

    mf.write_jsonl(destination, assigned())
    return result


def distribution_table(result: SplitResult) -> str:
    """A Markdown table of items per label and split."""
    labels = sorted({label for counts in result.counts.values() for label in counts})
    lines = ["| label | " + " | ".join(mf.ML_USES) + " |", "|---|" + "---:|" * len(mf.ML_USES)]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(str(result.counts[s].get(label, 0)) for s in mf.ML_USES) + " |")
    lines.append("| **total** | " + " | ".join(str(n) for n in result.summary().values()) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Tabular data: CSV or Parquet with an ``ml_use`` column.

TABLE_CHUNK_ROWS = 200_000


def file_format(path: str) -> str:
    """``jsonl``, ``parquet`` or ``csv``, read from the file's first bytes (artifact paths have no suffix)."""
    with mf.open_file(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if not head.strip():
        return "jsonl"  # empty: splitting it fails with "nothing to split", not a CSV parse error
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


def iter_table(path: str, chunk_rows: int | None = None):
    """Stream a CSV or Parquet file as pandas DataFrames of at most ``chunk_rows`` rows."""
    import pandas as pd
    import pyarrow.parquet as pq

    chunk_rows = chunk_rows or TABLE_CHUNK_ROWS
    if file_format(path) == "parquet":
        with mf.open_file(path, "rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
    else:
        with mf.open_file(path, "rb") as handle:
            yield from pd.read_csv(handle, chunksize=chunk_rows, keep_default_na=False, na_values=[""])


def table_keys(path: str, spec: SplitSpec, target_column: str, id_column: str, group_column: str = "") -> list[ItemKey]:
    """The :class:`ItemKey` of every row of a table (rows without ``id_column`` are numbered)."""
    keys: list[ItemKey] = []
    for chunk in iter_table(path):
        for column in filter(None, (target_column, spec.time_field, group_column)):
            if column not in chunk.columns:
                raise SplitError(f"{path}: no column {column!r}; columns are {', '.join(map(str, chunk.columns))}")
        row_numbers = [f"row{n}" for n in range(len(keys), len(keys) + len(chunk))]
        ids = chunk[id_column].astype(str) if id_column in chunk.columns else row_numbers
        labels = chunk[target_column].astype(str) if target_column else [UNLABELED] * len(chunk)
        groups = chunk[group_column].astype(str) if group_column else ids
        times = (
            [_as_time(t, i) for t, i in zip(chunk[spec.time_field], ids)] if spec.time_field else [None] * len(chunk)
        )
        uses = (
            chunk["ml_use"].astype(str).where(chunk["ml_use"].notna(), None)
            if "ml_use" in chunk.columns
            else [None] * len(chunk)
        )
        keys += [ItemKey(i, lab, g, t, u) for i, lab, g, t, u in zip(ids, labels, groups, times, uses)]
    return keys


def split_table(
    source: str,
    destination: str,
    spec: SplitSpec,
    *,
    target_column: str = "",
    id_column: str = "labelloop_id",
    group_column: str = "",
) -> SplitResult:
    """Split a CSV/Parquet table, writing it in the same format to ``destination`` with ``ml_use`` set."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = table_keys(source, spec, target_column, id_column, group_column)
    result = assign_splits(keys, spec)
    splits = [result.assignment[k.id] for k in keys]
    start, writer, parquet = 0, None, file_format(source) == "parquet"
    with mf.atomic_writer(destination) as handle:
        for chunk in iter_table(source):
            chunk = chunk.assign(ml_use=splits[start : start + len(chunk)])
            if parquet:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                writer = writer or pq.ParquetWriter(handle, table.schema)
                writer.write_table(table)
            else:
                chunk.to_csv(handle, index=False, header=start == 0)
            start += len(chunk)
        if writer is not None:
            writer.close()
    return result
