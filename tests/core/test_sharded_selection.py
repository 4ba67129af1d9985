"""Sharded selection returns the unsharded batch: exactly for top-k strategies and random; for
margin_cluster the same candidate set always and the same batch when margins do not tie."""

import numpy as np
import pytest
from labelloop.components.core import manifest as mf
from labelloop.components.core import sampling, shards
from labelloop.components.core import sharded_selection as ss


def pool(n=3000, classes=5, seed=0, *, quantized=False):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(classes, 0.7), n).astype(np.float32)
    if quantized:  # many exact ties, the hard case for tie-breaks
        probabilities = np.round(probabilities * 8) / 8
        probabilities[:, 0] += 1 - probabilities.sum(axis=1)
        probabilities = np.abs(probabilities)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities.astype(np.float32)


def sharded(probabilities, settings, count, embeddings=None, seed=1):
    """Split rows at random into ``count`` shards (any split must give the same answer), then merge."""
    owner = np.random.default_rng(seed).integers(0, count, len(probabilities))
    ids = [f"item-{i}" for i in range(len(probabilities))]
    parts = []
    for shard in range(count):
        rows = np.flatnonzero(owner == shard)
        parts.append(
            ss.shard_candidates(
                probabilities[rows],
                rows,
                [ids[i] for i in rows],
                settings,
                shard=shard,
                shards_total=count,
                embeddings=None if embeddings is None else embeddings[rows],
            )
        )
    return ss.merge_candidates(parts[::-1], settings), parts


@pytest.mark.parametrize("strategy", ["margin", "least_confidence", "entropy", "margin_diverse", "UNCERTAINTY"])
@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("count", [1, 4, 13])
def test_top_k_is_exactly_the_unsharded_selection(strategy, quantized, count):
    probabilities = pool(quantized=quantized)
    for k, seed in ((1, 0), (50, 3), (400, 7), (5000, 1)):
        settings = ss.SelectionSettings(strategy, k, seed=seed)
        expected = sampling.select(strategy, k, probabilities=probabilities, seed=seed)
        (got, ids), parts = sharded(probabilities, settings, count)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.scores, expected.scores)
        assert ids == [f"item-{i}" for i in expected.indices]
        assert (got.strategy, got.requested, got.pool_size) == (expected.strategy, k, len(probabilities))
        assert settings.strategy != "margin_diverse" or settings.factor == 1  # no embeddings: plain margin
        if count > 1 and k < 100:  # the shards send far fewer rows than the pool
            assert sum(len(p.positions) for p in parts) < len(probabilities) // 2 or quantized


def test_random_is_exactly_the_unsharded_draw():
    probabilities = pool(500)
    (got, _), _ = sharded(probabilities, ss.SelectionSettings("random", 40, seed=5), 3)
    np.testing.assert_array_equal(got.indices, sampling.select("random", 40, pool_size=500, seed=5).indices)


@pytest.mark.parametrize(
    "strategy, with_embeddings",
    [("margin_cluster", False), ("margin_cluster", True), ("margin_diverse", True)],
)
@pytest.mark.parametrize("labeled_count", [0, 10_000])
def test_clustering_strategies_are_identical_without_ties(strategy, with_embeddings, labeled_count):
    probabilities = pool(4000, seed=2)
    embeddings = np.random.default_rng(3).normal(size=(4000, 8)) if with_embeddings else None
    settings = ss.SelectionSettings(strategy, 30, seed=4, labeled_count=labeled_count, with_embeddings=with_embeddings)
    expected = sampling.select(
        strategy, 30, probabilities=probabilities, embeddings=embeddings, seed=4, labeled_count=labeled_count
    )
    assert (settings.factor > 1) == (labeled_count == 0)  # clustering runs, then stops past the horizon
    smallest = np.sort(sampling.certainty(probabilities, "margin"))[: 30 * sampling.DEFAULT_CANDIDATE_FACTOR + 1]
    assert len(np.unique(smallest)) == len(smallest)  # the no-tie case this test is about
    for count in (3, 8):
        (got, _), _ = sharded(probabilities, settings, count, embeddings)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.scores, expected.scores)
        assert got.strategy == expected.strategy


def test_margin_cluster_with_tied_margins_has_the_same_candidates_and_a_bounded_difference():
    probabilities = pool(4000, seed=5, quantized=True)
    k, factor = 40, sampling.DEFAULT_CANDIDATE_FACTOR
    settings = ss.SelectionSettings("margin_cluster", k, seed=0)
    expected = sampling.select("margin_cluster", k, probabilities=probabilities, seed=0)
    unsharded_candidates = sampling.top_k_uncertain(probabilities, k * factor, "margin", seed=0).indices
    (got, _), parts = sharded(probabilities, settings, 6)
    pooled = np.concatenate([p.positions for p in parts])
    certainty = sampling.certainty(probabilities[pooled], "margin")
    order = np.lexsort((pooled, sampling.tie_break_keys(pooled, 0), certainty))[: k * factor]
    assert set(pooled[order]) == set(unsharded_candidates)  # the clustered set is the unsharded one
    assert len(got.indices) == len(expected.indices) == k and set(got.indices) <= set(unsharded_candidates)
    # Only the order among equal margins can differ, so the batch's margins are the same multiset up
    # to the ties k-means breaks differently; measured on this pool: the same sorted scores.
    assert sorted(got.scores) == pytest.approx(sorted(expected.scores), abs=0.13)
    assert abs(float(np.mean(got.scores)) - float(np.mean(expected.scores))) < 0.02


def test_kcenter_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="does not shard"):
        ss.SelectionSettings("kcenter", 5)


def test_manifest_level_matches_select_from_manifest(tmp_path):
    n = 600
    probabilities = pool(n, seed=9)
    records = [mf.with_id({"imageGcsUri": f"gs://b/{i}.png"}, f"id{i:04d}") for i in range(n)]
    pool_path = str(tmp_path / "pool.jsonl")
    mf.write_jsonl(pool_path, records)
    predictions = sampling.Predictions(tuple(f"id{i:04d}" for i in range(n)), probabilities, ())
    expected = sampling.select_from_manifest(
        pool_path,
        str(tmp_path / "sel"),
        str(tmp_path / "rem"),
        strategy="margin",
        k=25,
        seed=2,
        predictions=predictions,
    )
    plan = shards.split_manifest(pool_path, str(tmp_path / "shards"), shards=4)
    settings = ss.SelectionSettings("margin", 25, seed=2)
    paths = []
    for shard in plan.shard_numbers:
        paths.append(str(tmp_path / f"c{shard}.npz"))
        ss.write_candidates(paths[-1], ss.pool_shard_candidates(str(tmp_path / "shards"), shard, predictions, settings))
    selection, _ = ss.merge_candidates([ss.read_candidates(p) for p in paths], settings)
    got = ss.write_selection(pool_path, str(tmp_path / "s2"), str(tmp_path / "r2"), selection)
    assert got == expected
    assert open(tmp_path / "s2", "rb").read() == open(tmp_path / "sel", "rb").read()
    assert open(tmp_path / "r2", "rb").read() == open(tmp_path / "rem", "rb").read()
