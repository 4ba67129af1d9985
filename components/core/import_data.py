"""Import a source into labelloop's item format: validate every row, id every item, count, report.

Sources: a folder of images (class-per-subfolder or unlabeled), a JSONL manifest in the Vertex
import schema (images or text), or a CSV/Parquet table. Every input item ends up either in the items
output (with its content id) or in the rejects manifest with its line and reason. The import fails
only when nothing valid remains, the reject rate exceeds the maximum, or a dataset-level rule set
to ``error`` is broken, and even then both outputs are written first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from . import manifest, sources, table_items, tabular, validate

DATA_TYPES = ("image", "text", "tabular")
LABEL_COUNT_SEVERITIES = ("warning", "error")


class ImportFailed(RuntimeError):
    """The import produced nothing usable; the message is the summary a person reads first."""


@dataclass(frozen=True)
class ImportOptions:
    """Everything an import needs besides its output paths.

    Attributes:
        source_uri: a folder, JSONL, CSV or Parquet file (local path or ``gs://``).
        data_type: ``image``, ``text`` or ``tabular``.
        source_format: ``auto`` (from the folder or suffix), ``image_folder``, ``jsonl``, ``csv``, ``parquet``.
        allowed_uri_schemes: ``gs`` on Vertex; add ``file`` for local runs.
        allowed_labels: accepted class names; empty accepts any valid name.
        target_column / weight_column: tabular columns (target empty for rows not labeled yet).
        max_reject_rate: the largest share of rejected items the import tolerates.
        min_items_per_label: Vertex's minimum labeled items per class (10 for text classification).
        label_count_severity: ``warning`` (report it) or ``error`` (fail) for labels under the minimum.
        read_batch: how many files to fetch at once.
        table_items: tables only: write the rows as JSON Lines row items (``table_items``: the
            target column becomes the label) instead of a table in the source's format.
    """

    source_uri: str
    data_type: str
    source_format: str = "auto"
    allowed_uri_schemes: tuple[str, ...] = ("gs",)
    allowed_labels: tuple[str, ...] = ()
    target_column: str = ""
    weight_column: str = ""
    max_reject_rate: float = 0.1
    min_items_per_label: int = validate.TEXT_MIN_ITEMS_PER_LABEL
    label_count_severity: str = "warning"
    read_batch: int = sources.DEFAULT_READ_BATCH
    table_items: bool = False

    def __post_init__(self) -> None:
        if self.data_type not in DATA_TYPES:
            raise validate.ValidationError(f"data_type must be one of {DATA_TYPES}, got {self.data_type!r}")
        if not 0.0 <= self.max_reject_rate <= 1.0:
            raise validate.ValidationError(f"max_reject_rate must be within [0, 1], got {self.max_reject_rate}")
        if self.label_count_severity not in LABEL_COUNT_SEVERITIES:
            raise validate.ValidationError(
                f"label_count_severity must be one of {LABEL_COUNT_SEVERITIES}, got {self.label_count_severity!r}"
            )
        if self.min_items_per_label < 0 or self.read_batch < 1:
            raise validate.ValidationError("min_items_per_label must be >= 0 and read_batch >= 1")
        for name in ("allowed_uri_schemes", "allowed_labels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class ImportResult:
    """What an import did.

    Attributes:
        total / kept / rejected: input items, items written, items rejected (total = kept + rejected).
        label_counts: kept items per class (multi-label items count once per label); ``(none)`` = unlabeled.
        split_counts: kept items per ``ml_use``; ``(none)`` = not assigned yet.
        reject_counts: rejected items per reason code.
        issues: dataset-level findings (warnings and errors).
        output_format: ``jsonl``, ``csv`` or ``parquet``.
    """

    source_uri: str
    source_format: str
    data_type: str
    output_format: str
    total: int
    kept: int
    rejected: int
    label_counts: dict[str, int]
    split_counts: dict[str, int]
    reject_counts: dict[str, int]
    issues: tuple[validate.DatasetIssue, ...] = ()

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.total if self.total else 0.0


@dataclass
class _Tally:
    """Running counts while items stream through."""

    total: int = 0
    kept: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)

    def add(self, record: dict) -> None:
        self.kept += 1
        names = manifest.labels_of(record) or ["(none)"]
        for name in names:
            self.labels[name] = self.labels.get(name, 0) + 1
        split = manifest.ml_use_of(record) or "(none)"
        self.splits[split] = self.splits.get(split, 0) + 1


@dataclass(frozen=True)
class _Pending:
    """A record that passed the record rules and awaits its file checks."""

    line: int | None
    raw: bytes | None
    record: dict


# ---------------------------------------------------------------------------------------------
# File checks and ids


def _carried_id(record: dict) -> str | None:
    labels = record.get("dataItemResourceLabels")
    return labels.get(manifest.ID_KEY) if isinstance(labels, dict) else None


def _content_problem(field_name: str, read: sources.FileRead) -> tuple[str, str] | None:
    if read.code:
        return read.code, read.reason
    if field_name == "imageGcsUri":
        found = sources.sniff_image_format(read.data)
        if found is None:
            return "not_an_image", f"{read.uri} does not start like a PNG/JPEG/GIF/BMP/ICO image; is it corrupt?"
        if found not in sources.VERTEX_IMPORT_FORMATS:
            return "unsupported_image_format", (
                f"{read.uri} holds {found.upper()} bytes, which Vertex does not import (it imports "
                f"{', '.join(f.upper() for f in sources.VERTEX_IMPORT_FORMATS)}); convert it, e.g. to PNG"
            )
    if field_name == "textGcsUri":
        try:
            read.data.decode("utf-8")
        except UnicodeDecodeError as err:
            return "not_utf8", f"{read.uri} is not UTF-8 text ({err}); Vertex requires UTF-8"
    return None


def _id_problem(carried: str | None, actual: str) -> tuple[str, str] | None:
    """A carried id that is not the content's: paid labels are keyed by id, so it is never kept."""
    if carried is None or carried == actual:
        return None
    return "id_mismatch", (
        f"{manifest.ID_KEY} {str(carried)[:80]!r} is not this content's id {actual!r}: the content changed since "
        f"it was imported, or the id was edited; remove {manifest.ID_KEY} to import it as new content (its "
        "labels then need buying again), or restore the original content"
    )


def _with_id_line(pending: _Pending, item_id: str) -> bytes:
    """The output line: the original bytes when they already carry the id, else the id added."""
    raw = pending.raw
    if raw is not None and _carried_id(pending.record) == item_id:
        return raw.rstrip(b"\r") + b"\n"
    if raw is not None and "dataItemResourceLabels" not in pending.record:
        body = raw.rstrip().removesuffix(b"}")
        return body + b',"dataItemResourceLabels":' + orjson.dumps({manifest.ID_KEY: item_id}) + b"}\n"
    return manifest.dumps(manifest.with_id(pending.record, item_id))


def _resolve_batch(
    batch: list[_Pending], reader: sources.FileReader
) -> list[tuple[_Pending, str | None, tuple[str, str] | None]]:
    """``(pending, id, problem)`` for each record: every file read (bounded) in one go for the batch,
    and a carried id checked against the content."""
    to_read = []
    for pending in batch:
        field_name, value = manifest.content_of(pending.record)
        if field_name != "textContent":
            to_read.append(value)
    reads = {r.uri: r for r in reader.read(to_read)} if to_read else {}
    out = []
    for pending in batch:
        field_name, value = manifest.content_of(pending.record)
        carried = _carried_id(pending.record)
        if field_name == "textContent":
            actual = manifest.content_id(value)
            out.append((pending, actual, _id_problem(carried, actual)))
            continue
        read = reads[value]
        problem = _content_problem(field_name, read)
        actual = None if problem else manifest.content_id(read.data)
        out.append((pending, actual, problem or _id_problem(carried, actual)))
    return out


def _emit(
    batch: list[_Pending], out, rejects: manifest.RejectsWriter, tally: _Tally, reader: sources.FileReader
) -> None:
    for pending, item_id, problem in _resolve_batch(batch, reader):
        if problem:
            rejects.reject(pending.record, *problem, line=pending.line)
            continue
        out.write(_with_id_line(pending, item_id))
        tally.add(pending.record)


# ---------------------------------------------------------------------------------------------
# Sources


def _import_jsonl(options: ImportOptions, rules: validate.Rules, out, rejects, tally: _Tally) -> None:
    reader = sources.FileReader()
    with manifest.open_file(options.source_uri, "rb") as handle:
        for block in validate.check_manifest(handle, rules):
            for problem in block.problems:
                raw = block.raw_lines[problem.line - block.first_line]
                record, _ = validate.parse_line(raw)
                rejects.reject(
                    record if record is not None else raw.decode("utf-8", "replace"),
                    problem.code,
                    problem.reason,
                    line=problem.line,
                )
            tally.total += len(block.accepted) + len(block.problems)
            pending = []
            for number, raw in block.kept_lines():
                record, problem = validate.parse_line(raw, check_keys=False)  # checked by check_manifest
                if problem:  # the screen accepted a line orjson refuses
                    rejects.reject(raw.decode("utf-8", "replace"), *problem, line=number)
                else:
                    pending.append(_Pending(number, raw, record))
            for batch in sources.batched(pending, options.read_batch):
                _emit(batch, out, rejects, tally, reader)


def _folder_items(options: ImportOptions, rules: validate.Rules, rejects, tally: _Tally) -> Iterator[_Pending]:
    """Records for each file of an image folder that passes the record rules; the rest are rejected."""
    for image in sources.list_image_folder(options.source_uri):
        tally.total += 1
        record = {"imageGcsUri": image.uri}
        if image.label is not None:
            record = manifest.with_label(record, image.label, source="import")
        problem = validate.check_record(record, rules)
        if problem is None:
            yield _Pending(None, None, record)
            continue
        code, reason = problem
        if image.label is not None and code in ("bad_label_name", "unknown_label"):
            reason = f"subfolder {image.label!r}: {reason}"
        rejects.reject(record, code, reason)


def _import_image_folder(options: ImportOptions, rules: validate.Rules, out, rejects, tally: _Tally) -> None:
    if options.data_type != "image":
        raise validate.ValidationError(f"an image folder imports as data_type 'image', not {options.data_type!r}")
    reader = sources.FileReader()
    for batch in sources.batched(_folder_items(options, rules, rejects, tally), options.read_batch):
        _emit(batch, out, rejects, tally, reader)


def _import_table(options: ImportOptions, fmt: str, items_path: str, rejects, tally: _Tally) -> list:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    rules = tabular.TableRules(options.target_column, options.weight_column, options.allowed_labels)
    schema, batches = sources.iter_table_batches(options.source_uri, fmt)
    stats = tabular.TableStats()
    out_schema = schema.append(pa.field(manifest.ID_KEY, pa.string()))
    with manifest.atomic_writer(items_path) as handle:
        if options.table_items:
            writer = _RowItemWriter(handle, options.target_column)
        elif fmt == "parquet":
            writer = pq.ParquetWriter(handle, out_schema)
        else:
            writer = pa_csv.CSVWriter(handle, out_schema)
        try:
            for kept, problems in tabular.check_table(schema, batches, rules, stats):
                for problem in problems:
                    rejects.reject(problem.record, problem.code, problem.reason, line=problem.row)
                writer.write_batch(kept)
        finally:
            writer.close()
    tally.total, tally.kept = stats.total, stats.kept
    tally.labels = stats.label_counts if rules.target_column else {"(none)": stats.kept} if stats.kept else {}
    tally.splits = stats.split_counts
    return tabular.dataset_issues(stats)


class _RowItemWriter:
    """Writes each kept batch as JSON Lines row items (the table writers' interface)."""

    def __init__(self, handle, target_column: str):
        self.handle, self.target_column = handle, target_column

    def write_batch(self, batch) -> None:
        for record in table_items.batch_items(batch, self.target_column):
            self.handle.write(manifest.dumps(record))

    def close(self) -> None:
        pass


def _reject_every_row(options: ImportOptions, fmt: str, rejects, tally: _Tally, reason: str) -> None:
    """Account for each row of a table whose columns cannot be imported: one ``bad_columns`` reject each."""
    _, batches = sources.iter_table_batches(options.source_uri, fmt)
    tally.total = tally.kept = 0
    for row, values in tabular.rows_of(batches):
        rejects.reject(values, "bad_columns", f"row {row}: {reason}", line=row)
        tally.total += 1


# ---------------------------------------------------------------------------------------------
# Entry point


def import_items(options: ImportOptions, items_path: str, rejects_path: str, *, step: str) -> ImportResult:
    """Validate and import ``options.source_uri``; writes the items and the rejects manifest.

    ``step`` is the name the rejects record as their producer (the calling component's).

    Returns:
        The counts and findings; call :func:`failure_summary` to decide whether the import failed.

    Raises:
        sources.SourceError: when the source is missing or its format cannot be read.
        tabular.TabularSchemaError: when a table's columns break a Vertex rule (outputs still written).
    """
    fmt = sources.detect_format(options.source_uri, options.source_format)
    tally = _Tally()
    issues: list[validate.DatasetIssue] = []
    with manifest.RejectsWriter(rejects_path, step) as rejects:
        if fmt in ("csv", "parquet"):
            if options.data_type != "tabular":
                raise validate.ValidationError(
                    f"a {fmt} source imports as data_type 'tabular', not {options.data_type!r}"
                )
            try:
                issues += _import_table(options, fmt, items_path, rejects, tally)
            except tabular.TabularSchemaError as err:
                manifest.write_jsonl(items_path, [])
                message = f"the table's columns break Vertex's rules, so no row was imported: {err}"
                issues.append(validate.DatasetIssue("bad_columns", message, "error"))
                _reject_every_row(options, fmt, rejects, tally, f"not imported: {err}")
            output_format = "jsonl" if options.table_items else fmt
        else:
            if options.data_type == "tabular":
                raise validate.ValidationError(f"tabular data comes from a csv or parquet file, not {fmt!r}")
            rules = validate.rules_from(options.data_type, options.allowed_uri_schemes, options.allowed_labels)
            with manifest.atomic_writer(items_path) as out:
                reader = _import_image_folder if fmt == "image_folder" else _import_jsonl
                reader(options, rules, out, rejects, tally)
            output_format = "jsonl"
        reject_counts = dict(sorted(rejects.counts.items()))
        rejected = rejects.total
    if options.data_type != "tabular":
        labeled = {name: n for name, n in tally.labels.items() if name != "(none)"}
        issues += (
            validate.label_count_issues(
                labeled, options.data_type, options.min_items_per_label, options.label_count_severity
            )
            if labeled
            else []
        )
        issues += validate.item_count_issues(tally.kept, options.data_type)
    return ImportResult(
        source_uri=options.source_uri,
        source_format=fmt,
        data_type=options.data_type,
        output_format=output_format,
        total=tally.total,
        kept=tally.kept,
        rejected=rejected,
        label_counts=dict(sorted(tally.labels.items())),
        split_counts=dict(sorted(tally.splits.items())),
        reject_counts=reject_counts,
        issues=tuple(issues),
    )


def failure_summary(result: ImportResult, max_reject_rate: float) -> str | None:
    """Why the import must fail, as one paragraph naming the top reject reasons; None when it passes."""
    reasons = []
    schema_failed = any(issue.code == "bad_columns" for issue in result.issues)
    if result.kept == 0 and not schema_failed:
        reasons.append(f"nothing valid remains of {result.total:,} input item(s)")
    elif result.reject_rate > max_reject_rate:
        reasons.append(
            f"{result.rejected:,} of {result.total:,} items rejected ({result.reject_rate:.1%}), "
            f"more than max_reject_rate {max_reject_rate:.1%}"
        )
    reasons += [issue.message for issue in result.issues if issue.severity == "error"]
    if not reasons:
        return None
    top = ", ".join(f"{code} ×{n:,}" for code, n in sorted(result.reject_counts.items(), key=lambda kv: -kv[1])[:5])
    hint = f" Top reject reasons: {top}; see the rejects manifest for each line." if top else ""
    return f"import of {result.source_uri} failed: " + "; ".join(reasons) + "." + hint


def render_report(result: ImportResult, max_reject_rate: float) -> str:
    """A Markdown report: totals, per-label and per-split counts, reject reasons, findings."""
    verdict = failure_summary(result, max_reject_rate)
    lines = [
        f"# Import of `{result.source_uri}`",
        "",
        f"**{'FAILED' if verdict else 'OK'}** — {result.kept:,} kept, {result.rejected:,} rejected of "
        f"{result.total:,} ({result.reject_rate:.1%} rejected; maximum {max_reject_rate:.1%}). "
        f"Source format `{result.source_format}`, data type `{result.data_type}`, output `{result.output_format}`.",
    ]
    if verdict:
        lines += ["", f"> {verdict}"]
    lines += _table("Items per label", "label", result.label_counts)
    lines += _table("Items per split (ml_use)", "split", result.split_counts)
    lines += _table("Rejects by reason", "reason", result.reject_counts)
    if result.issues:
        lines += ["", "## Dataset checks", ""]
        lines += [f"- **{i.severity}** `{i.code}`: {i.message}" for i in result.issues]
    return "\n".join(lines) + "\n"


def _table(title: str, key: str, counts: dict[str, int]) -> list[str]:
    if not counts:
        return ["", f"## {title}", "", "(none)"]
    rows = [f"| `{name}` | {count:,} |" for name, count in counts.items()]
    return ["", f"## {title}", "", f"| {key} | items |", "| --- | ---: |", *rows]


def metrics_of(result: ImportResult) -> dict[str, float]:
    """Flat numeric metrics for a KFP ``Metrics`` artifact."""
    metrics: dict[str, float] = {
        "items_total": result.total,
        "items_kept": result.kept,
        "items_rejected": result.rejected,
        "reject_rate": round(result.reject_rate, 6),
    }
    metrics.update({f"label_{name}": n for name, n in result.label_counts.items()})
    metrics.update({f"split_{name}": n for name, n in result.split_counts.items()})
    metrics.update({f"rejects_{code}": n for code, n in result.reject_counts.items()})
    return metrics


def options_from(
    source_uri: str,
    data_type: str,
    source_format: str = "auto",
    *,
    allowed_uri_schemes: Iterable[str] = ("gs",),
    allowed_labels: Iterable[str] = (),
    **rest,
) -> ImportOptions:
    """:class:`ImportOptions` from plain parameters (lists as they arrive from a component)."""
    return ImportOptions(
        source_uri=source_uri,
        data_type=data_type,
        source_format=source_format,
        allowed_uri_schemes=tuple(allowed_uri_schemes),
        allowed_labels=tuple(allowed_labels),
        **rest,
    )
