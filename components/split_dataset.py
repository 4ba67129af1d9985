"""KFP component: assign every item to training/validation/test."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def split_dataset(
    items: dsl.Input[dsl.Dataset],
    split: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    method: str = "stratified",
    training_fraction: float = 0.8,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    time_field: str = "",
    folds: int = 5,
    fold: int = 0,
    target_column: str = "",
):
    """Assigns each item an ``ml_use`` split, never splitting a near-duplicate group.

    Args:
        items: Manifest (JSONL, Vertex import schema) of the items to split, or a CSV/Parquet
            table whose rows are the items.
        method: ``random``, ``stratified`` (by label, Vertex's default), ``ml_use`` (keep the
            items' own values), ``chronological`` (by ``time_field``) or ``kfold``.
        training_fraction: Share of items for training.
        validation_fraction: Share of items for validation.
        test_fraction: Share of items for test (for ``kfold``: the held-out test share).
        seed: Seed that makes the random assignment reproducible.
        time_field: Field (top-level or in the ``labelloop`` object) holding each item's time,
            for ``chronological``.
        folds: Number of folds, for ``kfold``.
        fold: Which fold is the validation split, for ``kfold``.
        target_column: Tabular data only: the label column to stratify by.

    Returns:
        split: The same items, each with ``aiplatform.googleapis.com/ml_use`` set (tables: an
            ``ml_use`` column, in the input's format).
        metrics: Item counts per split and the split settings.
        report: HTML table of the label distribution per split.
    """
    from labelloop.components.core import run_report
    from labelloop.components.core import split as core

    spec = core.SplitSpec(
        method=method,
        fractions=(training_fraction, validation_fraction, test_fraction),
        seed=seed,
        time_field=time_field,
        folds=folds,
        fold=fold,
    )
    if core.file_format(items.path) == "jsonl":
        result = core.split_manifest(items.path, split.path, spec)
    else:
        result = core.split_table(items.path, split.path, spec, target_column=target_column)
    split.metadata.update(
        {
            "method": method,
            "seed": seed,
            "item_count": sum(result.summary().values()),
            "counts_by_split": result.summary(),
            "groups": result.groups,
        }
    )
    for name, count in result.summary().items():
        metrics.log_metric(f"{name}_items", count)
    metrics.log_metric("duplicate_groups", result.groups)
    with open(report.path, "w") as handle:
        handle.write(run_report.markdown_page(f"Split ({method}, seed {seed})", core.distribution_table(result)))
