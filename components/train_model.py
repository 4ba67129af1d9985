"""KFP component: train a model from a labeled, split manifest with a time-budgeted local AutoML."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_model(
    items: dsl.Input[dsl.Dataset],
    model: dsl.Output[dsl.Model],
    metrics: dsl.Output[dsl.Metrics],
    task: str,
    budget_seconds: int = 120,
    target_column: str = "",
    dataset_version: str = "",
    machine_label_weight: float = 1.0,
    seed: int = 0,
    base_model: dsl.Input[dsl.Model] = None,
    cv_folds: int = -1,
):
    """Searches model families and hyper-parameters within a time budget and saves the best model.

    Only labeled items with ``ml_use`` training (fit) or validation (model selection) take part;
    test items are never trained on. The saved model is the best candidate or a weighted
    soft-voting ensemble of several (family ``ensemble(svc+hist_gb)``), refitted on training +
    validation. The local counterpart of Vertex AutoML's
    ``budget_milli_node_hours``.

    Args:
        items: Labeled, split manifest (JSONL) or, for tabular tasks, a CSV/Parquet table with an
            ``ml_use`` column.
        task: ``image_classification``, ``image_multilabel``, ``text_classification``,
            ``tabular_classification`` or ``tabular_regression``.
        budget_seconds: Wall-clock budget of the search and of refitting the chosen model on
            training + validation, strict as Vertex's: candidates are stopped at it, and a
            member whose refit would not finish keeps its training-only fit (the model's
            ``refit`` metadata says which). Only the kind's default, the first candidate, may
            run past a budget too short for it.
        target_column: Tabular tasks: the column to predict.
        dataset_version: Version id of the training data, kept in the model's metadata.
        machine_label_weight: Sample weight multiplier for machine-labeled items.
        seed: Seed of the search and the models.
        base_model: Optional model to warm-start from: its label set and winning configuration
            seed the search (incremental training).
        cv_folds: How candidates are ranked: ``-1`` the kind's default (5-fold cross-validation
            for text, the validation split otherwise), ``0`` the validation split, ``k >= 2``
            k-fold cross-validation on training + validation. With cross-validation every
            labeled item gets a held-out prediction, so machine-label thresholds are chosen on
            all of them instead of the validation split alone.

    Returns:
        model: Folder with ``model.skops`` (safe format), ``metadata.json`` and
            ``heldout_predictions.npz`` (the search's predictions on labeled items its fits did
            not see, which calibrate machine-label thresholds).
        metrics: Validation score, chosen family, search statistics and item accounting.
    """
    import os

    from labelloop.components.core import model_io, train

    start_from, extra_labels, spec = None, (), None
    if base_model is not None:
        base = model_io.load_model(base_model.path)
        start_from = {"family": base.model.family, "params": base.model.params}
        extra_labels, spec = base.model.labels, base.model.spec
    examples = train.load_examples(
        items.path, task, target_column=target_column, spec=spec, machine_label_weight=machine_label_weight
    )
    result = train.search(
        examples,
        budget_seconds=budget_seconds,
        seed=seed,
        extra_labels=extra_labels,
        start_from=start_from,
        cv_folds=None if cv_folds == -1 else cv_folds,
    )
    summary = result.summary()
    os.makedirs(model.path, exist_ok=True)
    model_io.save_model(
        model.path,
        result.model,
        dataset_version=dataset_version,
        metrics={"validation_score": result.validation_score},
        extra={
            "search": summary,
            "accounting": examples.accounting,
            "warm_started_from": base_model.uri if base_model is not None else "",
        },
        heldout=result.heldout,
    )
    model.metadata.update(
        {
            "task": task,
            "family": result.model.family,
            "labels": list(result.model.labels),
            "dataset_version": dataset_version,
            "refit": summary["refit"],
        }
    )
    for key, value in {
        **examples.accounting,
        "validation_score": result.validation_score,
        "trials_fitted": summary["trials_fitted"],
        "search_seconds": summary["search_seconds"],
    }.items():
        metrics.log_metric(key, value)
    metrics.metadata["family"] = result.model.family
