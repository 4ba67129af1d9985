"""KFP component: the evaluation items whose human label the final model disputes, for review."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def find_disputes(
    items: dsl.Input[dsl.Dataset],
    predictions: dsl.Input[dsl.Dataset],
    suspects: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    job_spec: str,
    model: dsl.Input[dsl.Model] = None,
):
    """Finds validation and test items whose human label the model contradicts, for reviewers.

    The job spec's ``labelloop.disputeReview`` (reviewers per item, price, ``minConfidence``,
    ``maxItems``) turns it on for single-label classification; without it nothing is sent. A
    validation item is judged by the model's held-out prediction (``train_model`` saves them:
    fits that did not see the item), a test item by the model itself, which never trained on it.

    Args:
        items: Manifest with the human-labeled validation and test items.
        predictions: The predict step's output for those items (``classes.txt`` included).
        job_spec: The DataLabelingJob JSON of the labeling run (its ``labelloop.disputeReview``).
        model: The model that predicted; its held-out predictions judge the validation items.

    Returns:
        suspects: The disputed items, most confident dispute first, label removed, with
            ``labelloop.{given_label, suggested_label, dispute_confidence, review_rank}``.
        metrics: Items checked, disputes per split, sent for review.
    """
    from labelloop.components.core import disputes as core
    from labelloop.components.core import labeling_job, manifest, model_io

    spec = labeling_job.parse_job_spec(job_spec)
    # a dispute is one class against another: multi-label, box and span labels are not reviewed this way
    review = spec.dispute_review if spec.task_type.is_single_label else None
    if review is None:
        manifest.write_jsonl(suspects.path, ())
        summary = core.DisputeSummary(0, 0, (), 0)
    else:
        heldout = model_io.read_heldout(model.path) if model is not None else None
        summary = core.disputes_from_manifests(
            items.path,
            predictions.path,
            suspects.path,
            min_confidence=review.min_confidence,
            max_items=review.max_items,
            heldout_by_id=heldout.by_id() if heldout is not None else None,
        )
    for name, value in {"review_enabled": int(review is not None), **summary.metrics()}.items():
        metrics.log_metric(name, value)
    suspects.metadata.update({"item_count": summary.sent})
