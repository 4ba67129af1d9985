"""Reading import sources, local or ``gs://``: image folders, JSONL manifests, CSV/Parquet tables.

Everything streams. File checks are batched: existence is answered by listing each folder once
(never one stat per item) and file bytes are fetched many at a time (``fsspec``'s ``cat`` of a list,
which gcsfs runs concurrently). fsspec is imported only where it is used, and gcsfs only by fsspec
when a ``gs://`` path is used.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fsspec is imported where it is used: it costs a component ~0.2 s of start-up
    import fsspec

SOURCE_FORMATS = ("auto", "image_folder", "jsonl", "csv", "parquet")
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DEFAULT_READ_BATCH = 64
#: The most bytes read from one item file: Vertex takes image files up to 30 MB
#: (https://cloud.google.com/vertex-ai/docs/image-data/classification/prepare-data); a larger
#: file (or a link to ``/dev/zero``) is one ``file_too_large`` reject, read no further.
MAX_FILE_BYTES = 30_000_000
#: Formats Vertex *imports* for image datasets: PNG, JPEG, GIF, BMP, ICO. TIFF and WEBP are output
#: formats only (https://cloud.google.com/vertex-ai/docs/image-data/classification/prepare-data).
VERTEX_IMPORT_FORMATS = ("png", "jpeg", "gif", "bmp", "ico")

_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


class SourceError(ValueError):
    """A source cannot be read at all; the message names it and says what to do."""


@dataclass(frozen=True)
class FolderImage:
    """One file found under an image folder.

    Attributes:
        uri: the file as a ``gs://`` URI or an absolute local path.
        label: the class-per-subfolder label (first folder below the root), None at the root.
        size: its size in bytes.
    """

    uri: str
    label: str | None
    size: int


@dataclass(frozen=True)
class FileRead:
    """The outcome of reading one file: its bytes, or a reject code and reason."""

    uri: str
    data: bytes | None
    code: str | None = None
    reason: str | None = None


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem for ``uri`` and the path within it."""
    import fsspec

    return fsspec.core.url_to_fs(uri)


def uri_of(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """The URI a person would write for ``path`` on ``fs`` (``gs://…`` or an absolute path)."""
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    if protocol in ("file", "local"):
        return path
    return f"{'gs' if protocol in ('gs', 'gcs') else protocol}://{path}"


def detect_format(source_uri: str, source_format: str = "auto") -> str:
    """The concrete source format: the one given, or guessed from a folder or the file suffix."""
    if source_format not in SOURCE_FORMATS:
        raise SourceError(f"source_format must be one of {', '.join(SOURCE_FORMATS)}, got {source_format!r}")
    fs, path = filesystem(source_uri)
    if not fs.exists(path):
        raise SourceError(f"source {source_uri!r} does not exist; check the path and your access to it")
    is_dir = fs.isdir(path)
    if not is_dir:
        _require_regular_file(source_uri, fs, path)
    if source_format != "auto":
        if (source_format == "image_folder") != is_dir:
            kind = "a folder" if is_dir else "a file"
            raise SourceError(f"source {source_uri!r} is {kind}, which does not fit source_format={source_format!r}")
        return source_format
    if is_dir:
        return "image_folder"
    suffix = posixpath.splitext(path.lower().removesuffix(".gz"))[1]
    if suffix not in _SUFFIX_FORMATS:
        raise SourceError(
            f"cannot tell the format of {source_uri!r} from its suffix {suffix!r}; pass source_format "
            f"({', '.join(SOURCE_FORMATS[1:])})"
        )
    return _SUFFIX_FORMATS[suffix]


def _require_regular_file(source_uri: str, fs, path: str) -> None:
    """A local source must be a regular file: a FIFO would hang the import and ``/dev/zero`` never ends."""
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    if protocol not in ("file", "local"):
        return
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise SourceError(
            f"source {source_uri!r} is a {_file_kind(mode)}, not a regular file; copy the data to a file and "
            "import that"
        )


def list_image_folder(root_uri: str) -> list[FolderImage]:
    """Every file below ``root_uri`` (one recursive listing), sorted, labeled by its first subfolder."""
    fs, root = filesystem(root_uri)
    root = root.rstrip("/")
    found = fs.find(root, detail=True)
    images = []
    for path, info in sorted(found.items()):
        if info.get("type") == "directory":
            continue
        relative = path[len(root) :].lstrip("/").split("/")
        label = relative[0] if len(relative) > 1 else None
        images.append(FolderImage(uri=uri_of(fs, path), label=label, size=int(info.get("size") or 0)))
    return images


def split_uri(uri: str) -> tuple[str, str]:
    """``(protocol, path)`` of a URI without building a filesystem: ``gs://b/o`` → ``("gs", "b/o")``."""
    protocol, sep, rest = uri.partition("://")
    if not sep:
        return "file", uri
    if protocol == "file":
        return "file", rest
    return ("gs" if protocol == "gcs" else protocol), rest


def _group_by_folder(
    uris: Iterable[str],
) -> tuple[dict[tuple[str, str], list[tuple[str, str]]], dict[str, fsspec.AbstractFileSystem]]:
    """URIs grouped by (protocol, parent folder) as ``{(protocol, parent): [(uri, path)]}``, and the filesystems."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for uri in uris:
        protocol, path = split_uri(uri)
        groups[(protocol, posixpath.dirname(path))].append((uri, path))
    import fsspec

    filesystems = {protocol: fsspec.filesystem(protocol) for protocol, _ in groups}
    return groups, filesystems


def file_sizes(uris: Iterable[str]) -> dict[str, int | None]:
    """Size of each URI's file (None when missing), listing each parent folder once."""
    groups, filesystems = _group_by_folder(uris)
    sizes: dict[str, int | None] = {}
    for (protocol, parent), members in groups.items():
        try:
            listing = filesystems[protocol].ls(parent, detail=True, refresh=True)
        except FileNotFoundError:
            listing = []
        files = {entry["name"].rstrip("/"): entry.get("size") for entry in listing if entry.get("type") != "directory"}
        for uri, path in members:
            size = files.get(path)
            sizes[uri] = None if size is None and path not in files else int(size or 0)
    return sizes


def read_files(uris: list[str], *, max_bytes: int = MAX_FILE_BYTES) -> list[FileRead]:
    """Read every URI's bytes (see :class:`FileReader`); failures become reject codes."""
    return FileReader(max_bytes=max_bytes).read(uris)


@dataclass
class FileReader:
    """Reads item files for one import: only regular files, at most ``max_bytes`` each, and a
    missing ``gs://`` bucket is found once (one request) instead of once per item with retries.

    Local files are opened non-blocking and checked with ``fstat`` on the open descriptor before a
    byte is read, so a FIFO named ``x.jpg`` cannot hang the import and a link to ``/dev/zero`` is
    refused, not read. ``gs://`` objects are read concurrently (gcsfs' ``cat_ranges``, which also
    reads names holding glob characters such as ``[`` as is), each only up to ``max_bytes + 1``.
    """

    max_bytes: int = MAX_FILE_BYTES
    #: bucket -> None (readable) or ``(code, reason)`` that every object in it gets.
    buckets: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    def read(self, uris: list[str]) -> list[FileRead]:
        by_uri: dict[str, FileRead] = {}
        remote: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for uri in dict.fromkeys(uris):
            protocol, path = split_uri(uri)
            if protocol == "file":
                by_uri[uri] = read_local_file(uri, path, self.max_bytes)
                continue
            problem = self._bucket_problem(protocol, path.split("/", 1)[0])
            if problem:
                by_uri[uri] = FileRead(uri, None, problem[0], f"{uri}: {problem[1]}")
            else:
                remote[protocol].append((uri, path))
        for protocol, members in remote.items():
            import fsspec

            paths = [path for _, path in members]
            results = fsspec.filesystem(protocol).cat_ranges(
                paths, [0] * len(paths), [self.max_bytes + 1] * len(paths), on_error="return"
            )
            for (uri, _), result in zip(members, results):
                by_uri[uri] = _file_read(uri, result, self.max_bytes)
        return [by_uri[uri] for uri in uris]

    def _bucket_problem(self, protocol: str, bucket: str) -> tuple[str, str] | None:
        """Whether ``bucket`` can hold readable objects, asked once per import.

        Only a definite answer counts: "not found" rejects its items at once, and an error that is
        not about permission (network, DNS) too, since each item's read would meet it again after
        its own retries. A permission error on the bucket itself is not final (object reads may
        still be allowed), so those items are read one by one.
        """
        key = f"{protocol}://{bucket}"
        if key not in self.buckets:
            import fsspec

            try:
                fsspec.filesystem(protocol).info(bucket)
                self.buckets[key] = None
            except FileNotFoundError:
                self.buckets[key] = (
                    "bucket_not_found",
                    f"bucket {key} does not exist; fix the bucket name or create it",
                )
            except PermissionError:
                self.buckets[key] = None
            except Exception as err:  # noqa: BLE001 - any other failure would repeat for every item
                self.buckets[key] = (
                    "unreadable",
                    f"bucket {key} cannot be reached ({type(err).__name__}: {str(err)[:200]}); check access",
                )
        return self.buckets[key]


def read_local_file(uri: str, path: str, max_bytes: int = MAX_FILE_BYTES) -> FileRead:
    """One local file's bytes; only a regular file, never more than ``max_bytes + 1`` bytes read."""
    path = os.path.expanduser(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return FileRead(uri, None, "file_not_found", f"{uri} does not exist; fix the URI or upload the file")
    except OSError as err:
        return FileRead(uri, None, "unreadable", f"{uri} could not be opened ({type(err).__name__}: {err})")
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return FileRead(uri, None, "file_not_found", f"{uri} is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            return FileRead(
                uri,
                None,
                "not_a_regular_file",
                f"{uri} is a {_file_kind(info.st_mode)}, not a regular file; only regular files are imported",
            )
        if info.st_size > max_bytes:
            return _too_large(uri, max_bytes)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return _file_read(uri, b"".join(chunks), max_bytes)
    except OSError as err:
        return FileRead(uri, None, "unreadable", f"{uri} could not be read ({type(err).__name__}: {err})")
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def _too_large(uri: str, max_bytes: int) -> FileRead:
    return FileRead(
        uri, None, "file_too_large", f"{uri} is larger than {max_bytes:,} bytes, the most an item file may hold"
    )


def _file_read(uri: str, result: bytes | Exception, max_bytes: int = MAX_FILE_BYTES) -> FileRead:
    if isinstance(result, FileNotFoundError):
        return FileRead(uri, None, "file_not_found", f"{uri} does not exist; fix the URI or upload the file")
    if isinstance(result, IsADirectoryError):
        return FileRead(uri, None, "file_not_found", f"{uri} is a folder, not a file")
    if isinstance(result, Exception):
        return FileRead(uri, None, "unreadable", f"{uri} could not be read ({type(result).__name__}: {result})")
    if not result:
        return FileRead(uri, None, "empty_file", f"{uri} is empty")
    if len(result) > max_bytes:
        return _too_large(uri, max_bytes)
    return FileRead(uri, result)


def sniff_image_format(data: bytes) -> str | None:
    """The image format named by the file's first bytes, or None when it is not a known image."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for signature, name in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of at most ``size`` items."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class TableChunk:
    """One batch of a table's readable rows, their row numbers and the rows that could not be read.

    Attributes:
        batch: the rows read, every CSV column as UTF-8 text.
        rows: the 1-based data row number (header excluded) of each row of ``batch``.
        unreadable: ``(row, code, reason, values)`` of each row dropped while reading (a ragged or
            non-UTF-8 row), so a malformed row is one reject, not the end of the import.
    """

    batch: object  # pyarrow.RecordBatch
    rows: object  # numpy array of int64
    unreadable: tuple[tuple[int, str, str, dict], ...] = ()


def iter_table_batches(source_uri: str, source_format: str, batch_rows: int = 65_536):
    """Stream a CSV (every column read as text, empty = null) or Parquet file as Arrow record batches.

    Returns:
        ``(schema, batches)``: the file's schema and an iterator of ``pyarrow.RecordBatch`` (Parquet)
        or :class:`TableChunk` (CSV, whose malformed rows are reported, not raised).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from .manifest import open_file

    if source_format not in ("csv", "parquet"):
        raise SourceError(f"tabular sources are csv or parquet, got {source_format!r}")
    if source_format == "parquet":
        handle = open_file(source_uri, "rb")
        try:
            parquet = pq.ParquetFile(handle)
        except (pa.ArrowException, OSError) as err:
            handle.close()
            raise SourceError(f"{source_uri} is not a readable Parquet file ({err}); re-export it") from None
        return parquet.schema_arrow, _closing(_parquet_batches(parquet, source_uri, batch_rows), handle)
    names = _csv_header(source_uri)
    skipped: list[tuple[int | None, int, int, str]] = []

    def on_invalid_row(row) -> str:
        skipped.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    handle = Utf8Marked(open_file(source_uri, "rb"))
    # Single-threaded: the reader then numbers the rows it skips (it cannot when parsing in
    # parallel), and streaming one block at a time is as fast (the file is read in order anyway).
    reader = pa_csv.open_csv(
        handle,
        read_options=pa_csv.ReadOptions(block_size=8 << 20, use_threads=False),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid_row, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=True
        ),
    )
    schema = pa.schema([pa.field(name, pa.string()) for name in reader.schema.names])
    return schema, _closing(_csv_chunks(reader, schema, skipped), handle)


def _parquet_batches(parquet, source_uri: str, batch_rows: int) -> Iterator:
    """The file's record batches; a corrupt page is a SourceError naming the file, not a bare Arrow error."""
    import pyarrow as pa

    try:
        yield from parquet.iter_batches(batch_size=batch_rows)
    except (pa.ArrowException, OSError) as err:
        raise SourceError(
            f"{source_uri}: a Parquet page cannot be read ({err}); the file is corrupt, re-export it"
        ) from None


def _csv_chunks(reader, schema, skipped: list) -> Iterator[TableChunk]:
    """Each block of the CSV as a :class:`TableChunk`: ragged rows (skipped by the reader) and rows
    that are not UTF-8 become ``unreadable`` entries with their data row numbers."""
    import numpy as np

    done, seen = 0, 0  # data rows accounted for so far; entries of ``skipped`` handled so far
    for batch in reader:
        fresh, seen = skipped[seen:], len(skipped)
        span = np.arange(done + 1, done + batch.num_rows + len(fresh) + 1, dtype=np.int64)
        ragged = {}
        for number, expected, actual, text in fresh:
            row = number - 1 if number else None  # the reader counts the header as record 1
            if row is None or row not in span or row in ragged:
                row = next(int(r) for r in span[::-1] if int(r) not in ragged)  # unnumbered: placed last
            ragged[row] = (expected, actual, text)
        rows = span[~np.isin(span, np.fromiter(ragged, dtype=np.int64, count=len(ragged)))]
        unreadable = [
            (row, "bad_row", _ragged_reason(row, expected, actual, text), {"text": text[:10_000]})
            for row, (expected, actual, text) in ragged.items()
        ]
        batch, rows, not_utf8 = _as_text(batch, rows, schema)
        done = int(span[-1]) if len(span) else done
        yield TableChunk(batch, rows, tuple(sorted(unreadable + not_utf8, key=lambda entry: entry[0])))
    if len(skipped) > seen:  # rows skipped after the last batch (the reader yields no empty batch)
        import pyarrow as pa

        empty = pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in schema.names], schema=schema)
        yield _tail_chunk(empty, done, skipped[seen:])


def _tail_chunk(empty, done: int, fresh: list) -> TableChunk:
    """A chunk of no rows carrying the ragged rows the reader skipped after its last batch."""
    import numpy as np

    unreadable = []
    for offset, (number, expected, actual, text) in enumerate(fresh, start=1):
        row = number - 1 if number else done + offset
        unreadable.append((row, "bad_row", _ragged_reason(row, expected, actual, text), {"text": text[:10_000]}))
    return TableChunk(empty, np.zeros(0, dtype=np.int64), tuple(unreadable))


def _ragged_reason(row: int, expected: int, actual: int, text: str) -> str:
    marked = " and bytes that are not UTF-8" if NOT_UTF8_MARK in text else ""
    return (
        f"row {row} has {actual} field(s){marked} where the header has {expected}; quote values holding commas "
        "or newlines, or fix the row"
    )


def _as_text(batch, rows, schema):
    """``batch`` less the rows holding bytes that were not UTF-8 (marked by :class:`Utf8Marked`)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    bad = np.zeros(batch.num_rows, dtype=bool)
    where: dict[int, str] = {}
    for index, name in enumerate(batch.schema.names):
        marked = pc.fill_null(pc.match_substring(batch.column(index), NOT_UTF8_MARK), False)
        hits = np.asarray(marked.to_numpy(zero_copy_only=False), dtype=bool) & ~bad
        for position in np.flatnonzero(hits).tolist():
            where[position] = name
        bad |= hits
    unreadable = []
    for position in sorted(where):
        row = int(rows[position])
        values = {n: batch.column(i)[position].as_py() for i, n in enumerate(batch.schema.names)}
        unreadable.append(
            (
                row,
                "not_utf8",
                f"row {row}: column {where[position]!r} is not UTF-8 text; save the file as UTF-8",
                values,
            )
        )
    if bad.any():
        batch, rows = batch.filter(pa.array(~bad)), rows[~bad]
    return pa.RecordBatch.from_arrays(list(batch.columns), schema=schema), rows, unreadable


#: What :class:`Utf8Marked` puts in place of each byte that is not UTF-8: a Unicode noncharacter,
#: which text meant for interchange never holds, so a marked value is a value that was not UTF-8.
NOT_UTF8_MARK = "\ufdd0"


class Utf8Marked:
    """A binary file whose bytes that are not UTF-8 are each replaced by :data:`NOT_UTF8_MARK`.

    Arrow's CSV reader fails the whole file on a skipped (ragged) row that is not UTF-8, before the
    row handler sees it; with the bytes marked, such a row is one reject like any other. Clean
    chunks pass through untouched (one C-speed decode to check them).
    """

    def __init__(self, handle):
        self._handle = handle
        self._carry = b""  # the start of a UTF-8 sequence the next chunk finishes
        self._out = b""  # marked bytes not returned yet
        self._eof = False
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` marked bytes (all that is left when ``size`` is negative)."""
        while (size is None or size < 0 or len(self._out) < size) and not self._eof:
            chunk = self._handle.read(1 << 20 if size is None or size < 0 else max(size, 1 << 16))
            if not chunk:
                self._eof = True
                self._out += _marked(self._carry)
                self._carry = b""
                break
            data, self._carry = _split_incomplete_tail(self._carry + chunk)
            self._out += _marked(data)
        if size is None or size < 0:
            out, self._out = self._out, b""
        else:
            out, self._out = self._out[:size], self._out[size:]
        return out

    def close(self) -> None:
        self.closed = True
        self._handle.close()


_ESCAPED_BYTE_RE = re.compile("[\udc80-\udcff]")


def _marked(data: bytes) -> bytes:
    """``data`` with each byte that is not UTF-8 replaced by :data:`NOT_UTF8_MARK`."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="surrogateescape")
        return _ESCAPED_BYTE_RE.sub(NOT_UTF8_MARK, text).encode("utf-8")


def _split_incomplete_tail(data: bytes) -> tuple[bytes, bytes]:
    """``data`` cut before a UTF-8 sequence its last bytes start but do not finish (kept for the next read)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data, b""
        if byte >= 0xC0:  # a lead byte: how long its sequence is
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return (data[:-back], data[-back:]) if length > back else (data, b"")
    return data, b""


def _csv_header(source_uri: str) -> list[str]:
    import csv
    import io

    from .manifest import open_file

    with open_file(source_uri, "rb") as handle:
        first = handle.read(1 << 20).split(b"\n", 1)[0]  # bounded: a file without newlines is not read whole
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError(
            f"{source_uri}: the header line is not UTF-8 (byte {err.start}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise SourceError(f"{source_uri} has no header line; the first line must name the columns")
    return next(csv.reader(io.StringIO(text)))


def _closing(batches, handle) -> Iterator:
    try:
        yield from batches
    finally:
        handle.close()
