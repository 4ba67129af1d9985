"""evaluate_model component: metrics, confusion matrix, ROC and an HTML report."""

from kfp import dsl

from labelloop.components.core import model_io, sample_data, train
from labelloop.components.evaluate_model import evaluate_model

def trained_model(tmp_path, n=300, C=1.0, name="model"):
    """A digits manifest and a quick model saved where a Model artifact would be."""
    data = sample_data.load_digits_images()
    path = sample_data.write_image_manifest(data.images[:n], list(data.labels[:n]), str(tmp_path / "data"),
                                            ml_uses=sample_data.assign_ml_uses(n, seed=2))
    examples = train.examples_from_manifest(path, "image_classification")
    model = dsl.Model(name=name, uri=str(tmp_path / name), metadata={})
    model_io.save_model(model.path, train.fit_quick(examples, C=C), dataset_version="dv1")
    return dsl.Dataset(name="d", uri=path, metadata={}), model


def test_evaluate_model_logs_kfp_metrics(tmp_path):
    dataset, model = trained_model(tmp_path)
    metrics = dsl.Metrics(name="m", uri=str(tmp_path / "m"), metadata={})
    cm = dsl.ClassificationMetrics(name="cm", uri=str(tmp_path / "cm"), metadata={})
    report = dsl.HTML(name="r", uri=str(tmp_path / "r.html"), metadata={})
    evaluate_model.python_func(model=model, dataset=dataset, metrics=metrics, classification_metrics=cm, report=report)
    assert metrics.metadata["accuracy"] > 0.8 and "3/f1" in metrics.metadata and metrics.metadata["test_items"] == 45
    assert len(cm.metadata["confusionMatrix"]["rows"]) == 10 and cm.metadata["confidenceMetrics"]
    assert "data:image/png;base64" in open(report.path).read()
