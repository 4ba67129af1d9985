"""KFP component: one HTML report for a whole pipeline run."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def build_run_report(
    import_stats: dsl.Input[dsl.Metrics],
    prefilter_stats: dsl.Input[dsl.Metrics],
    split_report: dsl.Input[dsl.HTML],
    evaluation: dsl.Input[dsl.Metrics],
    evaluation_report: dsl.Input[dsl.HTML],
    machine_labels: dsl.Input[dsl.Metrics],
    items: dsl.Input[dsl.Dataset],
    blessed: bool,
    blessing: dsl.Input[dsl.Artifact],
    champion_version: str,
    report: dsl.Output[dsl.HTML],
    metrics: dsl.Output[dsl.Metrics],
    store_uri: str = "",
    dataset_name: str = "",
    annotation_store_uri: str = "",
):
    """Stitches the steps' figures into one page: counts, rejects, labels and spend, learning curve, model, gate.

    Args:
        import_stats: Metrics of ``import_dataset`` (items kept and rejected by reason).
        prefilter_stats: Metrics of ``prefilter_images`` (duplicates, blurry, corrupt).
        split_report: HTML label distribution per split from ``split_dataset``.
        evaluation: Test-split metrics of the final model.
        evaluation_report: HTML evaluation report of the final model (confusion matrix, ROC).
        machine_labels: Metrics of ``apply_machine_labels``.
        items: The final dataset version (its metadata holds the counts by label source).
        blessed: Whether the promotion gate blessed the final model.
        blessing: The gate's blessing report (a reason per threshold in its metadata).
        champion_version: The registry's champion version after the gate.
        store_uri: Dataset version store holding the active-learning round records.
        dataset_name: Dataset whose rounds to chart.
        annotation_store_uri: Annotation store, for the labeling spend ledger.

    Returns:
        report: The run report (self-contained HTML).
        metrics: The headline figures as Metrics.
    """
    from labelloop.components.core import active_learning, learning_curve_report, run_report, versions
    from labelloop.components.core.annotation_store import AnnotationStore

    gate_reason = "; ".join(str(r) for r in blessing.metadata.get("reasons", []))
    rounds = active_learning.rounds_from_state(versions.read_state(store_uri, dataset_name).values) if store_uri else []
    spend = AnnotationStore(annotation_store_uri).spent_usd() if annotation_store_uri else None
    headline = run_report.headline(
        import_stats.metadata,
        prefilter_stats.metadata,
        evaluation.metadata,
        machine_labels.metadata,
        items.metadata,
        rounds,
        spend,
        blessed,
        gate_reason,
        champion_version,
    )
    sections = [
        run_report.metrics_section("Import and validation", import_stats.metadata),
        run_report.metrics_section("Prefilter: duplicates, blur, corrupt files", prefilter_stats.metadata),
        run_report.html_section("Split", open(split_report.path, encoding="utf-8").read()),
    ]
    if rounds:
        curve = learning_curve_report.render_html(rounds)
        sections.append(run_report.html_section("Active learning: labels bought and learning curve", curve))
    sections += [
        run_report.metrics_section("Machine labels", machine_labels.metadata),
        run_report.html_section("Final model on the test split", open(evaluation_report.path, encoding="utf-8").read()),
        run_report.Section("Promotion gate", run_report.key_value_table({"blessed": blessed, "reason": gate_reason})),
    ]
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(run_report.render_page("labelloop run report", headline, sections))
    for name, value in headline.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.log_metric(name, value)
    metrics.metadata["blessed"] = blessed
    metrics.metadata["champion_version"] = champion_version
