"""The sharded prefilter's merge on columns: the unsharded decisions with no object per image.

:func:`prefilter_shards.merge_shards` hands the shards' facts files (written by
:func:`prefilter_shards.write_shard_facts`) to :func:`merge`, which works in four phases:

1. **Key columns** (:func:`read_keys`): from every file only what the duplicate search needs, for
   the decodable images, in source-line order: line, content digest (16 bytes), perceptual hash,
   corner-crop hashes, blur score, and where the row lies in its file. Failed images keep their
   reason. About 60 bytes per image; no thumbnails, ids or quality numbers.
2. **Candidates** (:func:`candidate_pairs`): the prefilter's searches with its thresholds: equal
   digests, near hashes (mirror-aware) and corner-crop hashes, the crop queries indexed in chunks
   (:func:`near_duplicates.pairs_between`).
3. **Candidate table**: only the rows in a candidate pair get their thumbnails, ids and quality
   numbers (a second, row-selective read of the files) in the prefilter's own table; the pairs are
   confirmed by :func:`prefilter.confirmed`, joined into components, and the components of two or
   more images are decided by :func:`prefilter.decide_components` (the shared decision rules),
   a batch of components at a time, each decision serialised to a temporary file.
4. **Writing**: :func:`prefilter.write_outcomes` streams the source manifest; a line with a
   serialised decision gets it back, every other decodable image
   :func:`prefilter.lone_image_decision`, a failed image its reason.

The table rows keep the unsharded row order (source lines), so every component, its member order
and so its decisions are those of :func:`prefilter.decide` over the whole table: the output is
identical item by item.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import orjson

from . import image_hash, manifest, near_duplicates, prefilter

#: Bytes of one column read at once when picking rows from a facts file.
_CHUNK_BYTES = 1 << 24
#: Candidate pairs confirmed at once (their thumbnails are gathered as float32).
_CONFIRM_PAIRS = 1 << 16
#: Table rows decided at once (whole components).
_DECIDE_ROWS = 1 << 16
_IDS_KEY = "__ids__"
_KEY_PARTS = ("lines", "digests", "hashable", "phashes", "corner_hashes", "blur_scores", "files", "file_rows")
_SCHEMA_KEY = "__schema__"


# ---------------------------------------------------------------------------------------------
# Reading columns from a facts file


class FactsFile:
    """One shard's facts file, opened for reading columns (whole, or selected rows in chunks)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._handle = manifest.open_file(path, "rb")
        self._zip = zipfile.ZipFile(self._handle)
        self.header = json.loads(str(self.read(_SCHEMA_KEY)))
        self.schema: dict[str, str] = self.header["fields"]
        self.rows = int(self._shape(_IDS_KEY)[0])

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    def __enter__(self) -> FactsFile:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def has(self, key: str) -> bool:
        return f"{key}.npy" in self._zip.NameToInfo

    def _open(self, key: str):
        handle = self._zip.open(f"{key}.npy")
        version = np.lib.format.read_magic(handle)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = header(handle)
        if fortran and len(shape) > 1:
            raise ValueError(f"{self.path}: column {key} is stored in Fortran order; rewrite the shard's facts")
        return handle, shape, dtype

    def _shape(self, key: str) -> tuple:
        handle, shape, _ = self._open(key)
        handle.close()
        return shape

    def read(self, key: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Column ``key`` (e.g. ``phash/values``), or only its ``rows`` (sorted file rows), read in
        chunks so that a wide column (thumbnails, ids) never sits in memory whole."""
        handle, shape, dtype = self._open(key)
        handle.close()
        if not shape:
            return np.lib.format.read_array(self._zip.open(f"{key}.npy"), allow_pickle=False)
        count = shape[0] if rows is None else len(rows)
        out = np.empty((count, *shape[1:]), dtype)
        done = 0
        for block in self.read_blocks(key, rows):
            out[done : done + len(block)] = block
            done += len(block)
        return out

    def read_blocks(self, key: str, rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """The selected ``rows`` (sorted; None: all) of a column, a block of about ``_CHUNK_BYTES``
        of the file at a time, in order (for columns converted on the way, e.g. content hashes)."""
        handle, shape, dtype = self._open(key)
        with handle:
            row_shape = tuple(shape[1:])
            per_row = dtype.itemsize * math.prod(row_shape)
            if rows is None:
                rows = np.arange(shape[0])
            step = max(1, _CHUNK_BYTES // max(per_row, 1))
            done = 0
            for start in range(0, shape[0], step):
                if done == len(rows):
                    break
                stop = min(start + step, shape[0])
                block = np.frombuffer(handle.read((stop - start) * per_row), dtype).reshape(stop - start, *row_shape)
                until = int(np.searchsorted(rows, stop))
                if until > done:
                    yield block[rows[done:until] - start]
                done = until

    def nulls(self, field: str) -> np.ndarray:
        """Which rows have no value (None) for an :class:`prefilter.ImageFacts` field."""
        if self.has(f"{field}/null"):
            return self.read(f"{field}/null")
        return np.full(self.rows, self.schema.get(field) == "none", bool)

    def values(self, field: str, dtype, rows: np.ndarray | None = None, width: int | None = None) -> np.ndarray:
        """A field's values as ``dtype`` (zeros where None or never stored) for ``rows`` (None: all)."""
        count = self.rows if rows is None else len(rows)
        if self.schema.get(field, "none") == "none":
            return np.zeros((count, width) if width else count, dtype)
        column = self.read(f"{field}/values", rows)
        if width is not None and column.shape[1] != width:  # e.g. no image in this shard had corner hashes
            padded = np.zeros((count, width), column.dtype)
            padded[:, : min(width, column.shape[1])] = column[:, :width]
            column = padded
        return column.astype(dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# 1. Key columns


@dataclass
class Keys:
    """The decodable images' search columns, in source-line order (row i is the i-th such line).

    Not frozen: :func:`candidate_pairs` can drop the digests and corner hashes once their search
    is done (``release``), so the next search runs beside less memory.

    Attributes:
        lines: Source line of each row.
        digests: Content digest as two uint64 per row (the 32-hex-digit content hash).
        phashes: Perceptual hash (0 where ``hashable`` is False: flat images).
        hashable: Has a perceptual hash.
        corner_hashes: (rows, 4) corner-crop hashes (zeros for flat images).
        blur_scores: Blur score per row.
        files: Which facts file (index into the merged paths) holds each row.
        file_rows: The row's position in its file.
        failed: Source line -> (reason code, reason) of the images pass one rejected.
    """

    lines: np.ndarray
    digests: np.ndarray | None
    phashes: np.ndarray
    hashable: np.ndarray
    corner_hashes: np.ndarray | None
    blur_scores: np.ndarray
    files: np.ndarray
    file_rows: np.ndarray
    failed: dict[int, tuple[str, str]]


def hex_digests(contents: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """32-hex-digit content hashes (a ``U32`` array) as (rows, 2) uint64: equal iff the strings are."""
    codes = np.ascontiguousarray(contents, dtype="U32").view(np.uint32).reshape(len(contents), 32)
    digits = codes.astype(np.int16) - ord("0")
    letters = codes.astype(np.int16) - (ord("a") - 10)
    nibbles = np.where(codes >= ord("a"), letters, digits)
    bad = ((nibbles < 0) | (nibbles > 15) | ((codes > ord("9")) & (codes < ord("a")))).any(axis=1)
    if bad.any():
        line = int(lines[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"line {line}: content hash {str(contents[np.flatnonzero(bad)[0]])!r} is not 32 lowercase hex digits; "
            f"re-run that line's shard with this labelloop version"
        )
    packed = (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).astype(np.uint8)
    return np.ascontiguousarray(packed).view(np.uint64).reshape(len(contents), 2)


def read_keys(paths: Sequence[str]) -> Keys:
    """Phase 1: the search columns of every file's decodable images, sorted by source line."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _KEY_PARTS}
    failed: dict[int, tuple[str, str]] = {}
    for number, path in enumerate(paths):
        with FactsFile(path) as facts:
            lines = facts.values("line", np.int64)
            good = facts.nulls("reason_code")
            if not good.all():
                bad = np.flatnonzero(~good)
                codes = facts.read("reason_code/values", bad).tolist()
                reasons = facts.values("reason", str, bad).tolist() if facts.schema.get("reason") == "str" else None
                for k, row in enumerate(bad.tolist()):
                    failed[int(lines[row])] = (codes[k], reasons[k] if reasons else "")
            rows = np.flatnonzero(good)
            parts["lines"].append(lines[rows])
            digests, done = np.empty((len(rows), 2), np.uint64), 0
            for block in facts.read_blocks("content/values", rows):  # U32 is 128 bytes a row: in blocks
                digests[done : done + len(block)] = hex_digests(block, lines[rows[done : done + len(block)]])
                done += len(block)
            parts["digests"].append(digests)
            parts["hashable"].append(~facts.nulls("phash")[rows])
            parts["phashes"].append(facts.values("phash", np.uint64, rows))
            parts["corner_hashes"].append(facts.values("corner_hashes", np.uint64, rows, width=4))
            parts["blur_scores"].append(facts.values("blur_score", np.float64, rows))
            parts["files"].append(np.full(len(rows), number, np.int32))
            parts["file_rows"].append(rows.astype(np.int32 if facts.rows < 2**31 else np.int64))
    lines = np.concatenate(parts.pop("lines"))
    order = np.argsort(lines, kind="stable").astype(np.int32 if len(lines) < 2**31 else np.int64)
    lines = lines[order]
    repeated = np.flatnonzero(lines[1:] == lines[:-1])
    if repeated.size:
        raise ValueError(
            f"line {int(lines[repeated[0]])} has facts in two shard files; merge the shards of one split only"
        )
    columns = {}
    for name in list(parts):  # one column at a time: its per-file parts go as it is built
        columns[name] = np.concatenate(parts.pop(name))[order]
    return Keys(lines=lines, failed=failed, **columns)


# ---------------------------------------------------------------------------------------------
# 2. Candidates


def exact_edges(digests: np.ndarray) -> np.ndarray:
    """Edges chaining the rows with equal digests (each group of equal rows connected once)."""
    high, low = digests[:, 0], digests[:, 1]
    order = np.argsort(high)
    same_high = high[order][1:] == high[order][:-1]
    shared = np.zeros(len(order), bool)
    shared[1:] |= same_high
    shared[:-1] |= same_high
    rows = order[shared]  # rows whose first half matches another row's: sort those by both halves
    rows = rows[np.lexsort((rows, low[rows], high[rows]))]
    same = (high[rows][1:] == high[rows][:-1]) & (low[rows][1:] == low[rows][:-1])
    return np.stack([rows[:-1][same], rows[1:][same]], axis=1).astype(np.int64)


def candidate_pairs(
    keys: Keys, settings: prefilter.PrefilterSettings, workers: int | None = None, *, release: bool = False
) -> prefilter.CandidatePairs:
    """Phase 2: :func:`prefilter.candidate_pairs` over the key columns (same searches, thresholds).

    ``release``: set ``keys.digests`` and ``keys.corner_hashes`` to None once their search is done.
    """
    parts, kinds = [np.empty((0, 2), np.int64)], [np.empty(0, np.int8)]

    def add(pairs: np.ndarray, kind: int) -> None:
        parts.append(pairs.astype(np.int64))
        kinds.append(np.full(len(pairs), kind, np.int8))

    if settings.exact_duplicates and len(keys.lines):
        add(exact_edges(keys.digests), prefilter._EXACT)
    if release:
        keys.digests = None
    if settings.near_duplicates and keys.hashable.any():
        members = np.flatnonzero(keys.hashable)
        if settings.crop_hamming_threshold is not None:
            # Every row's corner hashes as queries (a view, no copy); a flat image's (zeros) are
            # dropped from the pairs below.
            pairs = near_duplicates.pairs_between(
                np.ascontiguousarray(keys.corner_hashes).ravel(),
                keys.phashes[members],
                settings.crop_hamming_threshold,
                flip_mask=image_hash.MIRROR_MASK,
                workers=workers,
            )
            owners, others = pairs[:, 0] // 4, members[pairs[:, 1]]
            real = keys.hashable[owners] & (owners != others)
            add(np.stack([owners, others], axis=1)[real], prefilter._CROP)
    if release:
        keys.corner_hashes = None
    if settings.near_duplicates and keys.hashable.any():
        members = np.flatnonzero(keys.hashable)
        unique, inverse = np.unique(keys.phashes[members], return_inverse=True)
        same_hash = prefilter._chain_edges(inverse, members)
        found = near_duplicates.near_duplicate_pairs(
            unique, settings.hamming_threshold, flip_mask=image_hash.MIRROR_MASK, workers=workers
        )
        first = members[np.unique(inverse, return_index=True)[1]]
        add(np.concatenate([same_hash, first[found].reshape(-1, 2)]), prefilter._HASH)
    return prefilter.CandidatePairs(np.concatenate(parts), np.concatenate(kinds))


# ---------------------------------------------------------------------------------------------
# 3. The candidate rows' table, confirmation and decisions

#: Table columns computed from other facts; every other table column is the same-named fact.
_DERIVED = (
    "lines",
    "ids",
    "contents",
    "phashes",
    "corner_hashes",
    "signatures",
    "hashable",
    "pixels",
    "blur_scores",
    "aspect",
)


def candidate_table(keys: Keys, rows: np.ndarray, paths: Sequence[str]) -> prefilter._ImageTable:
    """The prefilter's table (:func:`prefilter.image_table`'s columns) over the key rows ``rows``
    (sorted), their thumbnails, ids and quality numbers read from the facts files.

    ``contents`` holds the hex content hashes as ``S32`` (a quarter of ``U32``'s bytes): the
    decisions only compare them for equality, which is the same for both.
    """
    fields = [field.name for field in dataclasses.fields(prefilter._ImageTable)]
    facts_fields = {field.name for field in dataclasses.fields(prefilter.ImageFacts)}
    unknown = [name for name in fields if name not in _DERIVED and name not in facts_fields]
    if unknown:
        raise ValueError(
            f"the prefilter's table has columns {unknown} that the sharded merge cannot build; add them to "
            f"prefilter_merge.candidate_table"
        )
    n, side = len(rows), image_hash.SIGNATURE_SIDE**2
    plain = [name for name in fields if name not in _DERIVED]
    columns = {
        "lines": keys.lines[rows],
        "phashes": keys.phashes[rows],
        "corner_hashes": np.zeros((n, 4), np.uint64),
        "hashable": keys.hashable[rows],
        "blur_scores": keys.blur_scores[rows],
        "contents": np.empty(n, "S32"),
        "signatures": np.zeros((n, side), np.float16),
        "pixels": np.zeros(n, np.int64),
        "aspect": np.zeros(n, np.float64),
        **{name: np.zeros(n, np.float64) for name in plain},
    }
    ids: list[str | None] = [None] * n
    files = keys.files[rows]
    for number, path in enumerate(paths):
        at = np.flatnonzero(files == number)
        if not at.size:
            continue
        order = np.argsort(keys.file_rows[rows[at]])
        at, wanted = at[order], keys.file_rows[rows[at[order]]]
        with FactsFile(path) as facts:
            for k, item_id in zip(at.tolist(), facts.read(_IDS_KEY, wanted).tolist()):
                ids[k] = item_id
            columns["contents"][at] = facts.read("content/values", wanted).astype("S32")
            columns["corner_hashes"][at] = facts.values("corner_hashes", np.uint64, wanted, width=4)
            present = ~facts.nulls("signature")[wanted]
            columns["signatures"][at[present]] = facts.values("signature", np.float16, wanted[present]).reshape(
                -1, side
            )
            width, height = facts.values("width", np.int64, wanted), facts.values("height", np.int64, wanted)
            columns["pixels"][at] = width * height
            shaped = (width > 0) & (height > 0)  # an undecodable row has no frame
            columns["aspect"][at[shaped]] = prefilter.frame_aspect(width[shaped], height[shaped])
            for name in plain:
                columns[name][at] = facts.values(name, np.float64, wanted)
    return prefilter._ImageTable(ids=ids, **columns)


def confirmed_in_chunks(table: prefilter._ImageTable, pairs: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """:func:`prefilter.confirmed`, a bounded number of pairs at a time (it gathers their thumbnails)."""
    return np.concatenate(
        [np.zeros(0, bool)]
        + [
            prefilter.confirmed(table, pairs[start : start + _CONFIRM_PAIRS], kinds[start : start + _CONFIRM_PAIRS])
            for start in range(0, len(pairs), _CONFIRM_PAIRS)
        ]
    )


def _take(table: prefilter._ImageTable, rows: np.ndarray) -> prefilter._ImageTable:
    """The table's ``rows`` (every column, whatever columns the table has)."""
    values = {}
    for field in dataclasses.fields(table):
        column = getattr(table, field.name)
        values[field.name] = column[rows] if isinstance(column, np.ndarray) else [column[i] for i in rows.tolist()]
    return prefilter._ImageTable(**values)


def serialise(decisions: dict[int, prefilter.Decision]) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Lines, byte sizes and the concatenated JSON of decisions (a compact, picklable batch)."""
    blobs = [orjson.dumps([d.reason_code, d.reason, d.facts]) for d in decisions.values()]
    lines = np.fromiter(decisions, np.int64, len(decisions))
    return lines, np.fromiter(map(len, blobs), np.int64, len(blobs)), b"".join(blobs)


class DecisionStore:
    """Decisions serialised to a temporary file, served back in line order while pass two streams."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="labelloop-decisions-")
        self._lines: list[np.ndarray] = []
        self._sizes: list[np.ndarray] = []
        self._cursor = 0

    def add(self, decisions: dict[int, prefilter.Decision]) -> None:
        self.add_serialised(*serialise(decisions))

    def add_serialised(self, lines: np.ndarray, sizes: np.ndarray, blob: bytes) -> None:
        """Decisions as :func:`serialise` gave them."""
        self._file.write(blob)
        self._lines.append(lines)
        self._sizes.append(sizes)

    def finish(self) -> None:
        """Sort by line; after this, :meth:`get` serves lines in increasing order."""
        self._file.flush()
        lines, sizes = (
            np.concatenate([np.zeros(0, np.int64), *self._lines]),
            np.concatenate([np.zeros(0, np.int64), *self._sizes]),
        )
        offsets = np.cumsum(sizes) - sizes
        order = np.argsort(lines)
        self.lines, self.offsets, self.sizes = lines[order], offsets[order], sizes[order]
        self._lines = self._sizes = []

    def get(self, line: int) -> prefilter.Decision | None:
        """The decision of ``line``, or None; lines must be asked for in increasing order."""
        at = self._cursor
        if at >= len(self.lines) or self.lines[at] != line:
            return None
        self._cursor += 1
        code, reason, facts = orjson.loads(os.pread(self._file.fileno(), int(self.sizes[at]), int(self.offsets[at])))
        return prefilter.Decision(code, reason, facts)

    def close(self) -> None:
        self._file.close()


def decide_batch(
    table: prefilter._ImageTable, labels: np.ndarray, settings: prefilter.PrefilterSettings
) -> tuple[np.ndarray, np.ndarray, bytes, int]:
    """:func:`prefilter.decide_components` over whole components, serialised (runs in a worker process)."""
    decisions, multi = prefilter.decide_components(table, labels, settings)
    return (*serialise(decisions), multi)


def decide_members(
    table: prefilter._ImageTable,
    labels: np.ndarray,
    settings: prefilter.PrefilterSettings,
    store: DecisionStore,
    workers: int = 1,
) -> int:
    """Decide the components of two or more rows, a batch of whole components at a time, into ``store``;
    how many duplicate groups (of two or more) they hold.

    Components are independent, so with ``workers`` > 1 (and more than one batch) the batches are
    decided in that many worker processes, each sent only its batch's rows; at most two batches
    per worker are in flight, so memory stays bounded.
    """
    sizes = np.bincount(labels, minlength=1)
    members = np.flatnonzero(sizes[labels] >= 2)
    members = members[np.argsort(labels[members], kind="stable")]
    starts = np.flatnonzero(np.diff(labels[members], prepend=-1))  # each component's first position
    cuts = starts[np.searchsorted(starts, np.arange(_DECIDE_ROWS, len(members), _DECIDE_ROWS))]
    bounds = [0, *np.unique(cuts[cuts > 0]).tolist(), len(members)]

    def batches() -> Iterator[tuple]:
        for first, stop in itertools.pairwise(bounds):
            if stop > first:
                rows = np.sort(members[first:stop])  # table order: components and members as in decide()
                yield _take(table, rows), labels[rows], settings

    groups = 0
    if workers <= 1 or len(bounds) <= 2 or multiprocessing.current_process().daemon:
        for batch in batches():
            *serialised, multi = decide_batch(*batch)
            store.add_serialised(*serialised)
            groups += multi
        return groups
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        pending: collections.deque = collections.deque()
        for batch in batches():
            pending.append((batch, pool.submit(decide_batch, *batch)))
            while len(pending) > 2 * workers:
                groups += _collect(pending.popleft(), store)
        while pending:
            groups += _collect(pending.popleft(), store)
    return groups


def _collect(submitted: tuple, store: DecisionStore) -> int:
    batch, future = submitted
    try:
        *serialised, multi = future.result()
    except BrokenProcessPool:  # e.g. a script without an ``if __name__ == "__main__":`` guard
        *serialised, multi = decide_batch(*batch)
    store.add_serialised(*serialised)
    return multi


# ---------------------------------------------------------------------------------------------
# 4. The merge


class _LineCursor:
    """Blur score of each decodable line, served in increasing line order without per-line objects."""

    def __init__(self, lines: np.ndarray, scores: np.ndarray) -> None:
        self._lines, self._scores, self._at = lines, scores, 0

    def score(self, line: int) -> float:
        at = self._at
        if self._lines[at] != line:  # lines without an image, or failed, in between
            at = int(np.searchsorted(self._lines, line))
        self._at = at + 1
        return float(self._scores[at])


def merge(
    input_path: str,
    paths: Sequence[str],
    kept_path: str,
    rejects_path: str,
    settings: prefilter.PrefilterSettings,
    *,
    step: str,
    workers: int | None = None,
    phase_done: Callable[[str], None] = lambda name: None,
) -> prefilter.PrefilterResult:
    """Decide over every shard's facts and write kept and rejects exactly as the unsharded prefilter.

    ``workers``: processes the duplicate searches may use (None: one per CPU). ``phase_done`` is
    called with each phase's name as it ends (benchmarks time them).
    """
    keys = read_keys(paths)
    phase_done("read key columns")
    candidates = candidate_pairs(keys, settings, workers, release=True)
    phase_done("duplicate searches (exact, near, corner crops)")
    rows = np.unique(candidates.pairs)
    pairs = np.searchsorted(rows, candidates.pairs)
    table = candidate_table(keys, rows, paths)
    phase_done(f"read the {len(rows):,} candidate rows' facts")
    keep = confirmed_in_chunks(table, pairs, candidates.kinds)
    del candidates
    labels = near_duplicates.groups_from_pairs(len(rows), pairs[keep])
    del pairs, keep
    phase_done("confirm pairs, components")
    store = DecisionStore()
    try:
        groups = decide_members(table, labels, settings, store, workers=near_duplicates._worker_count(workers))
        del table, labels
        store.finish()
        phase_done("decide multi-image components")
        lines, scores, failed = keys.lines, keys.blur_scores, keys.failed
        del keys
        cursor = _LineCursor(lines, scores)

        def decision_of(line: int, record: dict) -> prefilter.Decision:
            decided = store.get(line)
            score = cursor.score(line)
            if decided is not None:
                return decided
            return prefilter.lone_image_decision(manifest.item_id(record), score, settings)

        failed_facts = {line: prefilter.ImageFacts(line, code, reason) for line, (code, reason) in failed.items()}
        result = prefilter.write_outcomes(
            input_path, kept_path, rejects_path, decision_of, failed_facts, groups, settings, step=step
        )
        phase_done("stream the manifest into kept and rejects")
        return result
    finally:
        store.close()
