"""Evaluation metrics against hand-checked cases."""

import numpy as np
import pytest
from labelloop.components.core import metrics


def test_perfect_classifier():
    y = np.array([0, 1, 2, 1])
    proba = np.eye(3)[y]
    ev = metrics.evaluate_classifier(y, proba, ("a", "b", "c"), task="image_classification")
    assert ev.scalars["accuracy"] == 1 and ev.scalars["macro_f1"] == 1 and ev.scalars["au_roc"] == 1
    assert ev.confusion_matrix == ((1, 0, 0), (0, 2, 0), (0, 0, 1))
    assert ev.per_label["b"]["support"] == 2 and ev.scalars["ece"] == pytest.approx(0, abs=1e-9)


def test_known_confusion_and_ece():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.2, 0.8]])
    ev = metrics.evaluate_classifier(y, proba, ("neg", "pos"), task="text_classification")
    assert ev.scalars["accuracy"] == 0.75
    assert ev.confusion_matrix == ((1, 1), (0, 2))
    assert ev.per_label["pos"]["precision"] == pytest.approx(2 / 3)
    assert metrics.expected_calibration_error(np.array([0.9, 0.9]), np.array([1.0, 0.0])) == pytest.approx(0.4)


def test_align_scores_fills_missing_labels():
    aligned = metrics.align_scores(np.array([[0.3, 0.7]]), ("b", "a"), ("a", "b", "c"))
    assert aligned.tolist() == [[0.7, 0.3, 0.0]]


def test_regression_and_report():
    y = np.array([1.0, 2.0, 3.0])
    ev = metrics.evaluate_regressor(y, y + 1)
    assert ev.scalars["mae"] == 1 and ev.scalars["rmse"] == 1
    with pytest.raises(ValueError, match="test split is empty"):
        metrics.evaluate_regressor(np.array([]), np.array([]))
    y = np.array([0, 1, 1, 0])
    html = metrics.html_report(
        metrics.evaluate_classifier(y, np.eye(2)[y] * 0.8 + 0.1, ("x", "y"), task="image_classification")
    )
    assert html.count("data:image/png;base64,") == 2 and "macro_f1" in html


def test_multilabel_metrics():
    y = np.array([[1, 0, 1], [0, 1, 0]])
    ev = metrics.evaluate_classifier(y, y * 0.9 + 0.05, ("a", "b", "c"), task="image_multilabel")
    assert ev.scalars["accuracy"] == 1 and ev.scalars["micro_f1"] == 1
