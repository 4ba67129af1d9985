"""Tabular rows for AutoML Tabular: Vertex's column and row rules, streamed batch by batch.

Rules (source: /work/shared/reference/vertex-datasets-labeling-automl-guide.md, "TabularDataset"):
2 to 1,000 columns; column names of letters, digits and ``_``, not starting with ``_``; no nulls in
the target column; ``ml_use`` (when present) one of training/validation/test; a weight column in
[0, 10000]; categorical (text) columns with 2 to 500 distinct values; 1,000 to 100,000,000 rows.
Column rules fail the whole table before any row is read; row rules reject single rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .manifest import ID_KEY, ML_USES, content_id
from .validate import DatasetIssue

ML_USE_COLUMN = "ml_use"
MIN_COLUMNS, MAX_COLUMNS = 2, 1000
MIN_ROWS, MAX_ROWS = 1_000, 100_000_000
MIN_CATEGORIES, MAX_CATEGORIES = 2, 500
MAX_WEIGHT = 10_000
_COLUMN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_NUMBER_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


class TabularSchemaError(ValueError):
    """The table's columns break a Vertex rule; the message lists every problem."""


@dataclass(frozen=True)
class TableRules:
    """What to check beyond Vertex's fixed rules.

    Attributes:
        target_column: the column to predict; empty when the rows are not labeled yet.
        weight_column: an optional per-row weight column.
        allowed_labels: accepted target values; empty accepts any.
    """

    target_column: str = ""
    weight_column: str = ""
    allowed_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowProblem:
    """One rejected row: its 1-based data row number (header excluded), code, reason and values."""

    row: int
    code: str
    reason: str
    record: dict


def schema_problems(schema: pa.Schema, rules: TableRules) -> list[str]:
    """Every column-level rule the schema breaks, as sentences; empty when it is fine."""
    names = schema.names
    problems = []
    data_columns = [n for n in names if n != ML_USE_COLUMN]
    if not MIN_COLUMNS <= len(data_columns) <= MAX_COLUMNS:
        hint = ""
        if len(names) == 1 and any(mark in names[0] for mark in (";", "\t", "|")):
            hint = f" (the header {names[0][:60]!r} looks separated by something other than commas; save it as CSV)"
        problems.append(
            f"{len(data_columns)} columns (besides ml_use); Vertex needs {MIN_COLUMNS} to {MAX_COLUMNS}{hint}"
        )
    bad = [n for n in names if not _COLUMN_NAME_RE.match(n)]
    if bad:
        problems.append(f"column names {bad[:10]} must use only letters, digits and '_' and not start with '_'")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(f"column names {repeated} appear more than once")
    if ID_KEY in names:
        problems.append(f"column {ID_KEY!r} is reserved for labelloop's item id; rename it")
    for role, column in (("target_column", rules.target_column), ("weight_column", rules.weight_column)):
        if column and column not in names:
            problems.append(f"{role} {column!r} is not a column (columns: {', '.join(names[:20])})")
    if rules.weight_column in names:
        kind = schema.field(rules.weight_column).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_string(kind)):
            problems.append(f"weight_column {rules.weight_column!r} has type {kind}; it must be numeric")
    return problems


def _row_checks(batch: pa.RecordBatch, rules: TableRules) -> list[tuple[np.ndarray, str, str]]:
    """``(bad_mask, code, reason template)`` per row rule, vectorised over the batch."""
    checks = []
    names = batch.schema.names
    if rules.target_column:
        target = batch.column(rules.target_column)
        checks.append((_mask(pc.is_null(target)), "null_target", f"target column {rules.target_column!r} is empty"))
        if rules.allowed_labels:
            known = pc.is_in(pc.cast(target, pa.string()), value_set=pa.array(rules.allowed_labels, pa.string()))
            checks.append(
                (
                    ~_mask(known) & ~_mask(pc.is_null(target)),
                    "unknown_label",
                    f"target value is not an allowed class ({', '.join(rules.allowed_labels)})",
                )
            )
    if ML_USE_COLUMN in names:
        ml_use = pc.cast(batch.column(ML_USE_COLUMN), pa.string())
        checks.append(
            (
                ~_mask(pc.is_in(ml_use, value_set=pa.array(ML_USES))),
                "bad_ml_use",
                f"ml_use must be one of {', '.join(ML_USES)}",
            )
        )
    if rules.weight_column:
        weight = _as_float(batch.column(rules.weight_column))
        in_range = pc.and_(pc.greater_equal(weight, 0), pc.less_equal(weight, MAX_WEIGHT))
        checks.append((~_mask(in_range), "bad_weight", f"weight must be a number in [0, {MAX_WEIGHT}]"))
    return checks


def _mask(array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_float(column: pa.Array) -> pa.Array:
    """Numbers as float64; text that is not a number becomes null (and so out of range)."""
    if pa.types.is_string(column.type):
        cleaned = pc.if_else(
            pc.match_substring_regex(column, _NUMBER_PATTERN),
            pc.utf8_trim_whitespace(column),
            pa.scalar(None, pa.string()),
        )
        return pc.cast(cleaned, pa.float64())
    return pc.cast(column, pa.float64())


def row_ids(batch: pa.RecordBatch) -> list[str]:
    """Content id of each row: SHA-256 of its values (``ml_use`` excluded: a split is not content)."""
    columns = [batch.column(i).to_pylist() for i, n in enumerate(batch.schema.names) if n != ML_USE_COLUMN]
    return [
        content_id(orjson.dumps(list(values), option=orjson.OPT_SERIALIZE_NUMPY, default=str))
        for values in zip(*columns)
    ]


@dataclass
class TableStats:
    """Running counts over the rows kept so far."""

    total: int = 0
    kept: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    categories: dict[str, set] = field(default_factory=dict)
    textual: set[str] = field(default_factory=set)  # text columns holding a value that is not a number


def check_batch(
    batch: pa.RecordBatch, first_row: int, rules: TableRules, *, rows: np.ndarray | None = None
) -> tuple[pa.RecordBatch, list[RowProblem]]:
    """The kept rows of ``batch`` with a ``labelloop_id`` column appended, and every rejected row.

    ``rows`` numbers the rows when they are not consecutive from ``first_row`` (rows were dropped
    while reading).
    """
    bad = np.zeros(batch.num_rows, dtype=bool)
    problems: dict[int, RowProblem] = {}
    for mask, code, reason in _row_checks(batch, rules):
        for index in np.flatnonzero(mask & ~bad).tolist():
            record = {name: batch.column(name)[index].as_py() for name in batch.schema.names}
            row = int(rows[index]) if rows is not None else first_row + index
            problems[index] = RowProblem(row, code, f"row {row}: {reason}", record)
        bad |= mask
    kept = batch.filter(pa.array(~bad)) if bad.any() else batch
    kept = kept.append_column(ID_KEY, pa.array(row_ids(kept), pa.string()))
    return kept, [problems[i] for i in sorted(problems)]


def update_stats(stats: TableStats, kept: pa.RecordBatch, rules: TableRules, categorical: Iterable[str]) -> None:
    """Add a batch of kept rows to the running label, split and category counts."""
    stats.kept += kept.num_rows
    if rules.target_column:
        _add_counts(stats.label_counts, kept.column(rules.target_column))
    if ML_USE_COLUMN in kept.schema.names:
        _add_counts(stats.split_counts, kept.column(ML_USE_COLUMN))
    else:
        stats.split_counts["(none)"] = stats.split_counts.get("(none)", 0) + kept.num_rows
    for name in categorical:
        column = kept.column(name)
        if name not in stats.textual and not _all_numeric(column):
            stats.textual.add(name)
        seen = stats.categories.setdefault(name, set())
        if len(seen) <= MAX_CATEGORIES:
            seen.update(pc.unique(kept.column(name)).drop_null().to_pylist()[: MAX_CATEGORIES + 1])


def _all_numeric(column: pa.Array) -> bool:
    """Whether every non-null value of a text column reads as a number (CSV columns arrive as text)."""
    values = column.drop_null()
    return len(values) == 0 or bool(pc.all(pc.match_substring_regex(values, _NUMBER_PATTERN)).as_py())


def _add_counts(counts: dict[str, int], column: pa.Array) -> None:
    for entry in pc.value_counts(column).to_pylist():
        name = "(none)" if entry["values"] is None else str(entry["values"])
        counts[name] = counts.get(name, 0) + entry["counts"]


def categorical_columns(schema: pa.Schema, rules: TableRules) -> list[str]:
    """Text columns other than the target and ml_use: the ones Vertex treats as categorical."""
    skip = {rules.target_column, ML_USE_COLUMN, rules.weight_column}
    return [
        f.name for f in schema if f.name not in skip and (pa.types.is_string(f.type) or pa.types.is_dictionary(f.type))
    ]


def dataset_issues(stats: TableStats) -> list[DatasetIssue]:
    """Row-count and category-count rules over the whole kept table."""
    issues = []
    if stats.kept < MIN_ROWS:
        issues.append(
            DatasetIssue(
                "too_few_rows",
                f"{stats.kept:,} rows kept; AutoML Tabular needs at least {MIN_ROWS:,} to train",
                "warning",
            )
        )
    if stats.kept > MAX_ROWS:
        issues.append(
            DatasetIssue("too_many_rows", f"{stats.kept:,} rows exceed Vertex's limit of {MAX_ROWS:,}", "error")
        )
    odd = {
        name: len(values)
        for name, values in stats.categories.items()
        if name in stats.textual and not MIN_CATEGORIES <= len(values) <= MAX_CATEGORIES
    }
    if odd:
        listed = ", ".join(
            f"{name} ({'>' + str(MAX_CATEGORIES) if n > MAX_CATEGORIES else n})" for name, n in odd.items()
        )
        issues.append(
            DatasetIssue(
                "categorical_cardinality",
                f"categorical columns need {MIN_CATEGORIES} to {MAX_CATEGORIES} distinct values: {listed}; "
                "Vertex treats them as text or drops them",
                "warning",
            )
        )
    return issues


def check_table(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], rules: TableRules, stats: TableStats
) -> Iterator[tuple[pa.RecordBatch, list[RowProblem]]]:
    """Check a streamed table; yields each batch's kept rows and problems while filling ``stats``.

    Raises:
        TabularSchemaError: before any row is read when a column rule is broken.
    """
    problems = schema_problems(schema, rules)
    if problems:
        raise TabularSchemaError("; ".join(problems))
    categorical = categorical_columns(schema, rules)
    for item in batches:
        batch, rows, unreadable = _unpacked(item)
        kept, rejected = check_batch(batch, stats.total + 1, rules, rows=rows)
        stats.total += batch.num_rows + len(unreadable)
        update_stats(stats, kept, rules, categorical)
        dropped = [RowProblem(row, code, reason, record) for row, code, reason, record in unreadable]
        yield kept, sorted(rejected + dropped, key=lambda problem: problem.row)


def _unpacked(item) -> tuple[pa.RecordBatch, np.ndarray | None, tuple]:
    """``(batch, row numbers or None, unreadable rows)`` of a record batch or a CSV ``TableChunk``."""
    if isinstance(item, (pa.RecordBatch, pa.Table)):
        return item, None, ()
    return item.batch, item.rows, item.unreadable


def rows_of(batches: Iterable) -> Iterator[tuple[int, dict]]:
    """``(row number, values)`` of every row of a streamed table, readable or not: for rejecting
    them all when the table's columns cannot be imported."""
    done = 0
    for item in batches:
        batch, rows, unreadable = _unpacked(item)
        numbers = rows if rows is not None else range(done + 1, done + batch.num_rows + 1)
        found = [(int(n), values) for n, values in zip(numbers, batch.to_pylist())]
        found += [(row, record) for row, _, _, record in unreadable]
        done += batch.num_rows + len(unreadable)
        yield from sorted(found, key=lambda entry: entry[0])
