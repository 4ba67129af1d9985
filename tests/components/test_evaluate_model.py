"""evaluate_model component: metrics, confusion matrix, ROC and an HTML report."""

from kfp import dsl
from labelloop.components.evaluate_model import evaluate_model


def test_evaluate_model_logs_kfp_metrics(tmp_path, trained_model):
    dataset, model = trained_model(tmp_path)
    metrics = dsl.Metrics(name="m", uri=str(tmp_path / "m"), metadata={})
    cm = dsl.ClassificationMetrics(name="cm", uri=str(tmp_path / "cm"), metadata={})
    report = dsl.HTML(name="r", uri=str(tmp_path / "r.html"), metadata={})
    evaluate_model.python_func(model=model, items=dataset, metrics=metrics, classification_metrics=cm, report=report)
    assert metrics.metadata["accuracy"] > 0.8 and "3/f1" in metrics.metadata and metrics.metadata["test_items"] == 45
    assert len(cm.metadata["confusionMatrix"]["rows"]) == 10 and cm.metadata["confidenceMetrics"]
    assert "data:image/png;base64" in open(report.path).read()
