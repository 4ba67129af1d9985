"""KFP component: evaluate a model on the test split; metrics render in the Vertex AI console."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate_model(
    model: dsl.Input[dsl.Model],
    items: dsl.Input[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    classification_metrics: dsl.Output[dsl.ClassificationMetrics],
    report: dsl.Output[dsl.HTML],
    target_column: str = "",
):
    """Scores the test split (``ml_use=test``) of a labeled manifest.

    Classification: accuracy, macro/micro F1, per-label precision/recall/F1, AU-PRC, AU-ROC, log
    loss, calibration (ECE), confusion matrix and ROC curve. Regression: MAE, RMSE, R².

    Args:
        model: A model folder written by ``train_model``.
        items: The labeled, split manifest (or table) the model was trained from.
        target_column: Tabular tasks: the column to predict.

    Returns:
        metrics: Scalar metrics plus per-label precision/recall/F1.
        classification_metrics: Confusion matrix and ROC curve (classification only).
        report: HTML page with the metrics and plots.
    """
    import math

    from labelloop.components.core import metrics as met
    from labelloop.components.core import model_io, train

    loaded = model_io.load_model(model.path)
    task = loaded.model.task
    examples = train.load_examples(items.path, task, target_column=target_column, spec=loaded.model.spec)
    scored = train.score_split([loaded.model], examples.test)
    if train.is_regression(task):
        evaluation = met.evaluate_regressor(scored.y, scored.scores[0])
    else:
        evaluation = met.evaluate_classifier(scored.y, scored.scores[0], scored.labels, task=task)
        if evaluation.confusion_matrix:
            classification_metrics.log_confusion_matrix(
                list(evaluation.labels), [list(r) for r in evaluation.confusion_matrix]
            )
        if evaluation.roc.get("fpr"):
            classification_metrics.log_roc_curve(
                evaluation.roc["fpr"], evaluation.roc["tpr"], evaluation.roc["thresholds"]
            )
    for name, value in evaluation.scalars.items():
        if not math.isnan(value):
            metrics.log_metric(name, value)
    for label, values in evaluation.per_label.items():
        for name in ("precision", "recall", "f1"):
            metrics.log_metric(f"{label}/{name}", values[name])
    metrics.log_metric("test_items", evaluation.count)
    with open(report.path, "w") as handle:
        handle.write(met.html_report(evaluation, title=f"Evaluation of {model.uri}"))
