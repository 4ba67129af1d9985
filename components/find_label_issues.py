"""KFP component: find the labeled items most likely mislabeled, for a verification job."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def find_label_issues(
    items: dsl.Input[dsl.Dataset],
    suspects: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    task: str = "image_classification",
    max_suspects: int = 0,
    max_fraction: float = 0.15,
    folds: int = 5,
    seed: int = 0,
    image_size: int = 32,
):
    """Ranks labeled items by how likely their label is wrong (confident learning, out-of-fold).

    Every labeled item is scored by a model that did not see its label (k-fold); the confident
    joint estimates how many labels are wrong and that many lowest-margin items, within the budget,
    become suspects for humans to verify (the ``manifest`` of a ``label_items`` job).

    Args:
        items: Manifest (JSONL) of labeled items; unlabeled items are counted, not scored.
        task: ``image_classification`` or ``text_classification`` (single-label).
        max_suspects: Most suspects to send; 0 = no count cap.
        max_fraction: Most suspects as a fraction of the labeled items (the relabeling budget).
        folds: Cross-validation folds for the out-of-fold probabilities.
        seed: Seeds the folds and the model.
        image_size: Side images are resized to before featurizing (image tasks).

    Returns:
        suspects: Manifest of the suspects, most suspect first, label removed, with
            ``labelloop.verification_rank``, ``label_quality``, ``given_label`` and ``suggested_label``.
        metrics: Items, labeled items, estimated issues and rate, budget, suspects.
        report: HTML page with the counts and the most suspect items.
    """
    from labelloop.components.core import label_issues

    kinds = {"image_classification": "image", "text_classification": "text"}
    if task not in kinds:
        raise ValueError(f"task must be one of {sorted(kinds)} (single-label classification), got {task!r}")
    summary = label_issues.suspects_from_manifest(
        items.path,
        suspects.path,
        kind=kinds[task],
        max_suspects=max_suspects,
        max_fraction=max_fraction,
        folds=folds,
        seed=seed,
        image_size=image_size,
    )
    for name, value in summary.metrics().items():
        metrics.log_metric(name, value)
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(label_issues.report_html(summary))
    suspects.metadata.update({"item_count": summary.suspects, "estimated_issues": summary.estimated_issues})
