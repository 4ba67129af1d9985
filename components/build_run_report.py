"""KFP component: the one-page visual report of a whole pipeline run."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def build_run_report(
    import_metrics: dsl.Input[dsl.Metrics],
    import_rejects: dsl.Input[dsl.Dataset],
    prefilter_metrics: dsl.Input[dsl.Metrics],
    prefilter_kept: dsl.Input[dsl.Dataset],
    prefilter_rejects: dsl.Input[dsl.Dataset],
    evaluation: dsl.Input[dsl.Metrics],
    classification_metrics: dsl.Input[dsl.ClassificationMetrics],
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
    active_learning_config: str = "",
    ground_truth_uri: str = "",
    comparison_seeds: int = 0,
):
    """One self-contained page: headline figures, galleries of what was removed, labeling, learning curves, model, gate.

    Args:
        import_metrics: Metrics of ``import_dataset`` (items kept and rejected by reason).
        import_rejects: Rejects of ``import_dataset``.
        prefilter_metrics: Metrics of ``prefilter_images`` (duplicates, blurry, corrupt).
        prefilter_kept: Kept items of ``prefilter_images`` (each duplicate group's kept copy).
        prefilter_rejects: Rejects of ``prefilter_images`` (removed copies, blurry and corrupt files).
        evaluation: Test-split metrics of the final model.
        classification_metrics: Confusion matrix and ROC points of the final model.
        machine_labels: Metrics of ``apply_machine_labels``.
        items: The final dataset (splits, labels, label sources, machine labels).
        blessed: Whether the promotion gate blessed the final model.
        blessing: The gate's blessing report (a reason per threshold in its metadata).
        champion_version: The registry's champion version after the gate.
        store_uri: Dataset version store holding the active-learning round records.
        dataset_name: Dataset whose rounds to chart.
        annotation_store_uri: Annotation store: the human annotations and the spend ledger.
        active_learning_config: The run's ActiveLearningConfig JSON (batch sizes of the comparison).
        ground_truth_uri: Simulated labeling only: true labels, to compare the strategy with random sampling.
        comparison_seeds: Seeds of the strategy-versus-random comparison (0: none; needs ground_truth_uri).

    Returns:
        report: The run report (self-contained HTML).
        metrics: The headline figures as Metrics.
    """
    from labelloop.components.core import run_report

    result = run_report.build_run_report(
        run_report.inputs_from_run(
            import_metrics=dict(import_metrics.metadata),
            import_rejects=import_rejects.path,
            prefilter_metrics=dict(prefilter_metrics.metadata),
            prefilter_kept=prefilter_kept.path,
            prefilter_rejects=prefilter_rejects.path,
            evaluation=dict(evaluation.metadata),
            classification_metrics=dict(classification_metrics.metadata),
            machine_label_metrics=dict(machine_labels.metadata),
            dataset=items.path,
            blessed=blessed,
            gate_reasons=[str(r) for r in blessing.metadata.get("reasons", [])],
            champion_version=champion_version,
            store_uri=store_uri,
            dataset_name=dataset_name,
            annotation_store_uri=annotation_store_uri,
            active_learning_config=active_learning_config,
            ground_truth_uri=ground_truth_uri,
            comparison_seeds=comparison_seeds,
        )
    )
    run_report.write_run_report(report.path, result)
    for name, value in result.headline.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.log_metric(name, value)
        elif isinstance(value, str):
            metrics.metadata[name] = value  # a sentence (e.g. why nothing was machine-labeled), not a metric
    metrics.metadata["blessed"] = blessed
    metrics.metadata["champion_version"] = champion_version
