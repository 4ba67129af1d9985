"""Benchmark: local AutoML vs a plain scikit-learn baseline, per dataset, in the same run.

For each dataset the baseline (default HistGradientBoosting for images/tables, LogisticRegression
for text, on the same features) is fitted on training+validation and timed; then our search runs at
each budget and at a budget equal to the baseline's wall time. Prints test accuracy, seconds, the
accuracy difference against the baseline, the test items only one of the two got right (``won/lost``)
and the exact McNemar p-value of that split (two-sided: small means the difference is not noise).

    python benchmarks/automl.py --budgets 30,120,600 --datasets digits,fashion,bbc,diamonds,bbc-minilm

``seconds`` is the whole call, refit included; ``refit s`` is the part spent refitting the chosen
model (one candidate, or each member of a soft-voting ensemble, ``family`` ``ensemble(a+b)``) on
training+validation; ``*`` after it marks a member that kept its training-only fit for lack of time.
``bbc-minilm`` is BBC News on MiniLM sentence embeddings (needs the
``text-embeddings`` extra; the embedding time is not counted in either column). ``diamonds`` is
all 53,940 rows of ggplot2's diamonds (``cut``, 5 classes; 8,091 test rows).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from labelloop.components.core import features, sample_data
from labelloop.components.core import train as T


def image_examples(data, seed):
    spec = features.FeatureSpec("image", image_size=32)
    X = features.image_features(data.images, spec)
    return _examples("image_classification", spec, X, data.labels, seed)


def _examples(task, spec, inputs, labels, seed):
    uses = np.asarray(sample_data.assign_ml_uses(len(labels), seed=seed))
    splits = {}
    for use in ("training", "validation", "test"):
        rows = np.flatnonzero(uses == use)
        part = inputs.iloc[rows].reset_index(drop=True) if hasattr(inputs, "iloc") else inputs[rows]
        splits[use] = T.Split(part, tuple(labels[i] for i in rows), np.ones(len(rows)), tuple(map(str, rows)))
    return T.Examples(task, spec, splits["training"], splits["validation"], splits["test"], {})


def load(name, seed):
    if name == "digits":
        return image_examples(sample_data.load_digits_images(), seed)
    if name == "fashion":
        return image_examples(sample_data.load_fashion_mnist(5000, seed), seed)
    if name == "bbc":
        data = sample_data.load_bbc_news()
        spec = features.FeatureSpec("text")
        return _examples("text_classification", spec, np.asarray(data.texts, dtype=object), data.labels, seed)
    if name == "bbc-minilm":
        data = sample_data.load_bbc_news()
        spec = features.FeatureSpec("text", text_encoding="minilm")
        return _examples("text_classification", spec, features.text_inputs(data.texts, spec), data.labels, seed)
    if name == "diamonds":
        data = sample_data.load_diamonds(None, seed, target="cut")
        spec = features.tabular_spec_for(data.frame, "cut")
        return _examples(
            "tabular_classification",
            spec,
            features.tabular_inputs(data.frame, spec),
            tuple(data.frame["cut"].astype(str)),
            seed,
        )
    raise SystemExit(f"unknown dataset {name}")


def baseline(examples, seed):
    """Default HistGradientBoosting (or LogisticRegression for text) on training+validation."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    merged = T.concat_splits(examples.training, examples.validation)
    if examples.spec.kind == "text" and examples.spec.text_encoding == "tfidf":
        model = make_pipeline(features.text_vectorizer(), LogisticRegression(max_iter=1000))
    elif examples.spec.kind == "text":  # sentence embeddings
        model = LogisticRegression(max_iter=1000)
    elif examples.spec.kind == "tabular":
        model = make_pipeline(
            features.tabular_preprocessor(examples.spec), HistGradientBoostingClassifier(random_state=seed)
        )
    else:
        model = HistGradientBoostingClassifier(random_state=seed)
    from threadpoolctl import threadpool_limits

    started = time.monotonic()
    with threadpool_limits(limits=1):
        model.fit(merged.inputs, list(merged.targets))
    seconds = time.monotonic() - started
    return model.predict(examples.test.inputs) == np.asarray(examples.test.targets), seconds


def automl(examples, budget, seed):
    """Search within ``budget``; the test split is only used here, after the search returned."""
    started = time.monotonic()
    result = T.search(examples, budget_seconds=budget, seed=seed)
    seconds = time.monotonic() - started
    y = T.encode_targets(examples.test.targets, result.model.labels, examples.task)
    return result.model.predict_proba(examples.test.inputs).argmax(axis=1) == y, seconds, result


def mcnemar(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, int, float]:
    """``(won, lost, p)``: items only we / only they got right, and the exact two-sided p-value."""
    from scipy.stats import binomtest

    won, lost = int((ours & ~theirs).sum()), int((~ours & theirs).sum())
    return won, lost, (binomtest(won, won + lost).pvalue if won + lost else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="30,120,600")
    parser.add_argument("--datasets", default="digits,fashion,bbc,diamonds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",") if b]
    print(
        f"{'dataset':10} {'run':26} {'budget':>7} {'accuracy':>8} {'seconds':>8} {'refit s':>7} {'trials':>6} "
        f"{'vs baseline':>12} {'won/lost':>9} {'p':>6}  family"
    )
    for name in args.datasets.split(","):
        examples = load(name, args.seed)
        base_correct, base_seconds = baseline(examples, args.seed)
        base_accuracy = float(base_correct.mean())
        print(f"{name:10} {'baseline (default)':26} {'':>7} {base_accuracy:8.4f} {base_seconds:8.1f}", flush=True)
        for budget in [max(base_seconds, 1.0)] + budgets:
            label = "automl (=baseline time)" if budget not in budgets else "automl"
            try:
                correct, seconds, result = automl(examples, budget, args.seed)
            except T.TrainingError as err:
                print(f"{name:10} {label:26} {budget:7.1f} no model ({err})", flush=True)
                continue
            summary = result.summary()
            accuracy = float(correct.mean())
            won, lost, p = mcnemar(correct, base_correct)
            print(
                f"{name:10} {label:26} {budget:7.1f} {accuracy:8.4f} {seconds:8.1f} {summary['refit_seconds']:7.1f} "
                f"{summary['trials_fitted']:6d} {accuracy - base_accuracy:+12.4f} {f'{won}/{lost}':>9} {p:6.3f}  "
                f"{result.model.family}"
                f"{'' if result.refit == 'training+validation' else ' *'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
