"""The near-duplicate search as it was before issue #4 (commit 91f17de), kept unchanged as the
baseline that ``benchmarks/hash_search.py`` times in the same run. Not part of the package.

Find every pair of 64-bit hashes within a Hamming distance, without comparing all pairs.

Multi-index hashing with the generalised pigeonhole principle (Norouzi et al. 2012; Qin et al.
2018): split the 64 bits into ``m`` bands and give band ``b`` a radius ``r_b`` with
``sum(r_b + 1) >= threshold + 1``. If two hashes are within ``threshold`` then in at least one band
they differ by at most ``r_b`` bits, because otherwise their distance would be at least
``sum(r_b + 1)``. So the candidates of a hash are the items whose band key is one of the
``sum_{k<=r_b} C(width_b, k)`` keys within ``r_b`` of its own, looked up in a direct-address table
of sorted keys; every candidate is then verified with a popcount. The search is exact (same pairs
as brute force, which :func:`brute_force_pairs` gives for tests) and numpy-vectorised. A small
cost model picks the band layout, or brute force when that is cheaper (small inputs).

``flip_mask`` makes the search mirror-aware: ``(i, j)`` also pairs when ``h_i ^ flip_mask`` is within
the threshold of ``h_j`` (see :mod:`image_hash`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HASH_BITS = 64
#: Bands wider than this would need a direct-address table above 2**24 entries.
MAX_BAND_BITS = 24
#: Relative cost of one table lookup, one candidate verification and one brute-force comparison.
_LOOKUP_COST, _CANDIDATE_COST, _BRUTE_COST = 4.0, 6.0, 1.0
_QUERY_CHUNK = 1 << 18
_BRUTE_BLOCK = 2048


@dataclass(frozen=True)
class SearchPlan:
    """How a search runs: bands (bit offset, width, radius), or brute force when ``bands`` is empty."""

    bands: tuple[tuple[int, int, int], ...]
    estimated_cost: float

    @property
    def brute_force(self) -> bool:
        return not self.bands


def _neighbourhood(width: int, radius: int) -> int:
    """How many keys lie within ``radius`` bits of a ``width``-bit key."""
    return sum(comb(width, k) for k in range(radius + 1))


def _band_plan(n: int, queries: int, threshold: int, m: int) -> SearchPlan:
    """The cheapest radius split for ``m`` equal-as-possible bands."""
    widths = [HASH_BITS // m + (1 if b < HASH_BITS % m else 0) for b in range(m)]
    spare = max(threshold - m + 1, 0)
    radii = [spare // m + (1 if b < spare % m else 0) for b in range(m)]
    radii = [-1 if spare == 0 and b >= threshold + 1 else r for b, r in enumerate(radii)]  # fewer bands suffice
    bands, cost, offset = [], 0.0, 0
    for width, radius in zip(widths, radii):
        if radius >= 0:
            keys = _neighbourhood(width, radius)
            cost += keys * queries * (_LOOKUP_COST + _CANDIDATE_COST * n / 2**width) + 2**width
            bands.append((offset, width, radius))
        offset += width
    return SearchPlan(tuple(bands), cost)


def plan_search(n: int, threshold: int, *, flip: bool = False) -> SearchPlan:
    """Choose the band layout (or brute force) with the lowest estimated cost for ``n`` hashes."""
    if not 0 <= threshold < HASH_BITS:
        raise ValueError(f"threshold must be between 0 and {HASH_BITS - 1} bits, got {threshold}")
    queries = n * (2 if flip else 1)
    brute = SearchPlan((), _BRUTE_COST * queries * n / 2)
    plans = [_band_plan(n, queries, threshold, m) for m in range(-(-HASH_BITS // MAX_BAND_BITS), 12)]
    return min([brute, *plans], key=lambda plan: plan.estimated_cost)


def _as_hashes(hashes) -> np.ndarray:
    array = np.asarray(hashes, dtype=np.uint64)
    if array.ndim != 1:
        raise ValueError(f"hashes must be a 1-D array, got shape {array.shape}")
    return array


def _queries(hashes: np.ndarray, flip_mask: int) -> list[np.ndarray]:
    return [hashes] if not flip_mask else [hashes, hashes ^ np.uint64(flip_mask)]


def _unique_pairs(parts: list[np.ndarray], n: int) -> np.ndarray:
    """Sorted, de-duplicated (k, 2) array of pairs from (i, j) chunks with i < j."""
    if not parts:
        return np.empty((0, 2), np.int64)
    codes = np.unique(np.concatenate(parts))
    return np.stack([codes // n, codes % n], axis=1)


def brute_force_pairs(hashes, threshold: int, *, flip_mask: int = 0) -> np.ndarray:
    """All pairs ``i < j`` within ``threshold`` (mirror-aware with ``flip_mask``), by comparing every pair.

    Quadratic; used for small inputs and as the reference in tests.
    """
    hashes = _as_hashes(hashes)
    n = len(hashes)
    parts = []
    for query in _queries(hashes, flip_mask):
        for start in range(0, n, _BRUTE_BLOCK):
            block = query[start : start + _BRUTE_BLOCK]
            close = np.bitwise_count(block[:, None] ^ hashes[None, :]) <= threshold
            i, j = np.nonzero(close)
            i = i + start
            keep = i < j
            parts.append(i[keep] * n + j[keep])
    return _unique_pairs(parts, n)


def _band_keys(hashes: np.ndarray, offset: int, width: int) -> np.ndarray:
    shift = np.uint64(HASH_BITS - offset - width)
    return ((hashes >> shift) & np.uint64((1 << width) - 1)).astype(np.int64)


def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for k in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in itertools.combinations(range(width), k)]
    return np.array(masks, np.int64)


def _band_candidates(
    hashes: np.ndarray, query: np.ndarray, band: tuple[int, int, int], threshold: int
) -> list[np.ndarray]:
    """Verified pair codes ``i * n + j`` (i < j) found through one band."""
    offset, width, radius = band
    n = len(hashes)
    keys = _band_keys(hashes, offset, width)
    order = np.argsort(keys, kind="stable")
    starts = np.zeros((1 << width) + 1, np.int32 if n < 2**31 else np.int64)
    np.cumsum(np.bincount(keys, minlength=1 << width), out=starts[1:])
    query_keys = _band_keys(query, offset, width)
    query_order = np.argsort(query_keys, kind="stable")  # probes in key order: cache-friendly lookups
    found = []
    for begin in range(0, n, _QUERY_CHUNK):
        chunk_ids = query_order[begin : begin + _QUERY_CHUNK]
        chunk_keys = query_keys[chunk_ids]
        for mask in _flip_masks(width, radius):
            probe = chunk_keys ^ mask
            low = starts[probe]
            counts = starts[probe + 1] - low
            hit = np.flatnonzero(counts)
            if len(hit) == 0:
                continue
            low, counts = low[hit].astype(np.int64), counts[hit].astype(np.int64)
            ends = np.cumsum(counts)
            i = np.repeat(chunk_ids[hit], counts)
            j = order[np.repeat(low - (ends - counts), counts) + np.arange(int(ends[-1]))]
            keep = i < j
            i, j = i[keep], j[keep]
            close = np.bitwise_count(query[i] ^ hashes[j]) <= threshold
            found.append(i[close] * n + j[close])
    return found


def near_duplicate_pairs(hashes, threshold: int, *, flip_mask: int = 0, plan: SearchPlan | None = None) -> np.ndarray:
    """All pairs ``i < j`` of hashes within ``threshold`` bits (mirror-aware with ``flip_mask``).

    Args:
        hashes: 1-D array of 64-bit hashes.
        threshold: Largest Hamming distance that pairs two hashes.
        flip_mask: Bits a mirror inverts (0: no mirror search).
        plan: Force a search plan (tests); by default :func:`plan_search` picks one.

    Returns:
        A sorted (k, 2) int64 array of index pairs, the same as :func:`brute_force_pairs`.
    """
    hashes = _as_hashes(hashes)
    plan = plan or plan_search(len(hashes), threshold, flip=bool(flip_mask))
    if plan.brute_force:
        return brute_force_pairs(hashes, threshold, flip_mask=flip_mask)
    found = [
        codes
        for query in _queries(hashes, flip_mask)
        for band in plan.bands
        for codes in _band_candidates(hashes, query, band, threshold)
    ]
    return _unique_pairs(found, len(hashes))


def groups_from_pairs(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (0..groups-1) of each of ``n`` items linked by ``pairs``."""
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def near_duplicate_groups(hashes, threshold: int, *, flip_mask: int = 0) -> np.ndarray:
    """Group label of each hash: hashes linked by chains of near pairs share a label.

    Identical hashes are collapsed first, so a million copies of one image cost one search entry.
    """
    hashes = _as_hashes(hashes)
    unique, inverse = np.unique(hashes, return_inverse=True)
    pairs = near_duplicate_pairs(unique, threshold, flip_mask=flip_mask)
    return groups_from_pairs(len(unique), pairs)[inverse]
