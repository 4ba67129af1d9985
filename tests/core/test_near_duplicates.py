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


def test_brute_force_pairs_are_correct_on_a_tiny_case():
    hashes = np.array([0b0, 0b111, 0b1, 2**64 - 1], np.uint64)
    assert nd.brute_force_pairs(hashes, 1).tolist() == [[0, 2]]
    assert nd.brute_force_pairs(hashes, 3).tolist() == [[0, 1], [0, 2], [1, 2]]


def test_mirror_pairs_found_only_with_the_flip_mask():
    hashes = np.array([12345, 12345 ^ MIRROR_MASK], np.uint64)
    assert nd.near_duplicate_pairs(hashes, 2).tolist() == []
    assert nd.near_duplicate_pairs(hashes, 2, flip_mask=MIRROR_MASK).tolist() == [[0, 1]]


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
