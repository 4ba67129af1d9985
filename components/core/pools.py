"""Which items still need a label: the active-learning pool and the evaluation items."""

from __future__ import annotations

from dataclasses import dataclass

from . import manifest as mf


@dataclass(frozen=True)
class Partition:
    """Counts of a dataset's items by what they still need."""

    total: int
    labeled: int
    pool: int
    evaluation_pending: int
    labeled_pool: int = 0  # labeled training items: the labels active learning bought on the pool


def partition_manifest(source: str, pool: str, evaluation_pending: str) -> Partition:
    """Write the unlabeled training items (the pool) and the unlabeled validation/test items.

    Unlabeled items without a split count as pool: they can only ever be training data.
    Every item is counted once, so ``labeled + pool + evaluation_pending == total``;
    ``labeled_pool`` is the labeled items outside validation/test (what the sampling switch counts).
    """
    labeled = labeled_pool = 0

    def unlabeled(wanted: str):
        nonlocal labeled, labeled_pool
        for record in mf.read_jsonl(source):
            if mf.labels_of(record):
                if wanted == "pool":  # counted once, on the first pass
                    labeled += 1
                    labeled_pool += mf.ml_use_of(record) not in ("validation", "test")
                continue
            kind = "evaluation" if mf.ml_use_of(record) in ("validation", "test") else "pool"
            if kind == wanted:
                yield record

    pool_count = mf.write_jsonl(pool, unlabeled("pool"))
    evaluation_count = mf.write_jsonl(evaluation_pending, unlabeled("evaluation"))
    return Partition(labeled + pool_count + evaluation_count, labeled, pool_count, evaluation_count, labeled_pool)
