"""Active-learning selection over a pool split into shards: per-shard candidates, one exact merge.

Each shard's task predicts its own items and keeps only the rows that can still be chosen
(:func:`shard_candidates`); one merge task orders the union and takes the batch
(:func:`merge_candidates`). Positions are the items' positions in the WHOLE pool (from
:mod:`shards`), so the seeded tie-break (:func:`sampling.tie_break_keys`) is the unsharded one.

* Top-k strategies (``least_confidence``, ``margin``, ``entropy``): a shard keeps every row whose
  certainty is at most its own ``k``-th smallest (ties at the cut included). At most ``k`` rows of a
  shard are in the global batch, and they are its best, so the union holds the whole batch; the
  merge orders it by (certainty, tie-break key, position) like :func:`sampling.top_k_uncertain`.
  The selection, its order and its scores are identical to the unsharded ones.
* ``margin_diverse`` (the default): plain margin without embeddings, so exactly the top-k case;
  with embeddings while few pool labels exist it is ``margin_cluster``'s clustering, as below.
* ``margin_cluster``: the unsharded strategy clusters its ``candidate_factor * k`` smallest margins
  and keeps the best of each cluster. Shards keep their ``candidate_factor * k`` smallest margins,
  the merge takes the global ``candidate_factor * k`` from them (the same set as unsharded, by the
  argument above) in the unsharded order and runs :func:`sampling.margin_cluster` on exactly that
  set. The batch is identical whenever no two candidates have exactly the same margin; with equal
  margins the candidates' order among the ties (which k-means sees) may differ, so the batch may
  differ in the choice among tied, equally uncertain items of a cluster. The candidate set is
  identical either way (tests check both).
* ``random`` needs no predictions: the merge draws from the pool size, as unsharded.
* ``kcenter`` compares every item with every pick, so it does not split; use the unsharded step.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import manifest, sampling, shards

FORMAT = 1
TOP_K_STRATEGIES = sampling.UNCERTAINTY_STRATEGIES
CLUSTER_STRATEGIES = ("margin_cluster", "margin_diverse")
SHARDABLE = (*TOP_K_STRATEGIES, *CLUSTER_STRATEGIES, "random")


@dataclass(frozen=True)
class SelectionSettings:
    """What the unsharded :func:`sampling.select` is given, besides the arrays."""

    strategy: str
    k: int
    seed: int = 0
    candidate_factor: int | None = None
    labeled_count: int = 0
    diversity_horizon: float | None = None
    with_embeddings: bool = False

    def __post_init__(self) -> None:
        strategy = sampling.resolve_strategy(self.strategy)
        if strategy not in SHARDABLE:
            raise ValueError(
                f"strategy {strategy!r} does not shard (it compares every item with every pick); "
                f"choose one of {', '.join(SHARDABLE)} or run the unsharded select_items"
            )
        object.__setattr__(self, "strategy", strategy)
        if int(self.k) != self.k or self.k < 0:
            raise ValueError(f"batch size must be a non-negative integer, got {self.k!r}")

    @property
    def factor(self) -> int:
        """The candidate factor :func:`sampling.select` would use (1: plain margin, no clustering)."""
        factor = sampling.DEFAULT_CANDIDATE_FACTOR if self.candidate_factor is None else self.candidate_factor
        if self.strategy == "margin_diverse":
            horizon = sampling.DEFAULT_DIVERSE_HORIZON if self.diversity_horizon is None else self.diversity_horizon
            plan = sampling.diversity_plan(
                k=self.k,
                pool_labels=self.labeled_count,
                has_embeddings=self.with_embeddings,
                candidate_factor=factor,
                horizon=horizon,
            )
            return plan.candidate_factor
        horizon = sampling.DEFAULT_DIVERSITY_HORIZON if self.diversity_horizon is None else self.diversity_horizon
        return 1 if self.labeled_count >= horizon * self.k else max(factor, 1)

    @property
    def ranked(self) -> int:
        """How many of the most uncertain rows the strategy ranks: ``k``, or the cluster candidates."""
        return self.k * self.factor if self.strategy in CLUSTER_STRATEGIES else self.k

    @property
    def rank_strategy(self) -> str:
        return "margin" if self.strategy in CLUSTER_STRATEGIES else self.strategy


@dataclass(frozen=True)
class Candidates:
    """One shard's rows that may be chosen: pool positions, ids, probabilities (and embeddings)."""

    shard: int
    shards: int
    pool_rows: int
    positions: np.ndarray
    ids: list[str]
    probabilities: np.ndarray
    embeddings: np.ndarray | None = None


def shard_candidates(
    probabilities: np.ndarray,
    positions: np.ndarray,
    ids: Sequence[str],
    settings: SelectionSettings,
    *,
    shard: int,
    shards_total: int,
    embeddings: np.ndarray | None = None,
) -> Candidates:
    """The rows of one shard that the merge may choose (all ties at the shard's cut included)."""
    positions = np.asarray(positions, np.int64)
    rows = len(positions)
    keep = np.zeros(rows, bool)
    if settings.strategy != "random" and rows and settings.ranked:
        sampling.check_probabilities(probabilities, list(ids))
        certainty = sampling.certainty(probabilities, settings.rank_strategy)
        if rows > settings.ranked:
            keep = certainty <= np.partition(certainty, settings.ranked - 1)[settings.ranked - 1]
        else:
            keep[:] = True
    chosen = np.flatnonzero(keep)
    probabilities = np.asarray(probabilities, np.float32)
    classes = probabilities.shape[1] if probabilities.ndim == 2 else 0
    return Candidates(
        shard,
        shards_total,
        rows,
        positions[chosen],
        [ids[i] for i in chosen],
        probabilities[chosen] if rows else np.zeros((0, classes), np.float32),
        None if embeddings is None else np.asarray(embeddings)[chosen],
    )


def merge_candidates(parts: Sequence[Candidates], settings: SelectionSettings) -> tuple[sampling.Selection, list[str]]:
    """The batch :func:`sampling.select` would choose over the whole pool, from every shard's candidates.

    Returns:
        The selection (``indices`` are pool positions) and the chosen items' ids in selection order.
    """
    _check_complete(parts)
    pool = sum(part.pool_rows for part in parts)
    if settings.strategy == "random":
        return sampling.random_sample(pool, settings.k, seed=settings.seed), []
    positions = np.concatenate([part.positions for part in parts])
    ids = [item for part in parts for item in part.ids]
    probabilities = np.concatenate([part.probabilities for part in parts])
    with_embeddings = [part.embeddings is not None for part in parts]
    if any(with_embeddings) and not all(with_embeddings):
        raise ValueError("some shards sent embeddings and some did not; give every shard the same inputs")
    embeddings = np.concatenate([part.embeddings for part in parts]) if all(with_embeddings) and parts else None
    certainty = sampling.certainty(probabilities, settings.rank_strategy)
    order = np.lexsort((positions, sampling.tie_break_keys(positions, settings.seed), certainty))[: settings.ranked]
    if settings.strategy in TOP_K_STRATEGIES or (settings.strategy == "margin_diverse" and settings.factor <= 1):
        chosen = certainty[order]
        scores = -chosen if settings.strategy == "entropy" else 1.0 - chosen
        selection = sampling.Selection(positions[order], scores.astype(np.float32), settings.strategy, settings.k, pool)
        return selection, [ids[i] for i in order]
    if embeddings is None and settings.with_embeddings:
        raise ValueError("the settings say the shards have embeddings, but none sent any")
    local = sampling.margin_cluster(
        probabilities[order],
        settings.k,
        embeddings=None if embeddings is None else embeddings[order],
        candidate_factor=settings.factor,
        seed=settings.seed,
    )
    rows = order[local.indices]
    selection = sampling.Selection(positions[rows], local.scores, settings.strategy, settings.k, pool)
    return selection, [ids[i] for i in rows]


def _check_complete(parts: Sequence[Candidates]) -> None:
    if not parts:
        raise ValueError("no shard candidates to merge; the fan-out produced no shards")
    totals = {part.shards for part in parts}
    seen = sorted(part.shard for part in parts)
    if len(totals) != 1 or seen != list(range(totals.pop())):
        raise ValueError(
            f"candidates from shards {seen} of splits into {sorted({p.shards for p in parts})} shards; "
            f"the merge needs every shard of one split exactly once"
        )


# ---------------------------------------------------------------------------------------------
# Files and manifests


def pool_shard_candidates(
    folder: str,
    shard: int,
    predictions: sampling.Predictions | None,
    settings: SelectionSettings,
    *,
    embeddings: tuple[tuple[str, ...], np.ndarray] | None = None,
) -> Candidates:
    """Candidates of one pool shard (from :func:`shards.split_manifest`) given its predictions.

    Raises:
        ValueError: a pool item is labeled or appears twice (copies share a shard, so this is the
            whole pool's check).
        KeyError: an item has no prediction.
    """
    with open(f"{folder}/{shards.INDEX_FILE}") as handle:
        total = json.load(handle)["shards"]
    items = shards.read_shard(folder, shard)
    ids: list[str] = []
    seen: set[str] = set()
    for item in items:
        item_id = manifest.item_id(item.record)
        if item_id in seen:
            raise ValueError(f"line {item.number}: item {item_id} appears twice in the pool; deduplicate it first")
        if manifest.labels_of(item.record):
            raise ValueError(
                f"line {item.number}: item {item_id} is already labeled; the pool must hold unlabeled items"
            )
        seen.add(item_id)
        ids.append(item_id)
    positions = np.array([item.position for item in items], np.int64)
    probabilities = np.zeros((len(ids), 2), np.float32)
    if settings.strategy != "random":
        if predictions is None:
            raise ValueError(f"strategy {settings.strategy!r} needs predictions for the pool; give the shard a model")
        probabilities = _rows(ids, predictions.ids, predictions.probabilities, what="prediction")
    vectors = None if embeddings is None else _rows(ids, *embeddings, what="embedding")
    return shard_candidates(
        probabilities, positions, ids, settings, shard=shard, shards_total=total, embeddings=vectors
    )


def _rows(ids: list[str], source_ids: Sequence[str], array: np.ndarray, *, what: str) -> np.ndarray:
    position = {item: i for i, item in enumerate(source_ids)}
    missing = [item for item in ids if item not in position]
    if missing:
        raise KeyError(f"{len(missing)} pool item(s) have no {what}, e.g. {missing[:3]}; re-run it over this shard")
    return np.asarray(array[np.array([position[item] for item in ids], np.int64)])


def write_candidates(path: str, candidates: Candidates) -> None:
    """One shard's candidates as an ``.npz`` (no pickles)."""
    header = {"format": FORMAT, "shard": candidates.shard, "shards": candidates.shards, "rows": candidates.pool_rows}
    arrays = {
        "header": np.array(json.dumps(header)),
        "positions": candidates.positions,
        "ids": np.array(candidates.ids, dtype=str),
        "probabilities": candidates.probabilities,
    }
    if candidates.embeddings is not None:
        arrays["embeddings"] = candidates.embeddings
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with manifest.atomic_writer(path) as handle:
        handle.write(buffer.getvalue())


def read_candidates(path: str) -> Candidates:
    with manifest.open_file(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: candidates format {header.get('format')}, expected {FORMAT}")
        return Candidates(
            header["shard"],
            header["shards"],
            header["rows"],
            data["positions"],
            data["ids"].tolist(),
            data["probabilities"],
            data["embeddings"] if "embeddings" in data.files else None,
        )


def write_selection(
    pool_path: str, selected_path: str, remaining_path: str, selection: sampling.Selection
) -> sampling.ManifestSelection:
    """Split the pool into the chosen items (annotated as :func:`sampling.select_from_manifest` does) and the rest."""
    rank = {int(row): (i, float(score)) for i, (row, score) in enumerate(zip(selection.indices, selection.scores))}

    def split(picked: bool):
        for row, record in enumerate(manifest.read_jsonl(pool_path)):
            if (row in rank) == picked:
                if picked:
                    i, score = rank[row]
                    record = manifest.with_extra(
                        record,
                        selection_strategy=selection.strategy,
                        selection_rank=i,
                        selection_score=round(score, 6),
                    )
                yield record

    selected = manifest.write_jsonl(selected_path, split(True))
    remaining = manifest.write_jsonl(remaining_path, split(False))
    return sampling.ManifestSelection(selection.strategy, selection.requested, selected, remaining, selection.exhausted)
