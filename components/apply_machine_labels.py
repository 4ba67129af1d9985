"""KFP component: machine-label the unlabeled items the model is confident enough about."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def apply_machine_labels(
    pool: dsl.Input[dsl.Dataset],
    labeled: dsl.Input[dsl.Dataset],
    predictions: dsl.Input[dsl.Dataset],
    machine_labeled: dsl.Output[dsl.Dataset],
    remaining: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    model_version: str,
    target_precision: float = 0.98,
    confidence_level: float = 0.95,
    model: dsl.Input[dsl.Model] = None,
):
    """Labels the rest by machine where validation shows the target precision is reached.

    Each predicted class gets its own top-1 confidence threshold, chosen on the validation items
    so that the precision of everything accepted, as a one-sided Clopper–Pearson lower bound,
    reaches ``target_precision``; the precision actually reached is measured on test. The
    thresholds are chosen on the model's held-out predictions (saved by ``train_model``: fits
    that did not see those items), since the final model was refitted on validation too.

    Args:
        pool: Manifest of the items humans did not label.
        labeled: Manifest holding the human-labeled validation and test items.
        predictions: The predict step's output (``probabilities.npy`` + ``ids.txt`` +
            ``classes.txt``, or predictions JSONL) for the pool and the labeled items.
        model_version: Identity of the model that predicted (its registry version or artifact URI);
            stored on every machine label as its lineage.
        target_precision: Precision the machine labels must reach, e.g. 0.98.
        confidence_level: Confidence of the lower bound: 0.90, 0.95 or 0.99.
        model: The model that predicted; its held-out predictions calibrate the thresholds
            (without them, the model's own validation predictions do).

    Returns:
        machine_labeled: Pool items labeled with ``labelloop_source=machine``, their confidence
            and the model version.
        remaining: Pool items below the threshold, still for humans.
        metrics: Lowest class threshold, validation precision and bound, counts, and test precision.
    """
    import math

    from labelloop.components.core import machine_labels, model_io

    heldout = model_io.read_heldout(model.path) if model is not None else None
    summary = machine_labels.apply_to_manifests(
        pool.path,
        labeled.path,
        predictions.path,
        machine_labeled.path,
        remaining.path,
        target_precision=target_precision,
        confidence_level=confidence_level,
        model_version=model_version,
        heldout_by_id=heldout.by_id() if heldout is not None else None,
        heldout_fitted_on=heldout.fitted_on if heldout is not None else "",
    )
    choice, test = summary.choice, summary.test
    figures = {
        "threshold": choice.threshold if math.isfinite(choice.threshold) else 2.0,  # 2.0: nothing passes
        "validation_precision": choice.validation_precision,
        "validation_precision_lower_bound": choice.precision_lower_bound,
        "validation_items": choice.validation_items,
        "validation_items_accepted": choice.validation_accepted,
        "machine_labeled_items": summary.machine_labeled,
        "still_unlabeled_items": summary.still_unlabeled,
        "test_precision": test.precision,
        "test_precision_lower_bound": test.lower_bound,
        "test_items_above_threshold": test.accepted,
    }
    for name, value in figures.items():
        metrics.log_metric(name, value)
    metrics.metadata["calibration"] = summary.calibration
    metrics.metadata["outcome"] = choice.reason  # why these thresholds, or why none
    machine_labeled.metadata.update(
        {
            "model_version": model_version,
            "item_count": summary.machine_labeled,
            "reason": choice.reason,
            "calibration": summary.calibration,
        }
    )
    remaining.metadata.update({"item_count": summary.still_unlabeled})
