"""Find every pair of 64-bit hashes within a Hamming distance, without comparing all pairs.

Multi-index hashing with the generalised pigeonhole principle (Norouzi et al. 2012; Qin et al.
2018): split the 64 bits into ``m`` bands and give band ``b`` a radius ``r_b`` with
``sum(r_b + 1) >= threshold + 1``. If two hashes are within ``threshold`` then in at least one band
their keys differ by at most ``r_b`` bits, because otherwise their distance would be at least
``sum(r_b + 1)``. Every candidate is verified with a popcount, so the search is exact (the same
pairs as brute force, which :func:`brute_force_pairs` gives for tests). A small cost model picks
the band layout, or brute force when that is cheaper (small inputs).

How one band is searched, and why it is fast:

* The hashes are sorted by band key; direct-address tables give, for every key, its run of hashes
  (start, length) and the run's first two hashes in one 16-byte entry. Queries walk the sorted
  hashes in blocks, so a block's lookups stay in a small window of memory (cache-friendly), and
  several key differences go through each numpy call.
* A pair whose band keys differ by ``E != 0`` is looked up from one side only: from the hash whose
  key has a 0 at the top bit of ``E`` (exactly one of the two has). That halves the lookups of a
  self-join. Pairs with equal band keys (``E == 0``) are taken from within each run.
* A lookup verifies the two head hashes of the run straight from the table entry, with no
  candidate list. An empty run's entry holds the next run's first hash, which can only add true
  pairs (every pair found is de-duplicated at the end). The rest of the runs of three or more
  (about 1% of keys at the planned widths) is matched from the table side: those runs meet the
  runs that looked them up.
* Big searches are split over worker processes (threads would contend for the GIL: the work is
  many short numpy calls).

``flip_mask`` makes the search mirror-aware: ``(i, j)`` also pairs when ``h_i ^ flip_mask`` is within
the threshold of ``h_j`` (see :mod:`image_hash`). That relation is symmetric too
(``d(h_i ^ F, h_j) == d(h_j ^ F, h_i)``), so mirror lookups are halved the same way, with key
differences ``E = F_band ^ M`` for every mask ``M`` within the band's radius.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from math import comb

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HASH_BITS = 64
#: Bands wider than this would need a direct-address table above 2**24 entries.
MAX_BAND_BITS = 24
#: Cost model, in nanoseconds on one core (fitted to timings of this module): one table lookup,
#: one candidate verified beyond a lookup's own, one table entry built, one hash sorted into a
#: band, one vectorised step (per band bit, block and query kind), and one brute-force comparison.
_LOOKUP_NS, _CANDIDATE_NS, _TABLE_ENTRY_NS, _SORT_NS, _STEP_NS, _BRUTE_NS = 4.5, 8.3, 26.0, 26.0, 22_000.0, 2.3
#: Sorted hashes per unit of work: a block's table lookups stay within a small window of memory.
_BLOCK = 1 << 13
#: Lookups per vectorised step: several key differences go through each numpy call.
_BATCH = 1 << 14
#: Most candidates expanded at once from long runs (bounds memory on skewed keys).
_EXPAND_CHUNK = 1 << 20
#: Long runs whose lookers one task finds.
_LONG_KEYS_PER_TASK = 1 << 12
#: Queries of a cross search (:func:`pairs_between`) indexed at once: bounds its memory.
_QUERIES_PER_INDEX = 1 << 22
#: Searches estimated to take less than this (ns on one core) run in the calling process only.
_PARALLEL_MIN_NS = 2e9
_LOW_32 = np.uint64(0xFFFFFFFF)
#: Hash comparisons per brute-force step (its temporaries stay in cache).
_BRUTE_CELLS = 1 << 18


@dataclass(frozen=True)
class SearchPlan:
    """How a search runs: bands (bit offset, width, radius), or brute force when ``bands`` is empty.

    ``estimated_cost`` is the cost model's estimate in nanoseconds on one core.
    """

    bands: tuple[tuple[int, int, int], ...]
    estimated_cost: float

    @property
    def brute_force(self) -> bool:
        return not self.bands


def _neighbourhood(width: int, radius: int) -> int:
    """How many keys lie within ``radius`` bits of a ``width``-bit key."""
    return sum(comb(width, k) for k in range(radius + 1))


def _band_plan(n: int, queries: int, threshold: int, m: int, *, self_join: bool = True) -> SearchPlan:
    """The cheapest radius split for ``m`` equal-as-possible bands (``queries`` counts query kinds).

    A cross search (``self_join=False``) also sorts its queries, once per band and flip-free.
    """
    widths = [HASH_BITS // m + (1 if b < HASH_BITS % m else 0) for b in range(m)]
    spare = max(threshold - m + 1, 0)
    radii = [spare // m + (1 if b < spare % m else 0) for b in range(m)]
    radii = [-1 if spare == 0 and b >= threshold + 1 else r for b, r in enumerate(radii)]  # fewer bands suffice
    steps_per_bit = -(-queries // _BLOCK)
    bands, cost, offset = [], 0.0, 0
    for width, radius in zip(widths, radii):
        if radius >= 0:
            # A self-join looks each pair up from one side only.
            lookups = _neighbourhood(width, radius) / (2 if self_join else 1) * queries
            sorted_hashes = n + (0 if self_join else queries)
            cost += (
                lookups * (_LOOKUP_NS + _CANDIDATE_NS * n / 2**width)
                + _TABLE_ENTRY_NS * 2**width
                + _SORT_NS * sorted_hashes
                + _STEP_NS * width * steps_per_bit
            )
            bands.append((offset, width, radius))
        offset += width
    return SearchPlan(tuple(bands), cost)


def plan_search(n: int, threshold: int, *, flip: bool = False, queries: int | None = None) -> SearchPlan:
    """Choose the band layout (or brute force) with the lowest estimated cost for ``n`` hashes.

    ``queries`` is the number of query hashes of :func:`pairs_between` (None: the ``n`` hashes
    against each other, as in :func:`near_duplicate_pairs`).
    """
    _check_arguments(threshold, 0)
    self_join = queries is None
    kinds = (n if self_join else queries) * (2 if flip else 1)
    brute = SearchPlan((), _BRUTE_NS * kinds * n / (2 if self_join else 1))
    plans = [_band_plan(n, kinds, threshold, m, self_join=self_join) for m in range(-(-HASH_BITS // MAX_BAND_BITS), 12)]
    return min([brute, *plans], key=lambda plan: plan.estimated_cost)


def _as_hashes(hashes) -> np.ndarray:
    array = np.asarray(hashes, dtype=np.uint64)
    if array.ndim != 1:
        raise ValueError(f"hashes must be a 1-D array, got shape {array.shape}")
    return array


def _check_arguments(threshold: int, flip_mask: int) -> None:
    if not 0 <= threshold < HASH_BITS:
        raise ValueError(f"threshold must be between 0 and {HASH_BITS - 1} bits, got {threshold}")
    if not 0 <= flip_mask < 2**HASH_BITS:
        raise ValueError(f"flip_mask must be a {HASH_BITS}-bit mask (0 <= flip_mask < 2**{HASH_BITS}), got {flip_mask}")


def _check_plan(plan: SearchPlan, threshold: int) -> None:
    """Refuse a plan that could miss pairs: bands that overlap or leave the hash, or radii too small."""
    covered = 0
    for offset, width, radius in sorted(plan.bands):
        if not (covered <= offset and 1 <= width <= MAX_BAND_BITS and offset + width <= HASH_BITS and radius >= 0):
            raise ValueError(
                f"search plan band (offset {offset}, width {width}, radius {radius}) is invalid: bands must not "
                f"overlap, must lie within the {HASH_BITS}-bit hash, be 1..{MAX_BAND_BITS} bits wide and have a "
                f"radius >= 0; use plan_search() to make a plan"
            )
        covered = offset + width
    if plan.bands and sum(radius + 1 for _, _, radius in plan.bands) < threshold + 1:
        raise ValueError(
            f"search plan {plan.bands} cannot find every pair within {threshold} bits: the radii "
            f"need sum(radius + 1) >= {threshold + 1}; use plan_search() to make a plan"
        )


def _unique_codes(parts: list[np.ndarray], n: int) -> np.ndarray:
    """Sorted, de-duplicated (k, 2) array of index pairs from codes ``i * n + j``."""
    if not parts:
        return np.empty((0, 2), np.int64)
    codes = np.unique(np.concatenate(parts))
    return np.stack([codes // n, codes % n], axis=1)


def brute_force_pairs(hashes, threshold: int, *, flip_mask: int = 0) -> np.ndarray:
    """All pairs ``i < j`` within ``threshold`` (mirror-aware with ``flip_mask``), by comparing every pair.

    Quadratic; used for small inputs and as the reference in tests. Each block of rows is compared
    with the rows from its own start on, so every pair is compared once per query kind.
    """
    hashes = _as_hashes(hashes)
    _check_arguments(threshold, flip_mask)
    n = len(hashes)
    rows = max(1, _BRUTE_CELLS // max(n, 1))
    parts = []
    for flip in [0] if not flip_mask else [0, flip_mask]:
        for start in range(0, n, rows):
            block = hashes[start : start + rows] ^ np.uint64(flip)
            i, j = np.nonzero(np.bitwise_count(block[:, None] ^ hashes[None, start:]) <= threshold)
            keep = i < j
            parts.append((i[keep] + start) * n + (j[keep] + start))
    return _unique_codes(parts, n)


def _brute_force_between(queries: np.ndarray, hashes: np.ndarray, threshold: int, flip_mask: int) -> np.ndarray:
    """All (query, hash) index pairs within ``threshold``, by comparing every pair (small inputs, tests)."""
    n = len(hashes)
    rows = max(1, _BRUTE_CELLS // max(n, 1))
    parts = []
    for flip in [0] if not flip_mask else [0, flip_mask]:
        for start in range(0, len(queries), rows):
            block = queries[start : start + rows] ^ np.uint64(flip)
            i, j = np.nonzero(np.bitwise_count(block[:, None] ^ hashes[None, :]) <= threshold)
            parts.append((i + start) * n + j)
    return _unique_codes(parts, n)


# ---------------------------------------------------------------------------------------------
# One band's index and its lookups


@dataclass(frozen=True)
class _BandIndex:
    """The hashes sorted by one band's key, and direct-address tables over the keys.

    Attributes:
        keys: Band key of each sorted hash (intp).
        ids: Input index of each sorted hash.
        hashes: The sorted hashes.
        heads: Per key, the first two hashes of its run as two uint64s (complex128 only as a
            16-byte carrier, so one gather fetches both). A run of one repeats its hash; an empty
            run holds the first hash of the next run (or 0 past the last), so a lookup can verify
            both blindly: that can only find true pairs, which are de-duplicated at the end.
        runs: Per key, ``start | length << 32`` of its run in the sorted hashes.
        long_keys: The keys whose runs hold three or more hashes (rare at the planned widths).
    """

    keys: np.ndarray
    ids: np.ndarray
    hashes: np.ndarray
    heads: np.ndarray | None
    runs: np.ndarray
    long_keys: np.ndarray


def _band_keys(hashes: np.ndarray, offset: int, width: int) -> np.ndarray:
    shift = np.uint64(HASH_BITS - offset - width)
    return (hashes >> shift) & np.uint64((1 << width) - 1)


def _build_index(hashes: np.ndarray, offset: int, width: int, *, heads: bool = True, first_id: int = 0) -> _BandIndex:
    """Sort the hashes by one band's key and build the direct-address tables over the keys.

    Query-only indexes (``heads=False``, :func:`pairs_between`) skip the head table; they are built
    over chunks of the queries (``first_id``: the chunk's first query index), so a search of many
    queries (four corner crops per image) holds one chunk's index at a time.
    """
    n = len(hashes)
    if n >= 2**31:  # pair codes i * n + j must fit in an int64
        raise ValueError(f"near-duplicate search takes fewer than 2**31 hashes, got {n}")
    # One unstable sort of (key, index) is a stable sort by key, and several times faster than argsort.
    by_key = np.sort((_band_keys(hashes, offset, width) << np.uint64(32)) | np.arange(n, dtype=np.uint64))
    keys, order = (by_key >> np.uint64(32)).astype(np.intp), (by_key & _LOW_32).astype(np.intp)
    sorted_hashes = hashes[order]
    head_table, runs, long_keys = _run_tables(keys, sorted_hashes, width, heads)
    return _BandIndex(keys, order + first_id if first_id else order, sorted_hashes, head_table, runs, long_keys)


def _run_tables(
    keys: np.ndarray, sorted_hashes: np.ndarray, width: int, heads: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The heads, runs and long keys of :class:`_BandIndex`, filled in place (the tables are large)."""
    counts = np.bincount(keys, minlength=1 << width)
    starts = np.zeros(1 << width, np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    several = np.flatnonzero(counts >= 2)
    long_keys = several[counts[several] >= 3]
    head_table = None
    if heads:
        padded = np.append(sorted_hashes, np.zeros(1, np.uint64))  # position n: past the last run
        head_table = np.empty((1 << width, 2), np.uint64)
        np.take(padded, starts, out=head_table[:, 0])
        head_table[:, 1] = head_table[:, 0]
        head_table[several, 1] = padded[starts[several] + 1]
        head_table = head_table.view(np.complex128).ravel()
    runs = np.left_shift(counts, 32, out=counts)
    np.bitwise_or(runs, starts, out=runs)
    return head_table, runs.view(np.uint64), long_keys


def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for k in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in itertools.combinations(range(width), k)]
    return np.array(masks, np.intp)


def _key_differences(width: int, radius: int, flip_key: int, *, zero: bool) -> tuple[np.ndarray, np.ndarray]:
    """The key differences ``flip_key ^ M`` (``M`` within ``radius``) and each one's top bit (-1 for 0).

    A self-join takes the zero difference from within each run instead (``zero=False``).
    """
    differences = np.unique(_flip_masks(width, radius) ^ flip_key)
    if not zero:
        differences = differences[differences != 0]
    return differences, (np.frexp(differences.astype(np.float64))[1] - 1).astype(np.intp)  # exact below 2**53


def _pair_codes(table: _BandIndex, queries: _BandIndex, query_pos: np.ndarray, table_pos: np.ndarray) -> np.ndarray:
    """Codes ``i * n + j`` of verified pairs given by sorted positions; drops position ``n``.

    In a self-join (``queries is table``) a pair is ``i < j`` and a hash never pairs with itself;
    otherwise ``i`` is the query's index and ``j`` the hash's.
    """
    n = len(table.ids)
    keep = table_pos < n
    if queries is table:
        keep &= query_pos != table_pos
    i, j = queries.ids[query_pos[keep]], table.ids[table_pos[keep]]
    if queries is table:
        i, j = np.minimum(i, j), np.maximum(i, j)
    return i.astype(np.int64) * n + j


def _split_runs(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of packed runs ``start | length << 32``."""
    return (runs & _LOW_32).astype(np.intp), (runs >> np.uint64(32)).astype(np.intp)


def _head_pair_codes(
    table: _BandIndex, queries: _BandIndex, positions: np.ndarray, probes: np.ndarray, hits: np.ndarray
) -> np.ndarray:
    """Codes of the verified head hits (flat indices into lookups x two head slots)."""
    lookup, slot = hits >> 1, hits & 1
    start, length = _split_runs(table.runs[probes[lookup]])
    keep = (slot == 0) | (length >= 2)  # a run of one repeats its hash in the second slot
    return _pair_codes(table, queries, positions[lookup[keep] % len(positions)], start[keep] + slot[keep])


def _look_up_heads(
    table: _BandIndex,
    queries: _BandIndex,
    positions: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    differences: np.ndarray,
    threshold: int,
) -> list[np.ndarray]:
    """Verify each query against the first two hashes of the run at ``key ^ difference``, for each difference.

    Several differences go through each numpy call (about ``_BATCH`` lookups), so the per-call
    overhead is paid rarely while the arrays stay in cache.
    """
    pair_values = np.repeat(values, 2)
    per_step = max(1, _BATCH // len(keys))
    codes = []
    for first in range(0, len(differences), per_step):
        probes = (differences[first : first + per_step, None] ^ keys).ravel()
        heads = table.heads[probes].view(np.uint64).reshape(-1, len(pair_values))
        hits = np.flatnonzero(np.bitwise_count(heads ^ pair_values) <= threshold)
        if hits.size:
            codes.append(_head_pair_codes(table, queries, positions, probes, hits))
    return codes


@dataclass(frozen=True)
class _QueryKind:
    """Plain or mirrored queries in one band: the flip XORed into the query hash, and its key differences."""

    flip: np.uint64
    differences: np.ndarray
    top_bits: np.ndarray


def _search_block(
    table: _BandIndex, queries: _BandIndex, kinds: list[_QueryKind], threshold: int, start: int, stop: int
) -> list[np.ndarray]:
    """Verified pair codes that the sorted queries ``start:stop`` find in the heads of the runs they look up.

    In a self-join a pair whose keys differ by ``E`` is looked up only from the hash with a 0 at
    ``E``'s top bit; otherwise every query looks up every difference.
    """
    keys = queries.keys[start:stop]
    values = queries.hashes[start:stop]
    if queries is not table:
        positions = np.arange(start, stop)
        return [
            codes
            for kind in kinds
            for codes in _look_up_heads(
                table, queries, positions, keys, values ^ kind.flip, kind.differences, threshold
            )
        ]
    codes = []
    for bit in np.unique(np.concatenate([kind.top_bits for kind in kinds])).tolist():
        rows = np.flatnonzero((keys & (1 << bit)) == 0)
        if not rows.size:
            continue
        row_keys, row_values = keys[rows], values[rows]
        for kind in kinds:
            differences = kind.differences[kind.top_bits == bit]
            if differences.size:
                codes += _look_up_heads(
                    table, queries, rows + start, row_keys, row_values ^ kind.flip, differences, threshold
                )
    return codes


def _bounded_run_pairs(
    query_start: np.ndarray, query_length: np.ndarray, table_start: np.ndarray, table_length: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same run pairs, the query runs cut so no pair spans much more than ``_EXPAND_CHUNK`` candidates."""
    step = np.maximum(1, _EXPAND_CHUNK // np.maximum(table_length, 1))
    pieces = -(-query_length // step)
    which = np.repeat(np.arange(len(pieces)), pieces)
    offset = (np.arange(len(which)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) * step[which]
    return (
        query_start[which] + offset,
        np.minimum(step[which], query_length[which] - offset),
        table_start[which],
        table_length[which],
    )


def _expand_runs(start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every position of each run, and which run it came from."""
    which = np.repeat(np.arange(len(length)), length)
    return np.repeat(start - np.cumsum(length) + length, length) + np.arange(len(which)), which


def _verify_run_pairs(
    table: _BandIndex,
    queries: _BandIndex,
    flip: np.uint64,
    threshold: int,
    query_start: np.ndarray,
    query_length: np.ndarray,
    table_start: np.ndarray,
    table_length: np.ndarray,
) -> list[np.ndarray]:
    """Verified codes of every (query, table) hash pair of each pair of runs, expanded in bounded chunks."""
    sizes = query_length * table_length
    if not sizes.size or not sizes.any():
        return []
    if sizes.max() > _EXPAND_CHUNK:  # only on heavily skewed keys
        query_start, query_length, table_start, table_length = _bounded_run_pairs(
            query_start, query_length, table_start, table_length
        )
        sizes = query_length * table_length
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(_EXPAND_CHUNK, int(ends[-1]), _EXPAND_CHUNK), side="right")
    codes = []
    for lo, hi in itertools.pairwise([0, *cuts.tolist(), len(sizes)]):
        query_pos, which = _expand_runs(query_start[lo:hi], query_length[lo:hi])
        table_pos, each = _expand_runs(table_start[lo:hi][which], table_length[lo:hi][which])
        query_pos = query_pos[each]
        close = np.bitwise_count(queries.hashes[query_pos] ^ flip ^ table.hashes[table_pos]) <= threshold
        codes.append(_pair_codes(table, queries, query_pos[close], table_pos[close]))
    return codes


def _search_long_runs(
    table: _BandIndex, queries: _BandIndex, kind: _QueryKind, threshold: int, long_keys: np.ndarray
) -> list[np.ndarray]:
    """Verified codes of pairs with the third and later hashes of long runs, found from the table side.

    The blocks verify only the first two hashes of a run. The queries that look up the run at key
    ``K`` through difference ``E`` are the run of queries at ``K ^ E``; in a self-join only when
    ``K ^ E`` has a 0 at ``E``'s top bit, i.e. when ``K`` has a 1 there. So each long run meets
    exactly the runs that looked it up.
    """
    codes = []
    groups = (
        [(bit, kind.top_bits == bit) for bit in np.unique(kind.top_bits).tolist()]
        if queries is table
        else [(-1, slice(None))]
    )
    for bit, members in groups:
        keys = long_keys[np.flatnonzero(long_keys & (1 << bit))] if bit >= 0 else long_keys
        if not keys.size:
            continue
        group = kind.differences[members]
        query_runs = queries.runs[(group[:, None] ^ keys).ravel()]  # difference-major: lookups in key order
        looking = np.flatnonzero(query_runs >> np.uint64(32))  # non-empty runs only
        query_start, query_length = _split_runs(query_runs[looking])
        table_start, table_length = _split_runs(table.runs[keys[looking % len(keys)]])
        codes += _verify_run_pairs(
            table, queries, kind.flip, threshold, query_start, query_length, table_start + 2, table_length - 2
        )
    return codes


def _same_key_pairs(index: _BandIndex, flip: np.uint64, threshold: int) -> list[np.ndarray]:
    """Verified codes of self-join pairs whose band keys are equal: every pair within each run, once."""
    n = len(index.ids)
    found, step = [], 1
    active = np.flatnonzero(index.keys[:-1] == index.keys[1:])  # positions a with a + 1 in the same run
    while active.size:
        close = np.bitwise_count((index.hashes[active] ^ flip) ^ index.hashes[active + step]) <= threshold
        found.append(_pair_codes(index, index, active[close], active[close] + step))
        step += 1
        active = active[active + step < n]
        active = active[index.keys[active + step] == index.keys[active]]
    return found


@dataclass(frozen=True)
class _Split:
    """How the work is cut into tasks; fixed by the parent so every worker process cuts it the same way."""

    block: int
    long_keys_per_task: int
    queries_per_index: int


def _band_tasks(
    table: _BandIndex,
    queries: _BandIndex,
    band: tuple[int, int, int],
    flips: list[int],
    threshold: int,
    split: _Split,
) -> list:
    """The units of work that find one band's candidate pairs, for plain and (if asked) mirrored queries."""
    offset, width, radius = band
    self_join = queries is table
    kinds, tasks = [], []
    for flip in flips:
        flip_key = (flip >> (HASH_BITS - offset - width)) & ((1 << width) - 1)
        if self_join and flip_key.bit_count() <= radius:  # some pairs differ by nothing in this band
            tasks.append(functools.partial(_same_key_pairs, table, np.uint64(flip), threshold))
        kind = _QueryKind(np.uint64(flip), *_key_differences(width, radius, flip_key, zero=not self_join))
        if kind.differences.size:
            kinds.append(kind)
            step = split.long_keys_per_task
            tasks += [
                functools.partial(
                    _search_long_runs, table, queries, kind, threshold, table.long_keys[first : first + step]
                )
                for first in range(0, len(table.long_keys), step)
            ]
    if kinds:
        m = len(queries.ids)
        tasks += [
            functools.partial(_search_block, table, queries, kinds, threshold, start, min(start + split.block, m))
            for start in range(0, m, split.block)
        ]
    return tasks


def _search_share(
    queries: np.ndarray | None,
    hashes: np.ndarray,
    threshold: int,
    flip_mask: int,
    bands: tuple,
    split: _Split,
    share: int,
    shares: int,
) -> np.ndarray:
    """The pair codes of one worker's share (every ``shares``-th task) of every band's work.

    Bands go one at a time, so only one band's tables are held. ``queries`` None: the hashes
    against each other. Runs in the calling process or in a worker process.
    """
    flips = [0] if not flip_mask else [0, flip_mask]
    found = [np.empty(0, np.int64)]
    for band in bands:
        offset, width, _ = band
        table = _build_index(hashes, offset, width)
        if queries is None:
            for task in _band_tasks(table, table, band, flips, threshold, split)[share::shares]:
                found += task()
            continue
        for first in range(0, len(queries), split.queries_per_index):
            chunk = queries[first : first + split.queries_per_index]
            query_index = _build_index(chunk, offset, width, heads=False, first_id=first)
            for task in _band_tasks(table, query_index, band, flips, threshold, split)[share::shares]:
                found += task()
        found = [np.unique(np.concatenate(found))]  # bounded: pairs found so far, once each
    return np.unique(np.concatenate(found))


def _worker_count(workers: int | None) -> int:
    if workers is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return workers


def _band_search(
    queries: np.ndarray | None, hashes: np.ndarray, threshold: int, flip_mask: int, plan: SearchPlan, workers: int
) -> np.ndarray:
    """All pairs through the plan's bands; big searches are split over ``workers`` processes.

    Processes, not threads: the work is many numpy calls of tens of microseconds each, and two
    threads handing the GIL back and forth that often run no faster than one. The calling process
    does one share itself; the others run in fork-server (or spawn) worker processes that build
    their own copies of the tables.
    """
    split = _Split(_BLOCK, _LONG_KEYS_PER_TASK, _QUERIES_PER_INDEX)
    shares = workers if plan.estimated_cost >= _PARALLEL_MIN_NS and not multiprocessing.current_process().daemon else 1
    arguments = (queries, hashes, threshold, flip_mask, plan.bands, split)
    if shares == 1:
        return _unique_codes([_search_share(*arguments, 0, 1)], len(hashes))
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(shares - 1, mp_context=multiprocessing.get_context(method)) as pool:
        others = {share: pool.submit(_search_share, *arguments, share, shares) for share in range(1, shares)}
        parts = [_search_share(*arguments, 0, shares)]
        for share, other in others.items():
            try:
                parts.append(other.result())
            except BrokenProcessPool:  # e.g. a script without an ``if __name__ == "__main__":`` guard
                parts.append(_search_share(*arguments, share, shares))
    return _unique_codes(parts, len(hashes))


def near_duplicate_pairs(
    hashes, threshold: int, *, flip_mask: int = 0, plan: SearchPlan | None = None, workers: int | None = None
) -> np.ndarray:
    """All pairs ``i < j`` of hashes within ``threshold`` bits (mirror-aware with ``flip_mask``).

    Args:
        hashes: 1-D array of 64-bit hashes.
        threshold: Largest Hamming distance that pairs two hashes.
        flip_mask: Bits a mirror inverts (0: no mirror search).
        plan: Force a search plan (tests); by default :func:`plan_search` picks one.
        workers: Processes that share a big search (the calling one included); by default one per
            CPU this process may use. Searches estimated under 2 s on one core run in this process.
            Worker processes start by fork server or spawn, so a calling script needs the usual
            ``if __name__ == "__main__":`` guard (without it the search still completes, in this
            process).

    Returns:
        A sorted (k, 2) int64 array of index pairs, the same as :func:`brute_force_pairs`.
    """
    hashes = _as_hashes(hashes)
    _check_arguments(threshold, flip_mask)
    plan = plan or plan_search(len(hashes), threshold, flip=bool(flip_mask))
    _check_plan(plan, threshold)
    workers = _worker_count(workers)
    if plan.brute_force or len(hashes) < 2:
        return brute_force_pairs(hashes, threshold, flip_mask=flip_mask)
    return _band_search(None, hashes, threshold, int(flip_mask), plan, workers)


def pairs_between(
    queries, hashes, threshold: int, *, flip_mask: int = 0, plan: SearchPlan | None = None, workers: int | None = None
) -> np.ndarray:
    """All (query, hash) pairs within ``threshold`` bits (mirror-aware with ``flip_mask``).

    For one set of hashes searched against another, e.g. the corner-crop hashes of every image
    against every image's own hash. Same algorithm as :func:`near_duplicate_pairs`, with the
    ``hashes`` in the tables and the ``queries`` walked in band-key order.

    Args:
        queries: 1-D array of 64-bit query hashes.
        hashes: 1-D array of 64-bit hashes to find them in.
        threshold: Largest Hamming distance that pairs a query with a hash.
        flip_mask: Bits a mirror inverts (0: no mirror search): a query also pairs with a hash when
            ``query ^ flip_mask`` is within the threshold of it.
        plan: Force a search plan (tests); by default :func:`plan_search` picks one.
        workers: Processes that share a big search, as in :func:`near_duplicate_pairs`.

    Returns:
        A sorted (k, 2) int64 array of (query index, hash index) pairs.
    """
    queries, hashes = _as_hashes(queries), _as_hashes(hashes)
    _check_arguments(threshold, flip_mask)
    plan = plan or plan_search(len(hashes), threshold, flip=bool(flip_mask), queries=len(queries))
    _check_plan(plan, threshold)
    workers = _worker_count(workers)
    if plan.brute_force or not len(queries) or not len(hashes):
        return _brute_force_between(queries, hashes, threshold, flip_mask)
    return _band_search(queries, hashes, threshold, int(flip_mask), plan, workers)


def groups_from_pairs(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (0..groups-1) of each of ``n`` items linked by ``pairs``."""
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def near_duplicate_groups(hashes, threshold: int, *, flip_mask: int = 0, workers: int | None = None) -> np.ndarray:
    """Group label of each hash: hashes linked by chains of near pairs share a label.

    Identical hashes are collapsed first, so a million copies of one image cost one search entry.
    ``workers`` is passed on to :func:`near_duplicate_pairs`.
    """
    hashes = _as_hashes(hashes)
    unique, inverse = np.unique(hashes, return_inverse=True)
    pairs = near_duplicate_pairs(unique, threshold, flip_mask=flip_mask, workers=workers)
    return groups_from_pairs(len(unique), pairs)[inverse]
