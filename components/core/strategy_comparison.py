"""Active learning against random sampling on the same items, several seeds: the saving a person can check.

A pipeline run buys its labels once, with one strategy; whether that strategy saved anything shows
only beside random sampling on the same items and the same test split. When the true labels are
known (the demo, a benchmark: the simulated crowd's ground truth), :func:`compare_on_manifest`
replays the labeling rounds of the run's own batch schedule with a fast model: for each seed both
strategies start from the same random cold-start batch, then each picks its batches with
labelloop's own selection code (:func:`sampling.select`) and is scored on the run's test split
after every round. The round records feed the run report's learning curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import manifest as mf
from . import sampling
from .active_learning import LearningRun, RoundRecord

BASELINE = "random"


@dataclass(frozen=True)
class ComparisonData:
    """Features and true labels of the pool (items humans may label) and of the test split."""

    pool_features: np.ndarray
    pool_labels: np.ndarray
    test_features: np.ndarray
    test_labels: np.ndarray


def _model(seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.1, random_state=seed))


def _score(model, data: ComparisonData) -> float:
    return float((model.predict(data.test_features) == data.test_labels).mean())


def simulate_run(
    data: ComparisonData, *, strategy: str, batch_sizes: Sequence[int], seed: int, cost_per_label: float = 0.0
) -> LearningRun:
    """One strategy's rounds on ``data``: a random cold start of ``batch_sizes[0]``, then one batch a round.

    The model is refit after every batch and scored on the test split (accuracy); the cold start is
    the same for every strategy with the same seed, so curves differ only by what each strategy chose.
    """
    n = len(data.pool_labels)
    if not batch_sizes or n == 0:
        return LearningRun(strategy, (), seed)
    chosen = list(sampling.random_sample(n, min(batch_sizes[0], n), seed=seed).indices)
    records: list[RoundRecord] = []
    for index, _ in enumerate(batch_sizes):
        labels_seen = np.unique(data.pool_labels[chosen])
        model = None
        if len(labels_seen) >= 2:
            model = _model(seed).fit(data.pool_features[chosen], data.pool_labels[chosen])
        bought = len(chosen) - (records[-1].labels_total if records else 0)
        total = len(chosen)
        records.append(
            RoundRecord(
                round_index=index,
                strategy="cold_start" if index == 0 else strategy,
                labels_bought=bought,
                labels_total=total,
                spend=round(bought * cost_per_label, 6),
                spend_total=round(total * cost_per_label, 6),
                metric_name="accuracy",
                metric_value=None if model is None else _score(model, data),
            )
        )
        if index + 1 == len(batch_sizes):
            break
        remaining = np.setdiff1d(np.arange(n), chosen)
        k = min(batch_sizes[index + 1], len(remaining))
        if k == 0:
            break
        round_seed = seed * 1000 + index + 1
        if strategy == BASELINE or model is None:
            picked = sampling.select("random", k, pool_size=len(remaining), seed=round_seed)
        else:
            picked = sampling.select(
                strategy,
                k,
                probabilities=model.predict_proba(data.pool_features[remaining]),
                embeddings=data.pool_features[remaining],  # diversity strategies cluster the feature space
                seed=round_seed,
                labeled_count=len(chosen),
            )
        chosen += [int(i) for i in remaining[picked.indices]]
    return LearningRun(strategy, tuple(records), seed)


def compare(
    data: ComparisonData,
    *,
    strategy: str,
    batch_sizes: Sequence[int],
    seeds: Sequence[int],
    cost_per_label: float = 0.0,
) -> list[LearningRun]:
    """``strategy`` and random sampling, one run per seed each, same cold starts and test split.

    The small fits run on one BLAS thread: on a shared machine, threads fighting over cores made
    each fit 100x slower (3.4 s against 0.03 s measured).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return [
            simulate_run(data, strategy=name, batch_sizes=batch_sizes, seed=seed, cost_per_label=cost_per_label)
            for name in (strategy, BASELINE)
            for seed in seeds
        ]


def read_truth(path: str) -> dict[str, str]:
    """``{"id", "label"}`` lines of a ground-truth JSONL as a mapping (the simulated crowd's answer key)."""
    truth = {}
    for line in mf.read_lines(path):
        record = line.record
        if "id" not in record or "label" not in record:
            raise ValueError(f"{path}:{line.number}: a ground-truth line needs 'id' and 'label', got {record!r}")
        truth[str(record["id"])] = str(record["label"])
    return truth


def comparison_data(items_path: str, truth_path: str, *, image_size: int = 32) -> ComparisonData:
    """Image features and true labels of a split manifest's training items (the pool) and held-out items.

    The held-out items are the validation and test splits: no strategy chooses among them.
    """
    from . import features

    truth = read_truth(truth_path)
    pool: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for record in mf.read_jsonl(items_path):
        rid, uri = mf.item_id(record), record.get("imageGcsUri")
        if rid not in truth or not uri:
            continue
        use = mf.ml_use_of(record)
        if use == "training":
            pool.append((uri, truth[rid]))
        elif use in ("validation", "test"):  # every held-out item: more of them, steadier curves
            test.append((uri, truth[rid]))
    if not pool or not test:
        raise ValueError(
            f"{items_path}: needs training and held-out items with ground truth in {truth_path} "
            f"(found {len(pool)} training, {len(test)} validation or test)"
        )
    spec = features.image_spec_for([uri for uri, _ in pool[:16]], image_size=image_size)

    def featurize(rows):
        images = [features.read_image(uri, spec) for uri, _ in rows]
        return features.image_features(images, spec), np.array([label for _, label in rows])

    pool_x, pool_y = featurize(pool)
    test_x, test_y = featurize(test)
    return ComparisonData(pool_x, pool_y, test_x, test_y)


def comparison_runs(
    *,
    items_path: str,
    ground_truth_uri: str,
    config_json: str,
    seeds: int,
) -> list[LearningRun]:
    """The configured strategy against random sampling on a run's final dataset, ``seeds`` seeds each.

    The batches follow the run's own ActiveLearningConfig (initial and following percentages,
    budget, max rounds) on the dataset's item count; empty when ``seeds`` is 0 or there is no
    ground truth to label with.
    """
    import json

    from . import active_learning

    if seeds <= 0 or not ground_truth_uri:
        return []
    config = active_learning.config_from_dict(json.loads(config_json))
    total = sum(1 for _ in mf.read_jsonl(items_path))
    schedule = active_learning.batch_schedule(config, total)
    data = comparison_data(items_path, ground_truth_uri)
    return compare(
        data, strategy=config.strategy, batch_sizes=schedule, seeds=range(seeds), cost_per_label=config.cost_per_label
    )
