"""Query strategies on hand-made probability matrices: the exact items each one must pick."""

import numpy as np
import pytest
from labelloop.components.core import sampling

P = np.array(
    [
        [0.90, 0.05, 0.05],  # 0 confident
        [0.50, 0.45, 0.05],  # 1 margin 0.05, top1 0.50
        [0.40, 0.30, 0.30],  # 2 least confident (0.40), margin 0.10
        [0.34, 0.33, 0.33],  # 3 highest entropy, margin 0.01, top1 0.34
        [0.60, 0.39, 0.01],  # 4 margin 0.21
        [0.70, 0.20, 0.10],  # 5
    ],
    dtype=np.float32,
)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("least_confidence", [3, 2, 1]), ("margin", [3, 1, 2]), ("entropy", [3, 2, 1])],
)
def test_uncertainty_strategies_pick_the_expected_items_in_order(strategy, expected):
    assert sampling.top_k_uncertain(P, 3, strategy).indices.tolist() == expected


def test_entropy_and_least_confidence_disagree_where_they_should():
    q = np.array([[0.5, 0.5, 0.0], [0.45, 0.275, 0.275]], dtype=np.float32)
    assert sampling.top_k_uncertain(q, 1, "least_confidence").indices.tolist() == [1]
    assert sampling.top_k_uncertain(q, 1, "margin").indices.tolist() == [0]
    assert sampling.top_k_uncertain(q, 1, "entropy").indices.tolist() == [1]


def test_margin_is_exact_when_the_top_two_tie():
    q = np.array([[0.45, 0.45, 0.10], [0.5, 0.3, 0.2]], dtype=np.float32)
    assert sampling.informativeness(q, "margin").tolist() == pytest.approx([1.0, 0.8])


def test_ties_are_broken_by_seed_reproducibly_and_independently_of_chunking():
    q = np.full((1000, 4), 0.25, dtype=np.float32)
    a = sampling.top_k_uncertain(q, 10, "margin", seed=1, chunk_rows=7).indices
    b = sampling.top_k_uncertain(q, 10, "margin", seed=1, chunk_rows=1000).indices
    c = sampling.top_k_uncertain(q, 10, "margin", seed=2, chunk_rows=7).indices
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()
    assert len(set(a.tolist())) == 10


def test_chunked_top_k_equals_a_full_sort():
    rng = np.random.default_rng(0)
    q = rng.random((5000, 10), dtype=np.float32)
    q /= q.sum(axis=1, keepdims=True)
    ordered = np.sort(q, axis=1)
    margin = ordered[:, -1] - ordered[:, -2]
    expected = np.lexsort((np.arange(5000), sampling.tie_break_keys(np.arange(5000), 0), margin))[:50]
    assert sampling.top_k_uncertain(q, 50, "margin", chunk_rows=333).indices.tolist() == expected.tolist()


def test_exhausted_and_empty_pools():
    whole = sampling.top_k_uncertain(P, 100, "margin")
    assert sorted(whole.indices.tolist()) == list(range(6)) and whole.exhausted
    assert sampling.top_k_uncertain(P[:0], 5, "margin").indices.tolist() == []
    assert sampling.random_sample(0, 5).indices.tolist() == []
    assert sampling.select("UNCERTAINTY", 10, probabilities=P).indices.size == 6


def test_random_is_seeded_and_without_replacement():
    a = sampling.random_sample(100, 20, seed=3).indices
    assert a.tolist() == sampling.random_sample(100, 20, seed=3).indices.tolist()
    assert len(set(a.tolist())) == 20


def test_kcenter_takes_the_farthest_points_first():
    points = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [0.0, 5.0], [10.1, 0.0]])
    chosen = sampling.kcenter_greedy(points, 2, labeled_embeddings=np.array([[0.0, 0.0]]))
    assert chosen.indices.tolist() == [4, 3]


def test_margin_cluster_spreads_a_batch_over_distinct_confusions():
    # ten copies of one confusion (rows 0-9) are slightly more uncertain than two distinct ones
    confused = np.tile([0.5, 0.49, 0.01], (10, 1))
    others = np.array([[0.02, 0.50, 0.48], [0.48, 0.02, 0.50]])  # margins 0.02
    confident = np.tile([0.98, 0.01, 0.01], (8, 1))
    q = np.vstack([confused, others, confident]).astype(np.float32)
    assert len(set(sampling.top_k_uncertain(q, 3, "margin").indices.tolist()) & set(range(10))) == 3
    chosen = sampling.margin_cluster(q, 3, candidate_factor=4, seed=0).indices.tolist()
    assert len(set(chosen) & set(range(10))) == 1 and {10, 11} <= set(chosen)


def test_margin_cluster_turns_into_plain_margin_past_the_diversity_horizon():
    rng = np.random.default_rng(1)
    q = rng.dirichlet(np.ones(4), size=300).astype(np.float32)
    late = sampling.select("margin_cluster", 10, probabilities=q, labeled_count=1000, diversity_horizon=20)
    assert late.indices.tolist() == sampling.top_k_uncertain(q, 10, "margin").indices.tolist()


def test_cold_start_covers_each_cluster_once():
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], dtype=float)
    points = np.repeat(centres, 25, axis=0) + np.random.default_rng(0).normal(0, 0.5, (100, 2))
    chosen = sampling.cold_start_sample(100, 4, embeddings=points, seed=0)
    assert sorted(i // 25 for i in chosen.indices) == [0, 1, 2, 3]
    assert chosen.strategy == "cold_start_clusters"


def test_cold_start_by_group_allocates_in_proportion():
    groups = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    chosen = sampling.cold_start_sample(100, 10, groups=groups, seed=0).indices
    assert [sum(groups[i] == g for i in chosen) for g in "abc"] == [6, 3, 1]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.array([[0.5, 0.6], [0.5, 0.5]]), "item 'x0'"),
        (np.array([[0.5, 0.5], [np.nan, 1.0]]), "item 'x1'"),
        (np.array([0.5, 0.5]), "N x C"),
    ],
)
def test_bad_probabilities_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        sampling.check_probabilities(bad, ["x0", "x1"][: len(bad)] if bad.ndim == 2 else None)


def test_unknown_strategy_and_bad_batch_size_say_what_to_do():
    with pytest.raises(ValueError, match="unknown sampling strategy 'bald'"):
        sampling.select("bald", 3, probabilities=P)
    with pytest.raises(ValueError, match="non-negative integer"):
        sampling.top_k_uncertain(P, -1)
    with pytest.raises(ValueError, match="needs predicted probabilities"):
        sampling.select("margin", 3)


def test_round_seed_is_fresh_per_round_and_reproducible():
    seeds = [sampling.round_seed(7, r) for r in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [sampling.round_seed(7, r) for r in range(50)]
    assert sampling.round_seed(8, 3) != sampling.round_seed(7, 3)
    assert all(0 <= s < 2**31 for s in seeds)


def test_diversity_plan_follows_batch_size_pool_labels_and_embeddings():
    early = sampling.diversity_plan(k=20, pool_labels=100, has_embeddings=True, horizon=10)
    late = sampling.diversity_plan(k=20, pool_labels=200, has_embeddings=True, horizon=10)
    bigger_batch = sampling.diversity_plan(k=50, pool_labels=200, has_embeddings=True, horizon=10)
    blind = sampling.diversity_plan(k=20, pool_labels=0, has_embeddings=False)
    assert early.candidate_factor > 1 and late.candidate_factor == 1
    assert bigger_batch.candidate_factor > 1  # a bigger batch keeps diversity for more labels
    assert blind.candidate_factor == 1 and "embeddings" in blind.reason


def test_default_strategy_spreads_a_batch_over_feature_clusters_early_and_is_margin_late():
    rng = np.random.default_rng(0)
    # 5 tight feature clusters; cluster 0 holds the 20 most uncertain items, the others one each
    centres = rng.normal(scale=20, size=(5, 8))
    group = np.repeat(np.arange(5), 100)
    features = centres[group] + rng.normal(size=(500, 8))
    margin = np.where(np.arange(500) < 20, 0.01, 0.5) + rng.random(500) * 0.01
    margin[[100, 200, 300, 400]] = 0.05
    p = np.stack([(1 + margin) / 2, (1 - margin) / 2], axis=1)
    assert sampling.DEFAULT_UNCERTAINTY == "margin_diverse"
    early = sampling.select("UNCERTAINTY", 5, probabilities=p, embeddings=features, labeled_count=0, seed=1)
    assert early.strategy == "margin_diverse"
    assert len(set(group[early.indices])) == 5  # one per cluster, not five copies of cluster 0
    late = sampling.select("UNCERTAINTY", 5, probabilities=p, embeddings=features, labeled_count=10_000, seed=1)
    plain = sampling.top_k_uncertain(p, 5, "margin", seed=1)
    assert set(late.indices) == set(plain.indices)
    no_embeddings = sampling.select("UNCERTAINTY", 5, probabilities=p, labeled_count=0, seed=1)
    assert set(no_embeddings.indices) == set(plain.indices)


@pytest.mark.parametrize("position", [0, 16383, 16384, 40000])
def test_check_probabilities_names_a_bad_row_in_any_chunk(position):
    p = np.full((40001, 4), 0.25, dtype=np.float32)
    p[position] = [0.5, 0.5, 0.5, np.nan] if position % 2 else [0.9, 0.2, -0.05, -0.05]
    with pytest.raises(ValueError, match=f"row {position}"):
        sampling.check_probabilities(p)
    p[position] = 0.25
    sampling.check_probabilities(p)  # fixed: passes
    sampling.check_probabilities(p.astype(np.float64))
