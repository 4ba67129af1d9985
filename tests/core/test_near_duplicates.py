import numpy as np
import pytest
from labelloop.components.core import near_duplicates as nd
from labelloop.components.core.image_hash import MIRROR_MASK


def planted(n, seed=0, near=0.3, max_flips=12):
    """Random hashes where some are copies of others with up to ``max_flips`` bits changed."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64)
    copies = int(n * near)
    sources, targets = rng.integers(0, n, copies), rng.integers(0, n, copies)
    for source, target in zip(sources, targets):
        bits = rng.choice(64, int(rng.integers(0, max_flips + 1)), replace=False)
        hashes[target] = hashes[source] ^ np.uint64(sum(1 << int(b) for b in bits))
        if rng.random() < 0.2:
            hashes[target] ^= np.uint64(MIRROR_MASK)
    return hashes


def skewed(n, seed=0, distinct_tops=5):
    """Hashes whose top 24 bits take only a few values, so band keys collide in long runs."""
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, 2**24, distinct_tops, dtype=np.uint64)[rng.integers(0, distinct_tops, n)]
    hashes = (tops << np.uint64(40)) | rng.integers(0, 2**40, n, dtype=np.uint64)
    hashes[rng.integers(0, n, n // 4)] = hashes[rng.integers(0, n, n // 4)] ^ np.uint64(0b101)
    return hashes


def flip_bits(value, count, rng):
    return int(value) ^ sum(1 << int(b) for b in rng.choice(64, count, replace=False))


def plan(bands):
    return nd.SearchPlan(tuple(bands), 0.0)


def pair_set(pairs):
    return {tuple(p) for p in pairs.tolist()}


@pytest.mark.parametrize("threshold", [0, 1, 4, 6, 8, 10])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("bands", [3, 4, 6])
def test_band_search_returns_exactly_the_brute_force_pairs(threshold, flip, bands):
    hashes = planted(1500, seed=threshold)
    mask = MIRROR_MASK if flip else 0
    expected = nd.brute_force_pairs(hashes, threshold, flip_mask=mask)
    plan = nd._band_plan(len(hashes), len(hashes), threshold, bands)
    assert not plan.brute_force
    found = nd.near_duplicate_pairs(hashes, threshold, flip_mask=mask, plan=plan)
    assert np.array_equal(found, expected)
    assert len(expected) > 0


@pytest.mark.parametrize("threshold", [6, 8])
@pytest.mark.parametrize("flip", [False, True])
def test_pairs_planted_at_every_distance_are_found_up_to_the_threshold_and_not_beyond(threshold, flip):
    rng = np.random.default_rng(threshold + 100 * flip)
    mask = MIRROR_MASK if flip else 0
    hashes = rng.integers(0, 2**64, 4000, dtype=np.uint64)
    planted_pairs = {}
    for distance in range(threshold + 2):
        for k in range(20):
            source, target = 2 * (distance * 20 + k), 2 * (distance * 20 + k) + 1
            hashes[target] = flip_bits(hashes[source], distance, rng) ^ mask
            planted_pairs[(source, target)] = distance
    found = pair_set(nd.near_duplicate_pairs(hashes, threshold, flip_mask=mask, plan=nd.plan_search(10**6, threshold)))
    for pair, distance in planted_pairs.items():
        assert (pair in found) == (distance <= threshold), (pair, distance)
    assert found == pair_set(nd.brute_force_pairs(hashes, threshold, flip_mask=mask))


@pytest.mark.parametrize(
    "bands",
    [
        [(0, 22, 2), (22, 21, 2), (43, 21, 2)],  # the 1,000,000-hash plan
        [(0, 16, 2), (16, 16, 1), (32, 16, 1), (48, 16, 1)],
        [(0, 12, 2), (20, 20, 3), (44, 20, 2)],  # uneven, with bits in no band
        [(0, 8, 1), (8, 8, 0), (16, 8, 0), (24, 8, 0), (32, 8, 0), (40, 8, 0), (48, 8, 0), (56, 8, 0)],
    ],
)
@pytest.mark.parametrize("flip_mask", [0, MIRROR_MASK, 0b11 << 60])  # the last one lies within a band's radius
def test_explicit_plans_on_skewed_keys_equal_brute_force(bands, flip_mask):
    hashes = np.concatenate([skewed(1200, seed=len(bands)), planted(800, seed=7)])
    expected = nd.brute_force_pairs(hashes, 8, flip_mask=flip_mask)
    assert np.array_equal(nd.near_duplicate_pairs(hashes, 8, flip_mask=flip_mask, plan=plan(bands)), expected)
    assert len(expected) > 100


def two_close_runs(n, seed=0):
    """Hashes whose top 22 bits (band 0 of the million-hash plan) take two values one bit apart.

    The planted pairs differ by that bit and by 3 bits in each other band, so only band 0 finds them.
    """
    rng = np.random.default_rng(seed)
    top = np.uint64(int(rng.integers(0, 2**22)) << 42)
    low = rng.integers(0, 2**42, n, dtype=np.uint64)
    hashes = (top ^ (rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(42))) | low
    step = np.uint64((1 << 42) | (0b111 << 30) | 0b111)
    hashes[rng.integers(0, n, n // 3)] = hashes[rng.integers(0, n, n // 3)] ^ step
    return hashes


@pytest.mark.parametrize("chunk", [97, 5000])
def test_long_runs_meeting_long_runs_are_expanded_in_bounded_chunks(monkeypatch, chunk):
    hashes = two_close_runs(700, seed=chunk)  # two runs of ~350 whose keys differ by one bit
    expected = nd.brute_force_pairs(hashes, 8, flip_mask=MIRROR_MASK)
    monkeypatch.setattr(nd, "_EXPAND_CHUNK", chunk)
    bands = plan([(0, 22, 2), (22, 21, 2), (43, 21, 2)])
    assert np.array_equal(nd.near_duplicate_pairs(hashes, 8, flip_mask=MIRROR_MASK, plan=bands), expected)
    assert len(expected) > 100


def test_run_pairs_are_cut_into_pieces_that_cover_them_exactly(monkeypatch):
    monkeypatch.setattr(nd, "_EXPAND_CHUNK", 10)
    query_start, query_length = np.array([0, 100, 500, 900]), np.array([7, 1, 30, 0])
    table_start, table_length = np.array([50, 200, 600, 950]), np.array([3, 40, 1, 5])
    pieces = nd._bounded_run_pairs(query_start, query_length, table_start, table_length)

    def cells(qs, ql, ts, tl):
        return sorted((q, t) for a, b, c, d in zip(qs, ql, ts, tl) for q in range(a, a + b) for t in range(c, c + d))

    assert cells(*pieces) == cells(query_start, query_length, table_start, table_length)
    sizes = pieces[1] * pieces[3]
    assert np.all((sizes <= 10) | (pieces[1] == 1))  # a piece is small, or a single query against a long run


def test_identical_hashes_pair_with_each_other_once():
    hashes = np.array([7, 7, 7, 2**63 + 7, 7 ^ MIRROR_MASK], np.uint64)
    expected = [[0, 1], [0, 2], [0, 4], [1, 2], [1, 4], [2, 4]]
    bands = plan([(0, 22, 2), (22, 21, 2), (43, 21, 2)])
    assert nd.near_duplicate_pairs(hashes, 0, flip_mask=MIRROR_MASK, plan=bands).tolist() == expected
    assert nd.brute_force_pairs(hashes, 0, flip_mask=MIRROR_MASK).tolist() == expected


def queries_near(hashes, count, seed=0):
    """Queries: copies of some hashes with a few bits changed (some mirrored), and random ones."""
    rng = np.random.default_rng(seed)
    queries = hashes[rng.integers(0, len(hashes), count)]
    for k in range(count):
        queries[k] = flip_bits(queries[k], int(rng.integers(0, 8)), rng)
    queries[::5] ^= np.uint64(MIRROR_MASK)
    return np.concatenate([queries, rng.integers(0, 2**64, count // 4, dtype=np.uint64)])


def test_multi_process_search_equals_single_process_search(monkeypatch):
    monkeypatch.setattr(nd, "_PARALLEL_MIN_NS", 0)  # split even this small search
    monkeypatch.setattr(nd, "_BLOCK", 300)  # many blocks, so every process gets part of every band
    hashes = np.concatenate([planted(3000, seed=11), skewed(500, seed=11)])
    bands = plan([(0, 22, 2), (22, 21, 2), (43, 21, 2)])
    single = nd.near_duplicate_pairs(hashes, 8, flip_mask=MIRROR_MASK, plan=bands, workers=1)
    assert np.array_equal(nd.near_duplicate_pairs(hashes, 8, flip_mask=MIRROR_MASK, plan=bands, workers=3), single)
    assert np.array_equal(single, nd.brute_force_pairs(hashes, 8, flip_mask=MIRROR_MASK))
    queries = queries_near(hashes, 2000, seed=11)
    single = nd.pairs_between(queries, hashes, 5, flip_mask=MIRROR_MASK, plan=bands, workers=1)
    assert np.array_equal(nd.pairs_between(queries, hashes, 5, flip_mask=MIRROR_MASK, plan=bands, workers=2), single)
    assert np.array_equal(single, nd._brute_force_between(queries, hashes, 5, MIRROR_MASK))


@pytest.mark.parametrize("threshold", [0, 3, 5, 8])
@pytest.mark.parametrize("flip_mask", [0, MIRROR_MASK])
@pytest.mark.parametrize("bands", [3, 4, 6])
def test_pairs_between_returns_exactly_the_brute_force_pairs(threshold, flip_mask, bands):
    hashes = np.concatenate([planted(1500, seed=threshold), skewed(300, seed=threshold)])
    queries = queries_near(hashes, 1500, seed=threshold)
    expected = nd._brute_force_between(queries, hashes, threshold, flip_mask)
    chosen = nd._band_plan(len(hashes), len(queries), threshold, bands, self_join=False)
    found = nd.pairs_between(queries, hashes, threshold, flip_mask=flip_mask, plan=chosen)
    assert np.array_equal(found, expected)
    assert len(expected) > 100
    distance = np.bitwise_count(queries[found[:, 0]] ^ hashes[found[:, 1]])
    mirrored = np.bitwise_count(queries[found[:, 0]] ^ np.uint64(flip_mask) ^ hashes[found[:, 1]])
    assert np.minimum(distance, mirrored).max() <= threshold


def test_pairs_between_handles_long_runs_and_empty_sides():
    hashes = two_close_runs(600, seed=4)
    queries = np.concatenate([hashes[::3] ^ np.uint64(0b11 << 20), two_close_runs(300, seed=5)])
    bands = plan([(0, 22, 2), (22, 21, 2), (43, 21, 2)])
    expected = nd._brute_force_between(queries, hashes, 8, MIRROR_MASK)
    assert np.array_equal(nd.pairs_between(queries, hashes, 8, flip_mask=MIRROR_MASK, plan=bands), expected)
    assert len(expected) > 100
    empty = np.array([], np.uint64)
    assert nd.pairs_between(empty, hashes, 8, plan=bands).shape == (0, 2)
    assert nd.pairs_between(queries, empty, 8, plan=bands).shape == (0, 2)


def test_planner_prices_a_cross_search_by_its_queries():
    assert nd.plan_search(1_000_000, 5, flip=True, queries=10).brute_force
    plan = nd.plan_search(1_000_000, 5, flip=True, queries=4_000_000)
    assert not plan.brute_force
    assert sum(radius + 1 for _, _, radius in plan.bands) >= 5 + 1


def test_planted_copies_among_many_hashes_are_all_found_and_every_pair_is_true():
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**64, 200_000, dtype=np.uint64)
    sources, targets = np.arange(0, 20_000, 2), np.arange(1, 20_000, 2)
    hashes[targets] = hashes[sources] ^ np.uint64(0b1011_0000_0001)
    hashes[targets[::2]] ^= np.uint64(MIRROR_MASK)
    pairs = nd.near_duplicate_pairs(hashes, 8, flip_mask=MIRROR_MASK)
    assert set(zip(sources.tolist(), targets.tolist())) <= pair_set(pairs)
    a, b = hashes[pairs[:, 0]], hashes[pairs[:, 1]]
    distance = np.minimum(np.bitwise_count(a ^ b), np.bitwise_count(a ^ np.uint64(MIRROR_MASK) ^ b))
    assert distance.max() <= 8
    assert np.all(pairs[:, 0] < pairs[:, 1])


def test_brute_force_pairs_are_correct_on_a_tiny_case():
    hashes = np.array([0b0, 0b111, 0b1, 2**64 - 1], np.uint64)
    assert nd.brute_force_pairs(hashes, 1).tolist() == [[0, 2]]
    assert nd.brute_force_pairs(hashes, 3).tolist() == [[0, 1], [0, 2], [1, 2]]


def test_mirror_pairs_found_only_with_the_flip_mask():
    hashes = np.array([12345, 12345 ^ MIRROR_MASK], np.uint64)
    assert nd.near_duplicate_pairs(hashes, 2).tolist() == []
    assert nd.near_duplicate_pairs(hashes, 2, flip_mask=MIRROR_MASK).tolist() == [[0, 1]]


def test_empty_and_single_inputs_have_no_pairs():
    bands = plan([(0, 22, 2), (22, 21, 2), (43, 21, 2)])
    for hashes in (np.array([], np.uint64), np.array([5], np.uint64)):
        assert nd.near_duplicate_pairs(hashes, 8, flip_mask=MIRROR_MASK, plan=bands).shape == (0, 2)
        assert nd.near_duplicate_pairs(hashes, 8).shape == (0, 2)


def test_planner_uses_bands_for_large_inputs_and_brute_force_for_tiny_ones():
    assert nd.plan_search(50, 8).brute_force
    plan = nd.plan_search(1_000_000, 8, flip=True)
    assert not plan.brute_force
    assert all(width <= nd.MAX_BAND_BITS for _, width, _ in plan.bands)
    assert sum(radius + 1 for _, _, radius in plan.bands) >= 8 + 1  # the pigeonhole condition


def test_groups_follow_chains_and_collapse_identical_hashes():
    hashes = np.array([0b0, 0b11, 0b1111, 2**40 - 1, 0b0, 2**64 - 1], np.uint64)
    labels = nd.near_duplicate_groups(hashes, 2)
    assert labels[0] == labels[1] == labels[2] == labels[4]
    assert len({labels[0], labels[3], labels[5]}) == 3


def test_bad_threshold_and_shapes_are_rejected():
    with pytest.raises(ValueError, match="threshold"):
        nd.plan_search(10, 64)
    with pytest.raises(ValueError, match="1-D"):
        nd.near_duplicate_pairs(np.zeros((2, 2), np.uint64), 3)
    with pytest.raises(ValueError, match="threshold must be between 0 and 63"):
        nd.near_duplicate_pairs(np.zeros(3, np.uint64), -1, plan=plan([(0, 22, 2)]))
    with pytest.raises(ValueError, match="flip_mask"):
        nd.near_duplicate_pairs(np.zeros(3, np.uint64), 3, flip_mask=2**64)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        nd.near_duplicate_pairs(np.zeros(3, np.uint64), 3, workers=0)
    with pytest.raises(ValueError, match="1-D"):
        nd.pairs_between(np.zeros((2, 2), np.uint64), np.zeros(3, np.uint64), 3)
    with pytest.raises(ValueError, match="threshold must be between 0 and 63"):
        nd.pairs_between(np.zeros(2, np.uint64), np.zeros(3, np.uint64), 64)


@pytest.mark.parametrize(
    "bands, message",
    [
        ([(0, 22, 1), (22, 21, 1), (43, 21, 1)], "cannot find every pair within 8 bits"),
        ([(0, 22, 2), (20, 21, 2), (43, 21, 2)], "must not overlap"),
        ([(0, 30, 8)], "1..24 bits wide"),
        ([(50, 20, 8)], "within the 64-bit hash"),
    ],
)
def test_plans_that_could_miss_pairs_are_rejected(bands, message):
    with pytest.raises(ValueError, match=message):
        nd.near_duplicate_pairs(planted(100), 8, plan=plan(bands))


@pytest.mark.parametrize("workers", [1, 2])
def test_pairs_between_indexes_the_queries_in_chunks_with_the_same_pairs(monkeypatch, workers):
    hashes = np.concatenate([planted(2000, seed=21), skewed(300, seed=21)])
    queries = np.concatenate([queries_near(hashes, 2500, seed=21), two_close_runs(300, seed=22)])
    bands = plan([(0, 22, 2), (22, 21, 2), (43, 21, 2)])
    expected = nd._brute_force_between(queries, hashes, 5, MIRROR_MASK)
    monkeypatch.setattr(nd, "_QUERIES_PER_INDEX", 333)  # 9 chunks, the last one short
    monkeypatch.setattr(nd, "_PARALLEL_MIN_NS", 0)  # the worker processes cut the chunks too
    found = nd.pairs_between(queries, hashes, 5, flip_mask=MIRROR_MASK, plan=bands, workers=workers)
    assert np.array_equal(found, expected) and len(expected) > 100
    assert found[:, 0].max() >= 2000  # pairs from the last chunks carry global query ids
