"""Time near-duplicate search over 1,000,000 hashes, against the previous implementation in the same run.

The case is exactly ``million_hash_search`` in ``benchmarks/prefilter.py``: 1,000,000 random 64-bit
hashes with 50,000 planted near copies (3 bits changed), threshold 8, mirror-aware
(``flip_mask=MIRROR_MASK``), plan from ``plan_search``; then their 4,000,000 corner-crop hashes
(50,000 planted) against them at 5 bits with ``pairs_between``. The baseline for the first search is
the implementation before issue #4's rework, kept in ``benchmarks/_hash_search_before.py``; both
must return the same pairs (it had no ``pairs_between``).
Each contender runs ``--runs`` times and its best time is reported (the machine is shared).

    python benchmarks/hash_search.py [--runs 3] [--single-runs 1] [--before-runs 1] [--threshold 8] [--crop-threshold 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import resource
import sys
import time

import numpy as np
from labelloop.components.core import near_duplicates
from labelloop.components.core.image_hash import MIRROR_MASK

HERE = pathlib.Path(__file__).parent


def million_hashes() -> np.ndarray:
    """The hashes of ``benchmarks/prefilter.py: million_hash_search`` (same seed, same planting)."""
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**64, 1_000_000, dtype=np.uint64)
    copies = rng.integers(0, len(hashes), 50_000)
    hashes[rng.integers(0, len(hashes), 50_000)] = hashes[copies] ^ np.uint64(0b1011)  # planted near pairs
    return hashes


def million_corner_hashes(hashes: np.ndarray) -> np.ndarray:
    """The 4,000,000 corner-crop hashes of ``million_hash_search`` (same generator state, same planting)."""
    rng = np.random.default_rng(0)
    rng.integers(0, 2**64, 1_000_000, dtype=np.uint64)  # replay the draws that made the hashes
    rng.integers(0, len(hashes), 50_000)
    rng.integers(0, len(hashes), 50_000)
    corners = rng.integers(0, 2**64, (len(hashes), 4), dtype=np.uint64)
    cropped = rng.integers(0, len(hashes), 50_000)
    corners[rng.integers(0, len(hashes), 50_000), rng.integers(0, 4, 50_000)] = hashes[cropped] ^ np.uint64(0b101)
    return corners.ravel()


def load_before():
    """The pre-rework module, loaded from its copy beside this script."""
    spec = importlib.util.spec_from_file_location("_hash_search_before", HERE / "_hash_search_before.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def best_of(runs: int, search) -> tuple[float, np.ndarray]:
    """Best wall time of ``runs`` calls of ``search()``, and its result."""
    best, pairs = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        pairs = search()
        best = min(best, time.perf_counter() - start)
    return best, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each current search on all CPUs (best reported)")
    parser.add_argument("--single-runs", type=int, default=1, help="runs in one process (0: skip)")
    parser.add_argument("--before-runs", type=int, default=1, help="runs of the old search (0: skip it)")
    parser.add_argument("--threshold", type=int, default=8)
    parser.add_argument("--crop-threshold", type=int, default=5)
    args = parser.parse_args()

    hashes = million_hashes()
    plan = near_duplicates.plan_search(len(hashes), args.threshold, flip=True)
    print(
        f"1,000,000 hashes, threshold {args.threshold}, mirror-aware; plan: bands {plan.bands} "
        f"(estimated {plan.estimated_cost / 1e9:.1f} s on one core); {len(os.sched_getaffinity(0))} CPUs"
    )

    def search(workers):
        return lambda: near_duplicates.near_duplicate_pairs(
            hashes, args.threshold, flip_mask=MIRROR_MASK, plan=plan, workers=workers
        )

    seconds, pairs = best_of(args.runs, search(None))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"now, all CPUs: {seconds:6.2f} s (best of {args.runs}), {len(pairs)} pairs, peak RSS {peak:.0f} MB")
    if args.single_runs:
        single, single_pairs = best_of(args.single_runs, search(1))
        assert np.array_equal(single_pairs, pairs), "one thread and all CPUs found different pairs"
        print(
            f"now, 1 process: {single:5.2f} s (best of {args.single_runs}); speed-up from worker processes "
            f"{single / seconds:.2f}x"
        )
    corners = million_corner_hashes(hashes)
    crop_plan = near_duplicates.plan_search(len(hashes), args.crop_threshold, flip=True, queries=len(corners))
    crop_seconds, crop_pairs = best_of(
        args.runs,
        lambda: near_duplicates.pairs_between(
            corners, hashes, args.crop_threshold, flip_mask=MIRROR_MASK, plan=crop_plan
        ),
    )
    print(
        f"corner crops:  {crop_seconds:6.2f} s (best of {args.runs}) for 4,000,000 corner-crop hashes against "
        f"them at {args.crop_threshold} bits, {len(crop_pairs)} pairs, bands {crop_plan.bands}; "
        f"both searches {seconds + crop_seconds:.2f} s (target <= 30 s)"
    )
    if args.before_runs:
        before = load_before()
        old_plan = before.plan_search(len(hashes), args.threshold, flip=True)
        old_seconds, old_pairs = best_of(
            args.before_runs,
            lambda: before.near_duplicate_pairs(hashes, args.threshold, flip_mask=MIRROR_MASK, plan=old_plan),
        )
        same = "same pairs" if np.array_equal(pairs, old_pairs) else "DIFFERENT PAIRS"
        print(
            f"before:        {old_seconds:6.2f} s (best of {args.before_runs}), {len(old_pairs)} pairs ({same}), "
            f"bands {old_plan.bands}"
        )
        print(f"speed-up: {old_seconds / seconds:.1f}x (target <= 30 s; aim <= 12 s on a quiet machine)")


if __name__ == "__main__":
    main()
