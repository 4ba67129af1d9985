"""KFP component: what a label-verification job confirmed, corrected and cost; every item accounted for."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def report_verification(
    items: dsl.Input[dsl.Dataset],
    suspects: dsl.Input[dsl.Dataset],
    labeled: dsl.Input[dsl.Dataset],
    versioned: dsl.Input[dsl.Dataset],
    labeling_metrics: dsl.Input[dsl.Metrics],
    annotation_store_uri: str,
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    version_id: str = "",
    ground_truth_uri: str = "",
):
    """Counts a verification run: suspects sent, labels confirmed and corrected, suspects left, spend.

    Fails when the new version does not hold exactly the dataset's items (nothing lost, nothing added).

    Args:
        items: The dataset that was verified.
        suspects: ``find_label_issues``' suspects (each with ``labelloop.given_label``).
        labeled: ``label_items``' output for the suspects: the human labels.
        versioned: The new dataset version, the human labels merged in.
        labeling_metrics: ``label_items``' metrics (labels bought, spend this run).
        annotation_store_uri: The verification job's annotation store; its ledger gives the total spend.
        version_id: The new version's id, for the report.
        ground_truth_uri: Simulated labeling only: true labels, to score the flagging and the labels
            before and after (empty: not scored).

    Returns:
        metrics: items_in/out, suspects, verified, confirmed, corrected, unverified, spend_usd,
            ledger_spend_usd, labels_bought/reused (with true labels: suspect_precision/recall,
            wrong_labels_before/after).
        report: HTML page with the counts and the corrected items.
    """
    from labelloop.components.core import annotation_store, verification

    ledger = annotation_store.AnnotationStore(annotation_store_uri).load_ledger()
    truth = verification.read_truth(ground_truth_uri) if ground_truth_uri else None
    outcome = verification.verification_outcome(
        items.path,
        suspects.path,
        labeled.path,
        versioned.path,
        labeling_metrics=dict(labeling_metrics.metadata),
        ledger_spend_usd=float(sum(entry.cost_usd for entry in ledger)),
        version_id=version_id,
        truth=truth,
    )
    for name, value in outcome.metrics().items():
        metrics.log_metric(name, value)
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(verification.report_html(outcome))
