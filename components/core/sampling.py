"""Pool-based query strategies: which unlabeled items should humans label next.

Every strategy takes the model's predicted class probabilities for the pool (``N x C``, rows in
pool order) and returns pool positions, most informative first:

* ``least_confidence`` — lowest top-1 probability;
* ``margin`` — smallest gap between the top-2 probabilities;
* ``entropy`` — highest predictive entropy;
* ``random`` — a seeded uniform sample, the control every other strategy is measured against;
* ``kcenter`` — k-center greedy (core-set) on embeddings: each pick is the item farthest from
  everything labeled or already picked, so a batch covers the pool instead of one corner of it;
* ``margin_cluster`` — margin with a diversity step: the ``candidate_factor * k`` smallest-margin
  items are clustered into ``k`` groups (k-means on embeddings) and the smallest-margin item of each
  group is taken, so a batch is not ``k`` copies of the same confusion;
* ``margin_diverse`` — the default: ``margin_cluster`` on the model's feature space (embeddings)
  while few labels are bought on the pool, plain margin afterwards; how long the diversity step
  lasts and how wide its candidate set is follow the batch size (:func:`diversity_plan`). Without
  embeddings it is plain margin: clustering probability vectors cost labels in the benchmark.

``UNCERTAINTY`` (DataLabelingJob's only ``sampleStrategy``) maps to :data:`DEFAULT_UNCERTAINTY`,
chosen by ``benchmarks/label_efficiency.py``. Each round should draw a fresh seed from the run's
seed (:func:`round_seed`), so k-means and tie-breaks do not repeat the same draw every round.

The uncertainty scores are computed in cache-sized chunks (each chunk transposed once so the
top-2 pass runs over contiguous class columns) and the top-k is kept incrementally: a chunk only
contributes the items that beat the current k-th best, so a 10,000,000 x 10 pool is never sorted.
Ties are broken by a seeded hash of the pool position, which gives a total order that does not
depend on the chunk size.

Cold start (no model yet): :func:`cold_start_sample` picks the item nearest each centre of a
k-means clustering of the embeddings (one label per region of feature space), or, without
embeddings, a seeded random sample stratified by any known grouping (proportional allocation).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

UNCERTAINTY_STRATEGIES = ("least_confidence", "margin", "entropy")
DIVERSITY_STRATEGIES = ("kcenter", "margin_cluster", "margin_diverse")
STRATEGIES = (*UNCERTAINTY_STRATEGIES, "random", *DIVERSITY_STRATEGIES)
#: What DataLabelingJob's ``UNCERTAINTY`` means here (chosen by benchmarks/label_efficiency.py).
DEFAULT_UNCERTAINTY = "margin_diverse"
ALIASES = {"uncertainty": DEFAULT_UNCERTAINTY, "sample_strategy_unspecified": DEFAULT_UNCERTAINTY}
DEFAULT_CHUNK_ROWS = 16384
#: margin_cluster clusters this many times the batch size of smallest-margin candidates.
DEFAULT_CANDIDATE_FACTOR = 5
#: margin_cluster stops clustering once this many batches' worth of items are labeled.
DEFAULT_DIVERSITY_HORIZON = 20.0
#: margin_diverse clusters while fewer than this many batches of pool labels are bought.
DEFAULT_DIVERSE_HORIZON = 10.0
PROBABILITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Selection:
    """Chosen pool positions, most informative first.

    Attributes:
        indices: int64 positions into the pool, in selection order.
        scores: informativeness of each chosen item (higher = more informative; for ``random``
            and ``kcenter`` the distance or draw order, see the strategy).
        strategy: the strategy that chose them (aliases resolved).
        requested: the batch size asked for.
        pool_size: how many items the pool held.
    """

    indices: np.ndarray
    scores: np.ndarray
    strategy: str
    requested: int
    pool_size: int

    @property
    def exhausted(self) -> bool:
        """True when the pool held no more items than were requested (all of it was taken)."""
        return self.requested >= self.pool_size


def resolve_strategy(name: str) -> str:
    """The canonical strategy name for ``name`` (case-insensitive; ``UNCERTAINTY`` is an alias)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {name!r}; use one of {', '.join(STRATEGIES)} or UNCERTAINTY")
    return key


# ---------------------------------------------------------------------------------------------
# Validation


def check_probabilities(
    probabilities: np.ndarray, ids: list[str] | tuple[str, ...] | None = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> None:
    """Raise ValueError naming the first bad row unless every row is a probability distribution.

    One cache-sized chunk at a time (the selection's chunk size), in the array's own float type:
    the chunk's min and max and its row sums (a matrix-vector product) are all it takes, so the
    check costs about one pass over the data, like the selection itself
    (``benchmarks/selection_speed.py`` prints both). NaN fails every comparison, so it is caught too.

    Args:
        probabilities: ``N x C`` array of predicted class probabilities.
        ids: item ids in row order, used to name a bad row.
        chunk_rows: rows per chunk.
    """
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(f"probabilities must be an N x C array with C >= 2, got shape {probabilities.shape}")
    if ids is not None and len(ids) != len(probabilities):
        raise ValueError(f"{len(ids)} ids for {len(probabilities)} probability rows; they must match one to one")
    dtype = probabilities.dtype if probabilities.dtype in (np.float32, np.float64) else np.float64
    ones = np.ones(probabilities.shape[1], dtype=dtype)
    low, high = -PROBABILITY_TOLERANCE, 1 + PROBABILITY_TOLERANCE
    for start in range(0, len(probabilities), chunk_rows):
        block = np.asarray(probabilities[start : start + chunk_rows], dtype=dtype)
        total = block @ ones
        if block.min() >= low and block.max() <= high and np.abs(total - 1.0).max() <= PROBABILITY_TOLERANCE:
            continue
        bad = ~np.isfinite(block).all(axis=1) | (block < low).any(axis=1) | (block > high).any(axis=1)
        bad |= ~(np.abs(total - 1.0) <= PROBABILITY_TOLERANCE)
        row = start + int(np.flatnonzero(bad)[0])
        name = f"item {ids[row]!r}" if ids is not None else f"row {row}"
        raise ValueError(
            f"probabilities of {name} (row {row}) are not a distribution: "
            f"{np.asarray(probabilities[row]).tolist()}; re-run prediction with a softmax/predict_proba output"
        )


# ---------------------------------------------------------------------------------------------
# Scores


def _certainty_of_chunk(chunk: np.ndarray, strategy: str) -> np.ndarray:
    """Per-row certainty (lower = more informative) of one chunk, as float32."""
    columns = np.ascontiguousarray(chunk.T, dtype=np.float32)
    if strategy == "least_confidence":
        return columns.max(axis=0)
    if strategy == "margin":
        return _top1_minus_top2(columns)
    if strategy == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = columns * np.log(columns)
        terms[~np.isfinite(terms)] = 0.0
        return terms.sum(axis=0)
    raise ValueError(f"{strategy!r} is not an uncertainty strategy; use one of {UNCERTAINTY_STRATEGIES}")


def _top1_minus_top2(columns: np.ndarray) -> np.ndarray:
    """``p1 - p2`` per row from a class-major (C x n) block, exact under ties, in one pass."""
    top1 = columns[0].copy()
    top2 = np.full_like(top1, -np.inf)
    smaller = np.empty_like(top1)
    for column in columns[1:]:
        np.minimum(top1, column, out=smaller)
        np.maximum(top2, smaller, out=top2)
        np.maximum(top1, column, out=top1)
    return top1 - top2


def informativeness(probabilities: np.ndarray, strategy: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """Score every row (higher = more informative) with an uncertainty strategy.

    ``least_confidence``: ``1 - p1``; ``margin``: ``1 - (p1 - p2)``; ``entropy``: ``-sum p log p``.
    """
    strategy = resolve_strategy(strategy)
    out = np.empty(len(probabilities), dtype=np.float32)
    for start in range(0, len(probabilities), chunk_rows):
        out[start : start + chunk_rows] = _certainty_of_chunk(probabilities[start : start + chunk_rows], strategy)
    return -out if strategy == "entropy" else 1.0 - out


def certainty(probabilities: np.ndarray, strategy: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """Per-row certainty (float32, lower = more informative): the exact value :func:`top_k_uncertain`
    orders by (``informativeness`` rounds ``1 - c``, which merges close margins). The sharded
    selection (:mod:`sharded_selection`) orders candidates from many shards by it."""
    strategy = resolve_strategy(strategy)
    out = np.empty(len(probabilities), dtype=np.float32)
    for start in range(0, len(probabilities), chunk_rows):
        out[start : start + chunk_rows] = _certainty_of_chunk(probabilities[start : start + chunk_rows], strategy)
    return out


def tie_break_keys(positions: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per pool position (splitmix64), for reproducible tie-breaks."""
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _order(certainty: np.ndarray, positions: np.ndarray, seed: int) -> np.ndarray:
    """Argsort by (certainty, seeded key, position): a total order independent of chunking."""
    return np.lexsort((positions, tie_break_keys(positions, seed), certainty))


def _smallest_k(certainty: np.ndarray, positions: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest by the total order, sorted; cheap when most rows are already above the cut."""
    if len(certainty) > k:
        cut = np.partition(certainty, k - 1)[k - 1]
        keep = certainty <= cut  # keeps every tie at the cut, resolved by the seeded order below
        certainty, positions = certainty[keep], positions[keep]
    order = _order(certainty, positions, seed)[:k]
    return certainty[order], positions[order]


def top_k_uncertain(
    probabilities: np.ndarray,
    k: int,
    strategy: str = "margin",
    *,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Selection:
    """The ``k`` most uncertain pool rows under ``strategy``, in one chunked pass.

    Args:
        probabilities: ``N x C`` predicted probabilities, rows in pool order (a memory map works).
        k: how many to choose; more than the pool returns the whole pool.
        strategy: ``least_confidence``, ``margin`` or ``entropy``.
        seed: seeds the tie-break among equally uncertain items.
        chunk_rows: rows per chunk (16,384 x 10 float32 = 640 KiB stays in cache).

    Returns:
        The chosen rows, most uncertain first.
    """
    strategy = resolve_strategy(strategy)
    if strategy not in UNCERTAINTY_STRATEGIES:
        raise ValueError(f"top_k_uncertain needs one of {UNCERTAINTY_STRATEGIES}, got {strategy!r}")
    _check_batch_size(k)
    n = len(probabilities)
    k_eff = min(k, n)
    best_c = np.empty(0, dtype=np.float32)
    best_p = np.empty(0, dtype=np.int64)
    cut = np.float32(np.inf)
    for start in range(0, n, chunk_rows):
        certainty = _certainty_of_chunk(probabilities[start : start + chunk_rows], strategy)
        hits = np.flatnonzero(certainty <= cut)
        if not len(hits):
            continue
        best_c = np.concatenate((best_c, certainty[hits]))
        best_p = np.concatenate((best_p, hits.astype(np.int64) + start))
        if len(best_c) >= max(4 * k_eff, 1024) and k_eff:
            best_c, best_p = _smallest_k(best_c, best_p, k_eff, seed)
            cut = best_c[-1]
    best_c, best_p = _smallest_k(best_c, best_p, k_eff, seed) if k_eff else (best_c[:0], best_p[:0])
    scores = -best_c if strategy == "entropy" else 1.0 - best_c
    return Selection(best_p, scores.astype(np.float32), strategy, k, n)


def random_sample(n: int, k: int, *, seed: int = 0) -> Selection:
    """A seeded uniform sample of ``k`` of ``n`` pool positions (the control strategy)."""
    _check_batch_size(k)
    k_eff = min(k, n)
    picks = np.random.default_rng(seed).choice(n, size=k_eff, replace=False).astype(np.int64)
    return Selection(picks, np.zeros(k_eff, dtype=np.float32), "random", k, n)


def _check_batch_size(k: int) -> None:
    if int(k) != k or k < 0:
        raise ValueError(f"batch size must be a non-negative integer, got {k!r}")


# ---------------------------------------------------------------------------------------------
# Diversity


def _min_sq_distances(points: np.ndarray, centers: np.ndarray, *, block: int = 4096) -> np.ndarray:
    """Squared distance from each point to its nearest centre, in blocks to bound memory."""
    out = np.full(len(points), np.inf, dtype=np.float64)
    if not len(centers):
        return out
    point_norms = np.einsum("ij,ij->i", points, points)
    center_norms = np.einsum("ij,ij->i", centers, centers)
    for start in range(0, len(centers), block):
        c = centers[start : start + block]
        d = point_norms[:, None] - 2.0 * points @ c.T + center_norms[None, start : start + block]
        np.minimum(out, d.min(axis=1), out=out)
    return np.maximum(out, 0.0)


def kcenter_greedy(
    embeddings: np.ndarray, k: int, *, labeled_embeddings: np.ndarray | None = None, seed: int = 0
) -> Selection:
    """k-center greedy (core-set): repeatedly take the pool item farthest from all chosen/labeled.

    Args:
        embeddings: ``N x D`` pool embeddings (or probabilities when no embedding exists).
        k: batch size.
        labeled_embeddings: embeddings of already-labeled items, which count as centres.
        seed: picks the first centre when nothing is labeled yet.

    Returns:
        The chosen rows in pick order; ``scores`` are each pick's distance to the nearest centre.
    """
    _check_batch_size(k)
    points = np.asarray(embeddings, dtype=np.float64)
    n = len(points)
    k_eff = min(k, n)
    labeled = np.empty((0, points.shape[1])) if labeled_embeddings is None else np.asarray(labeled_embeddings, float)
    nearest = _min_sq_distances(points, labeled)
    picks: list[int] = []
    scores: list[float] = []
    for _ in range(k_eff):
        if np.isinf(nearest).all():
            pick = int(np.random.default_rng(seed).integers(n))
        else:
            far = nearest.max()
            ties = np.flatnonzero(nearest == far)
            pick = int(ties[np.argmin(tie_break_keys(ties, seed))])
        picks.append(pick)
        scores.append(float(np.sqrt(nearest[pick])) if np.isfinite(nearest[pick]) else 0.0)
        np.minimum(nearest, _min_sq_distances(points, points[pick : pick + 1]), out=nearest)
        nearest[pick] = -1.0  # never pick it again
    return Selection(np.asarray(picks, dtype=np.int64), np.asarray(scores, np.float32), "kcenter", k, n)


def _kmeans_labels(points: np.ndarray, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels and centres: k-means, mini-batch above 20,000 points to stay cheap."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(points) > 20000:
        model = MiniBatchKMeans(n_clusters=clusters, random_state=seed, n_init=1, batch_size=4096)
    else:
        model = KMeans(n_clusters=clusters, random_state=seed, n_init=1)
    labels = model.fit_predict(points)
    return labels, model.cluster_centers_


def margin_cluster(
    probabilities: np.ndarray,
    k: int,
    *,
    embeddings: np.ndarray | None = None,
    candidate_factor: int = DEFAULT_CANDIDATE_FACTOR,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Selection:
    """Margin sampling with a diversity step.

    Takes the ``candidate_factor * k`` smallest-margin rows, clusters them into ``k`` groups by
    k-means on ``embeddings`` (else on ``embed(candidate rows)``, else on the probabilities) and
    keeps the smallest-margin row of each group, so near-identical confusions fill one slot, not the whole batch.

    Returns:
        The chosen rows, most uncertain first; ``scores`` are ``1 - margin``.
    """
    _check_batch_size(k)
    n = len(probabilities)
    candidates = top_k_uncertain(
        probabilities, k * max(candidate_factor, 1), "margin", seed=seed, chunk_rows=chunk_rows
    )
    if len(candidates.indices) <= k:
        return Selection(candidates.indices, candidates.scores, "margin_cluster", k, n)
    if embeddings is None and embed is not None:
        points = _standardize(np.asarray(embed(candidates.indices), dtype=np.float64))
    else:
        space = probabilities if embeddings is None else embeddings
        points = _standardize(np.asarray(space[candidates.indices], dtype=np.float64))
    groups, _ = _kmeans_labels(points, k, seed)
    # candidates are sorted most-uncertain first, so the first row of each group is its best
    _, first = np.unique(groups, return_index=True)
    chosen = np.sort(first)
    if len(chosen) < k:  # k-means left empty clusters: fill with the next most uncertain
        rest = np.setdiff1d(np.arange(len(candidates.indices)), chosen)[: k - len(chosen)]
        chosen = np.sort(np.concatenate((chosen, rest)))
    return Selection(candidates.indices[chosen], candidates.scores[chosen], "margin_cluster", k, n)


def round_seed(seed: int, round_key: int) -> int:
    """A fresh seed for one round, derived from the run's ``seed`` and a per-round key.

    The key is anything that changes every round and is the same on a re-run (the round index, or
    the labels bought so far), so every round's k-means and tie-breaks draw anew while a re-run of
    the same round reproduces its choice exactly.
    """
    mixed = tie_break_keys(np.asarray([round_key], dtype=np.int64), int(seed))[0]
    return int(mixed >> np.uint64(33))  # 31 bits: valid for numpy and scikit-learn random states


@dataclass(frozen=True)
class DiversityPlan:
    """How ``margin_diverse`` chooses one batch.

    Attributes:
        candidate_factor: the batch clusters this many times ``k`` smallest-margin candidates;
            1 means plain margin (no diversity step).
        reason: a sentence saying why.
    """

    candidate_factor: int
    reason: str


def diversity_plan(
    *,
    k: int,
    pool_labels: int,
    has_embeddings: bool,
    candidate_factor: int = DEFAULT_CANDIDATE_FACTOR,
    horizon: float = DEFAULT_DIVERSE_HORIZON,
) -> DiversityPlan:
    """The diversity step for a batch of ``k`` once ``pool_labels`` labels are bought on the pool.

    Diversity pays while a batch is large next to what the model has seen: ``k`` smallest-margin
    items then crowd into a few confusions. The step runs while ``pool_labels < horizon * k`` (so
    a batch 2.5x bigger keeps it 2.5x longer in labels) and only on embeddings; evaluation items
    must not count in ``pool_labels``, they never were candidates.
    """
    if not has_embeddings:
        return DiversityPlan(1, "no embeddings: plain margin (clustering probability vectors costs labels)")
    if candidate_factor <= 1 or k <= 1:
        return DiversityPlan(1, f"candidate factor {candidate_factor}, batch {k}: nothing to diversify")
    if pool_labels >= horizon * k:
        return DiversityPlan(1, f"{pool_labels} pool labels >= {horizon:g} batches of {k}: plain margin")
    return DiversityPlan(
        int(candidate_factor), f"{pool_labels} pool labels < {horizon:g} batches of {k}: cluster {candidate_factor}k"
    )


def margin_diverse(
    probabilities: np.ndarray,
    k: int,
    *,
    embeddings: np.ndarray | None,
    pool_labels: int,
    seed: int = 0,
    candidate_factor: int = DEFAULT_CANDIDATE_FACTOR,
    horizon: float = DEFAULT_DIVERSE_HORIZON,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Selection:
    """The default strategy: :func:`margin_cluster` on embeddings while :func:`diversity_plan` says so, else margin.

    Without an ``embeddings`` array, ``embed(pool rows) -> features`` (if given) featurizes just the
    clustered candidates, so a pipeline without an embedding step still clusters on features.
    """
    plan = diversity_plan(
        k=k,
        pool_labels=pool_labels,
        has_embeddings=embeddings is not None or embed is not None,
        candidate_factor=candidate_factor,
        horizon=horizon,
    )
    if plan.candidate_factor <= 1:
        chosen = top_k_uncertain(probabilities, k, "margin", seed=seed, chunk_rows=chunk_rows)
    else:
        chosen = margin_cluster(
            probabilities,
            k,
            embeddings=embeddings,
            candidate_factor=plan.candidate_factor,
            seed=seed,
            chunk_rows=chunk_rows,
            embed=embed,
        )
    return Selection(chosen.indices, chosen.scores, "margin_diverse", k, len(probabilities))


def _standardize(points: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance columns (constant columns left at zero)."""
    spread = points.std(axis=0)
    spread[spread == 0] = 1.0
    return (points - points.mean(axis=0)) / spread


# ---------------------------------------------------------------------------------------------
# Entry points


def select(
    strategy: str,
    k: int,
    *,
    probabilities: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    labeled_embeddings: np.ndarray | None = None,
    pool_size: int | None = None,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    candidate_factor: int | None = None,
    labeled_count: int | None = None,
    diversity_horizon: float | None = None,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Selection:
    """Choose ``k`` pool rows with ``strategy``; the one entry point components call.

    Args:
        strategy: a name from :data:`STRATEGIES` or ``UNCERTAINTY``.
        k: batch size.
        probabilities: ``N x C`` predicted probabilities (needed by every strategy but ``random``
            and ``kcenter``).
        embeddings: ``N x D`` pool embeddings (``kcenter`` needs them or probabilities;
            ``margin_cluster`` clusters them when given).
        labeled_embeddings: embeddings of labeled items, for ``kcenter``.
        pool_size: pool size when neither array is given (``random`` only).
        seed: seeds ties, random draws and clustering.
        chunk_rows: rows per chunk for the uncertainty pass.
        candidate_factor: ``margin_cluster`` clusters the ``candidate_factor * k`` smallest
            margins (default :data:`DEFAULT_CANDIDATE_FACTOR`).
        labeled_count: labels bought on the pool so far, evaluation items not counted (default:
            rows of ``labeled_embeddings``, else 0).
        diversity_horizon: ``margin_cluster``/``margin_diverse`` apply their diversity step only
            while fewer than ``diversity_horizon * k`` pool items are labeled (defaults
            :data:`DEFAULT_DIVERSITY_HORIZON` / :data:`DEFAULT_DIVERSE_HORIZON`); after that one
            batch barely moves the model, redundancy stops costing labels and plain margin needs fewer.
        embed: ``pool rows -> features`` for ``margin_diverse`` when no ``embeddings`` are given
            (only the clustered candidates are featurized).
    """
    strategy = resolve_strategy(strategy)
    if strategy == "random":
        n = _pool_size(probabilities, embeddings, pool_size)
        return random_sample(n, k, seed=seed)
    if strategy == "kcenter":
        space = embeddings if embeddings is not None else probabilities
        if space is None:
            raise ValueError("kcenter needs embeddings or probabilities of the pool")
        return kcenter_greedy(space, k, labeled_embeddings=labeled_embeddings, seed=seed)
    if probabilities is None:
        raise ValueError(
            f"strategy {strategy!r} needs predicted probabilities; use cold_start_sample before a model exists"
        )
    if embeddings is not None and len(embeddings) != len(probabilities):
        raise ValueError(f"{len(embeddings)} embedding rows for {len(probabilities)} probability rows; they must match")
    if labeled_count is None:
        labeled_count = 0 if labeled_embeddings is None else len(labeled_embeddings)
    if strategy == "margin_diverse":
        return margin_diverse(
            probabilities,
            k,
            embeddings=embeddings,
            pool_labels=labeled_count,
            seed=seed,
            candidate_factor=DEFAULT_CANDIDATE_FACTOR if candidate_factor is None else candidate_factor,
            horizon=DEFAULT_DIVERSE_HORIZON if diversity_horizon is None else diversity_horizon,
            chunk_rows=chunk_rows,
            embed=embed,
        )
    if strategy == "margin_cluster":
        factor = DEFAULT_CANDIDATE_FACTOR if candidate_factor is None else candidate_factor
        horizon = DEFAULT_DIVERSITY_HORIZON if diversity_horizon is None else diversity_horizon
        if labeled_count >= horizon * k:
            factor = 1
        return margin_cluster(
            probabilities, k, embeddings=embeddings, candidate_factor=factor, seed=seed, chunk_rows=chunk_rows
        )
    return top_k_uncertain(probabilities, k, strategy, seed=seed, chunk_rows=chunk_rows)


def _pool_size(probabilities, embeddings, pool_size) -> int:
    for array in (probabilities, embeddings):
        if array is not None:
            return len(array)
    if pool_size is None:
        raise ValueError("random sampling needs the pool size (or the pool's probabilities or embeddings)")
    return int(pool_size)


def cold_start_sample(
    n: int,
    k: int,
    *,
    embeddings: np.ndarray | None = None,
    groups: list | tuple | np.ndarray | None = None,
    seed: int = 0,
) -> Selection:
    """The first batch, before any model exists.

    With ``embeddings``: k-means into ``k`` clusters and take the item nearest each centre, so
    the first labels cover every region of feature space. Else with ``groups`` (any known grouping,
    e.g. source folder): a seeded random sample allocated to groups in proportion to their size
    (largest remainder). Else a seeded random sample.

    Returns:
        Chosen rows; strategy is ``cold_start_clusters``, ``cold_start_groups`` or ``random``.
    """
    _check_batch_size(k)
    k_eff = min(k, n)
    if k_eff == n or k_eff == 0:
        return Selection(np.arange(k_eff, dtype=np.int64), np.zeros(k_eff, np.float32), "cold_start_all", k, n)
    if embeddings is not None:
        if len(embeddings) != n:
            raise ValueError(f"{len(embeddings)} embedding rows for a pool of {n} items; they must match")
        return _nearest_to_centres(np.asarray(embeddings, dtype=np.float64), k_eff, k, seed)
    if groups is not None:
        if len(groups) != n:
            raise ValueError(f"{len(groups)} group values for a pool of {n} items; they must match")
        return _stratified_by_group(np.asarray(groups), k_eff, k, seed)
    return random_sample(n, k, seed=seed)


def _nearest_to_centres(points: np.ndarray, k_eff: int, k: int, seed: int) -> Selection:
    points = _standardize(points)
    groups, centres = _kmeans_labels(points, k_eff, seed)
    picks = []
    for cluster in range(k_eff):
        members = np.flatnonzero(groups == cluster)
        if not len(members):
            continue
        d = ((points[members] - centres[cluster]) ** 2).sum(axis=1)
        picks.append(int(members[np.argmin(d)]))
    if len(picks) < k_eff:  # empty clusters: top up with seeded random items
        rest = np.setdiff1d(np.arange(len(points)), picks)
        picks += np.random.default_rng(seed).choice(rest, size=k_eff - len(picks), replace=False).tolist()
    return Selection(np.asarray(picks, np.int64), np.zeros(k_eff, np.float32), "cold_start_clusters", k, len(points))


def _stratified_by_group(groups: np.ndarray, k_eff: int, k: int, seed: int) -> Selection:
    rng = np.random.default_rng(seed)
    names, inverse, sizes = np.unique(groups.astype(str), return_inverse=True, return_counts=True)
    quota = sizes * k_eff / len(groups)
    take = np.floor(quota).astype(int)
    for g in np.argsort(-(quota - take), kind="stable")[: k_eff - take.sum()]:
        take[g] += 1
    picks = [
        rng.choice(np.flatnonzero(inverse == g), size=take[g], replace=False) for g in range(len(names)) if take[g]
    ]
    chosen = np.sort(np.concatenate(picks)).astype(np.int64)
    return Selection(chosen, np.zeros(len(chosen), np.float32), "cold_start_groups", k, len(groups))


# ---------------------------------------------------------------------------------------------
# I/O: the predict step's output and optional embeddings


@dataclass(frozen=True)
class Predictions:
    """Predicted probabilities for a set of items.

    Attributes:
        ids: item ids in row order.
        probabilities: ``N x C`` float32 (possibly memory-mapped).
        classes: class names in column order; empty when the producer did not write them.
    """

    ids: tuple[str, ...]
    probabilities: np.ndarray
    classes: tuple[str, ...]


def read_class_probabilities(path: str, *, needed_for: str) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """A predict step's output as ``({item id: probabilities}, class names)``, for steps that name the
    predicted class (``needed_for`` says which, in the error when the classes are missing)."""
    predictions = read_predictions(path)
    if not predictions.classes:
        raise ValueError(f"{path}: {needed_for} need class names; the predict step must write classes.txt")
    return dict(zip(predictions.ids, predictions.probabilities)), predictions.classes


def read_predictions(path: str) -> Predictions:
    """Read a predict step's output.

    Accepted layouts: a folder with ``probabilities.npy`` (float32, N x C), ``ids.txt`` (one id a
    line) and optionally ``classes.txt`` (column names); or JSONL (a file, or ``predictions.jsonl``
    in the folder) of ``{"id": ..., "probabilities": {label: p}}``.
    """
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "probabilities.npy")):
        probabilities = np.load(os.path.join(path, "probabilities.npy"), mmap_mode="r")
        ids = tuple(_read_lines(os.path.join(path, "ids.txt")))
        classes_path = os.path.join(path, "classes.txt")
        classes = tuple(_read_lines(classes_path)) if os.path.exists(classes_path) else ()
        if classes and len(classes) != probabilities.shape[1]:
            raise ValueError(f"{classes_path}: {len(classes)} classes for {probabilities.shape[1]} probability columns")
        _check_ids(ids, len(probabilities), path)
        return Predictions(ids, probabilities, classes)
    jsonl = os.path.join(path, "predictions.jsonl") if os.path.isdir(path) else path
    if not os.path.exists(jsonl):
        raise FileNotFoundError(
            f"{path}: no probabilities.npy + ids.txt and no predictions JSONL; point this at the predict step's output"
        )
    return _read_predictions_jsonl(jsonl)


def _read_predictions_jsonl(path: str) -> Predictions:
    from . import manifest

    ids: list[str] = []
    rows: list[dict] = []
    for line in manifest.read_lines(path):
        record = line.record
        if "id" not in record or not isinstance(record.get("probabilities"), dict):
            raise ValueError(f'{path}:{line.number}: expected {{"id", "probabilities": {{label: p}}}}')
        ids.append(str(record["id"]))
        rows.append(record["probabilities"])
    classes = tuple(sorted({label for row in rows for label in row}))
    column = {label: j for j, label in enumerate(classes)}
    probabilities = np.zeros((len(rows), len(classes)), dtype=np.float32)
    for i, row in enumerate(rows):
        for label, p in row.items():
            probabilities[i, column[label]] = p
    _check_ids(tuple(ids), len(rows), path)
    return Predictions(tuple(ids), probabilities, classes)


def read_embeddings(path: str) -> tuple[tuple[str, ...], np.ndarray]:
    """``(ids, N x D array)`` from a folder holding ``embeddings.npy`` and ``ids.txt``."""
    array_path = os.path.join(path, "embeddings.npy")
    if not os.path.exists(array_path):
        raise FileNotFoundError(f"{path}: no embeddings.npy; embeddings are a folder with embeddings.npy + ids.txt")
    embeddings = np.load(array_path, mmap_mode="r")
    ids = tuple(_read_lines(os.path.join(path, "ids.txt")))
    _check_ids(ids, len(embeddings), path)
    return ids, embeddings


def _read_lines(path: str) -> list[str]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found; the predict/embed step writes it beside the array")
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def _check_ids(ids: tuple[str, ...], rows: int, where: str) -> None:
    if len(ids) != rows:
        raise ValueError(f"{where}: {len(ids)} ids for {rows} rows; ids.txt must have one id per row")
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise ValueError(f"{where}: id {dup!r} appears more than once; each item must be predicted once")


# ---------------------------------------------------------------------------------------------
# Manifests


@dataclass(frozen=True)
class ManifestSelection:
    """What :func:`select_from_manifest` wrote."""

    strategy: str
    requested: int
    selected: int
    remaining: int
    exhausted: bool


def select_from_manifest(
    pool_path: str,
    selected_path: str,
    remaining_path: str,
    *,
    strategy: str,
    k: int,
    seed: int = 0,
    predictions: Predictions | None = None,
    embeddings: tuple[tuple[str, ...], np.ndarray] | None = None,
    labeled_count: int = 0,
    stratify_field: str = "",
) -> ManifestSelection:
    """Split a pool manifest into the ``k`` items to label next and the rest.

    With ``predictions`` the strategy runs on their rows for the pool's items; without them this is
    a cold start (:func:`cold_start_sample`: clusters of ``embeddings``, else groups of the
    ``labelloop.<stratify_field>`` value, else random). The strategy runs with a fresh seed per round,
    :func:`round_seed` of ``seed`` and ``labeled_count`` (labels bought on the pool so far, which
    grows every round). Every pool item lands in exactly one output;
    chosen items carry ``labelloop.selection_{strategy,rank,score}``.

    Raises:
        ValueError: a pool item is already labeled or appears twice.
        KeyError: a pool item has no prediction or embedding (naming it).
    """
    from . import manifest

    ids, groups = _pool_ids_and_groups(pool_path, stratify_field)
    vectors = None if embeddings is None else _rows_for(ids, *embeddings, what="embedding")
    if predictions is None:
        chosen = cold_start_sample(len(ids), k, embeddings=vectors, groups=groups, seed=seed)
    else:
        probabilities = _rows_for(ids, predictions.ids, predictions.probabilities, what="prediction")
        check_probabilities(probabilities, ids)
        chosen = select(
            strategy,
            k,
            probabilities=probabilities,
            embeddings=vectors,
            labeled_count=labeled_count,
            seed=round_seed(seed, labeled_count),
            embed=None if vectors is not None else candidate_embedder(pool_path),
        )
    rank = {int(row): (i, float(score)) for i, (row, score) in enumerate(zip(chosen.indices, chosen.scores))}

    def split(picked: bool):
        for row, record in enumerate(manifest.read_jsonl(pool_path)):
            if (row in rank) == picked:
                if picked:
                    i, score = rank[row]
                    record = manifest.with_extra(
                        record, selection_strategy=chosen.strategy, selection_rank=i, selection_score=round(score, 6)
                    )
                yield record

    n_selected = manifest.write_jsonl(selected_path, split(True))
    n_remaining = manifest.write_jsonl(remaining_path, split(False))
    return ManifestSelection(chosen.strategy, k, n_selected, n_remaining, chosen.exhausted)


def candidate_embedder(pool_path: str, *, image_size: int = 32) -> Callable[[np.ndarray], np.ndarray] | None:
    """``pool rows -> features`` for a pool manifest without an embedding step, or None (no image/text).

    Images: the fixed image featurizer the models use (``features.image_features``: HOG + pixels),
    so clusters live in the model's input feature space. Text: TF-IDF fitted on the candidates'
    texts, reduced by truncated SVD (unsupervised). Only the first record is read up front; the
    manifest is read when (if) the strategy asks for features, and only the rows asked for are loaded.
    """
    from . import manifest

    first = next(iter(manifest.read_jsonl(pool_path)), None)
    kind = manifest.content_of(first)[0] if first is not None else ""
    if kind not in ("imageGcsUri", "textContent", "textGcsUri"):
        return None

    def records_at(rows: np.ndarray) -> list[dict]:
        wanted = {int(r) for r in rows}
        found = {i: record for i, record in enumerate(manifest.read_jsonl(pool_path)) if i in wanted}
        return [found[int(r)] for r in rows]

    def embed(rows: np.ndarray) -> np.ndarray:
        records = records_at(rows)
        if kind == "imageGcsUri":
            from . import features as feats

            uris = [manifest.content_of(r)[1] for r in records]
            spec = feats.image_spec_for(uris[:16], image_size=image_size)
            return feats.image_features([feats.read_image(u, spec) for u in uris], spec)
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        from .train import text_of

        tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform([text_of(r) for r in records])
        dims = max(1, min(50, tfidf.shape[0] - 1, tfidf.shape[1] - 1))
        return TruncatedSVD(n_components=dims, random_state=0).fit_transform(tfidf)

    return embed


def _pool_ids_and_groups(pool_path: str, stratify_field: str) -> tuple[list[str], list[str] | None]:
    from . import manifest

    ids: list[str] = []
    groups: list[str] = []
    seen: set[str] = set()
    for line in manifest.read_lines(pool_path):
        rid = manifest.item_id(line.record)
        if rid in seen:
            raise ValueError(f"{pool_path}:{line.number}: item {rid} appears twice in the pool; deduplicate it first")
        if manifest.labels_of(line.record):
            raise ValueError(
                f"{pool_path}:{line.number}: item {rid} is already labeled; the pool must hold unlabeled items only"
            )
        seen.add(rid)
        ids.append(rid)
        if stratify_field:
            groups.append(str(manifest.extra_of(line.record).get(stratify_field, "(none)")))
    return ids, (groups if stratify_field else None)


def _rows_for(ids: list[str], source_ids: Sequence[str], array: np.ndarray, *, what: str) -> np.ndarray:
    """Rows of ``array`` for ``ids`` in their order."""
    position = {rid: i for i, rid in enumerate(source_ids)}
    missing = [rid for rid in ids if rid not in position]
    if missing:
        raise KeyError(
            f"{len(missing)} pool item(s) have no {what}, e.g. "
            f"{missing[:3]}; re-run the step that writes them over this pool"
        )
    return np.asarray(array[np.fromiter((position[rid] for rid in ids), dtype=np.int64, count=len(ids))])
