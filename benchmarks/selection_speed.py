"""Top-1,000 selection over a 10,000,000 x 10 float32 pool: labelloop vs naive vs modAL vs the floor.

All figures are measured in the same run on the same array (best of ``--repeats``):

* floor: one pass over the data (a contiguous sum) plus one ``argpartition`` of N scores, the
  least any exact selection must do;
* labelloop: ``sampling.top_k_uncertain`` (chunked, transposed top-2, incremental top-k, seeded ties);
* naive: a full ``np.sort`` per row for the score and a full ``argsort`` of the scores;
* modAL (``pip install modAL-python``): its scoring (``np.partition`` over each row, entropy via
  scipy) and ``multi_argmax`` selection on the same probabilities (its ``ActiveLearner`` itself
  fails on scikit-learn >= 1.8, so the selection functions are called directly).

Also the input check (``check_probabilities``) beside the margin selection: it must cost no more.
Target: labelloop <= 0.25 s for margin. Run: ``python benchmarks/selection_speed.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from labelloop.components.core import sampling


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def naive(p: np.ndarray, k: int, strategy: str) -> np.ndarray:
    ordered = np.sort(p, axis=1)
    if strategy == "margin":
        score = ordered[:, -1] - ordered[:, -2]
    elif strategy == "least_confidence":
        score = ordered[:, -1]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.nansum(p * np.log(p), axis=1)
    return np.argsort(score, kind="stable")[:k]


def modal_selection(p: np.ndarray, k: int, strategy: str):
    from modAL.utils.selection import multi_argmax
    from scipy.stats import entropy

    if strategy == "margin":  # modAL.uncertainty.classifier_margin, minus the predict_proba call
        part = np.partition(-p, 1, axis=1)
        utility = -(-part[:, 0] + part[:, 1])
    elif strategy == "least_confidence":  # classifier_uncertainty
        utility = 1 - np.max(p, axis=1)
    else:  # classifier_entropy
        utility = entropy(p.T)
    return multi_argmax(utility, k)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-slow", action="store_true", help="skip naive and modAL (tens of seconds)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    p = rng.random((args.rows, args.classes), dtype=np.float32)
    p /= p.sum(axis=1, keepdims=True)
    scores = rng.random(args.rows, dtype=np.float32)
    print(
        f"pool {args.rows:,} x {args.classes} float32 "
        f"({p.nbytes / 2**20:.0f} MiB), top-{args.k}, best of {args.repeats}"
    )
    one_pass = best_of(args.repeats, lambda: p.reshape(-1).sum())
    partition = best_of(args.repeats, lambda: np.argpartition(scores, args.k)[: args.k])
    base = one_pass + partition
    print(f"{'floor (one pass + one partition)':<40}{base:>8.3f} s  (pass {one_pass:.3f} + partition {partition:.3f})")
    try:
        import modAL  # noqa: F401

        have_modal = True
    except ImportError:
        have_modal = False
        print("modAL not installed (pip install modAL-python): its column is skipped")
    for strategy in ("margin", "least_confidence", "entropy"):
        ours = best_of(args.repeats, lambda s=strategy: sampling.top_k_uncertain(p, args.k, s))
        line = f"{'labelloop ' + strategy:<40}{ours:>8.3f} s  {ours / base:>5.2f}x floor"
        if not args.skip_slow:
            slow = best_of(1, lambda s=strategy: naive(p, args.k, s))
            line += f" | naive {slow:.3f} s ({slow / ours:.1f}x slower)"
            if have_modal:
                modal = best_of(1, lambda s=strategy: modal_selection(p, args.k, s))
                line += f" | modAL {modal:.3f} s ({modal / ours:.1f}x slower)"
        print(line, flush=True)
    margin_time = best_of(args.repeats, lambda: sampling.top_k_uncertain(p, args.k, "margin"))
    check_time = best_of(args.repeats, lambda: sampling.check_probabilities(p))
    print(
        f"{'labelloop check_probabilities':<40}{check_time:>8.3f} s  {check_time / margin_time:>5.2f}x the margin "
        f"selection measured beside it ({margin_time:.3f} s; target <= 1x)"
    )
    ours_same = sampling.top_k_uncertain(p[:1_000_000], args.k, "margin").indices
    ref = naive(p[:1_000_000], args.k, "margin")
    print(f"check: labelloop and naive margin agree on the first 1,000,000 rows: {set(ours_same) == set(ref)}")
    cluster = best_of(1, lambda: sampling.margin_cluster(p, args.k, seed=0))
    print(f"{'labelloop margin_cluster (UNCERTAINTY)':<40}{cluster:>8.3f} s  (margin top-{5 * args.k} + k-means)")


if __name__ == "__main__":
    main()
