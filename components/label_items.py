"""KFP component: human labeling with consensus, quality figures and a spend ledger."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def label_items(
    items: dsl.Input[dsl.Dataset],
    job_spec: str,
    annotation_store_uri: str,
    labeled: dsl.Output[dsl.Dataset],
    annotations: dsl.Output[dsl.Dataset],
    rejects: dsl.Output[dsl.Dataset],
    report: dsl.Output[dsl.HTML],
    metrics: dsl.Output[dsl.Metrics],
    backend: str = "label_studio",
    ground_truth_uri: str = "",
    simulated_crowd: str = "{}",
    label_studio_url: str = "",
    label_studio_token_secret: str = "",
    max_items: int = 0,
    predictions: dsl.Input[dsl.Dataset] | None = None,
    review: bool = False,
):
    """Send items to human labelers, wait, and return consensus labels with quality and spend figures.

    Replaces Vertex AI's Data Labeling Service (shut down 2024-10-03): the job is configured as a
    DataLabelingJob. Labels are bought adaptively (more labelers only where they disagree or the
    model is unsure, and only while another label could still change the consensus enough to pay
    for it; up to labelerCount), persisted append-only before consensus runs, and never
    bought twice when the step is re-run. Label Studio's URL and token come from the environment
    variables LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY, never from parameters.

    Args:
        items: JSONL items to label (Vertex import schema with labelloop ids), in priority order.
        job_spec: DataLabelingJob JSON (displayName, labelerCount, instructionUri, inputsSchemaUri,
            inputs.annotationSpecs, ...) plus labelloop settings (budget, price, timeout) under "labelloop".
        annotation_store_uri: Persistent folder or gs:// prefix holding the annotations and ledger
            across rounds and re-runs.
        backend: "label_studio" (people) or "simulated" (a simulated crowd answering from ground truth).
        ground_truth_uri: Simulated backend only: JSONL of {"id", "label"} the pipeline never reads.
        simulated_crowd: Simulated backend only: JSON crowd settings (nLabelers, accuracy, noise,
            nSpammers, seed).
        label_studio_url: Label Studio backend: the server's URL (not secret); empty reads
            ``LABEL_STUDIO_URL`` from the environment (local runs).
        label_studio_token_secret: Label Studio backend: the Secret Manager secret version holding the
            API token (``projects/P/secrets/S/versions/V``), read at run time with the step's service
            account; empty reads ``LABEL_STUDIO_API_KEY`` from the environment (local runs).
        max_items: Most items to send to humans in this job (0: the spec's budget decides).
        predictions: Optional JSONL of {"id", "probabilities": {label: p}} from the current model,
            used as pre-annotations, to settle items a labeler confirms and, with the spec's
            ``modelInConsensus`` (the default), as each item's prior in the consensus.
        review: Run the job spec's dispute review (``labelloop.disputeReview``) instead: its
            reviewers per item, all at once, its price and budget, its own annotation store
            (``review/`` below ``annotation_store_uri``) and, simulated, the crowd's ``reviewers``.

    Returns:
        labeled: Every input item; labeled ones carry the consensus label and its confidence.
        annotations: Every raw annotation for these items (item, labeler, answer, cost, round).
        rejects: Items that could not be labeled, each with a reason.
        report: HTML quality report: agreement, labelers, confusion vs consensus, review list, spend.
        metrics: Agreement, kappa, alpha, spend (currentSpend), progress, labels bought this run.
    """
    import uuid

    from labelloop.components.backends import selection
    from labelloop.components.core import annotation_store, labeling_job, labeling_output, labeling_rounds, manifest

    spec = labeling_job.parse_job_spec(job_spec)
    store = annotation_store.AnnotationStore(annotation_store_uri)
    lines = list(manifest.read_lines(items.path))
    if review and (spec.dispute_review is None or not lines):
        for output in (labeled, annotations, rejects):
            manifest.write_jsonl(output.path, ())
        with manifest.atomic_writer(report.path) as handle:
            why = "no labelloop.disputeReview in the job spec" if spec.dispute_review is None else "no disputed items"
            handle.write(f"<p>Dispute review: nothing sent ({why}).</p>".encode())
        metrics.log_metric("items", 0)
        labeled.metadata.update({"item_count": 0, "rejected": 0})
        return
    if review:  # the spec's disputeReview: its reviewers, price and budget, its own store
        spec = labeling_job.review_job_spec(spec)
        store = annotation_store.AnnotationStore(annotation_store.review_store_uri(annotation_store_uri))
    probabilities, model_version = (
        labeling_output.read_predictions(predictions.path, spec.annotation_specs) if predictions else ({}, "")
    )
    source = selection.make_labeler(
        backend,
        spec,
        store,
        ground_truth_uri=ground_truth_uri,
        simulated_crowd=simulated_crowd,
        model_version=model_version,
        label_studio_url=label_studio_url,
        label_studio_token_secret=label_studio_token_secret,
        reviewers=review,
    )
    config = labeling_rounds.RoundsConfig(run_id=uuid.uuid4().hex[:12], max_items=max_items or None)
    outcome = labeling_output.run_job(lines, spec, source, store, config, probabilities)

    manifest.write_jsonl(labeled.path, outcome.labeled)
    manifest.write_jsonl(annotations.path, outcome.raw_annotations)
    with manifest.RejectsWriter(rejects.path, step="label_items") as writer:
        for rejected in outcome.rejects:
            writer.reject(rejected.record, rejected.reason_code, rejected.reason, line=rejected.line)
    with manifest.atomic_writer(report.path) as handle:
        handle.write(outcome.report_html.encode("utf-8"))
    for name, value in outcome.metrics.items():
        metrics.log_metric(name, value)
    labeled.metadata.update(
        {"labelingJob": outcome.resource, "item_count": len(outcome.labeled), "rejected": len(outcome.rejects)}
    )
