"""The promotion gate: worse refused, better promoted, a tie within noise refused."""

import numpy as np
import pytest
from labelloop.components.core import gate


def scores_with_accuracy(y, accuracy, n_labels, seed):
    """Probabilities whose argmax is right on a random ``accuracy`` share of items."""
    rng = np.random.default_rng(seed)
    right = rng.random(len(y)) < accuracy
    predicted = np.where(right, y, (y + rng.integers(1, n_labels, len(y))) % n_labels)
    proba = np.full((len(y), n_labels), 0.1 / (n_labels - 1))
    proba[np.arange(len(y)), predicted] = 0.9
    return proba


Y = np.random.default_rng(0).integers(0, 4, 600)
CONFIG = gate.parse_config(
    {
        "value_thresholds": {"accuracy": {"lower_bound": 0.6}},
        "change_thresholds": {"accuracy": {"absolute": 0.0}},
        "resamples": 400,
    }
)


def test_better_challenger_is_promoted():
    decision = gate.decide(
        CONFIG, Y, scores_with_accuracy(Y, 0.9, 4, 1), scores_with_accuracy(Y, 0.7, 4, 2), "image_classification"
    )
    assert decision.blessed and all(c.passed for c in decision.checks)


def test_worse_challenger_is_refused():
    decision = gate.decide(
        CONFIG, Y, scores_with_accuracy(Y, 0.7, 4, 1), scores_with_accuracy(Y, 0.9, 4, 2), "image_classification"
    )
    assert not decision.blessed
    assert "not surely" in decision.checks[1].reason


def test_tie_within_noise_is_refused():
    champion = scores_with_accuracy(Y, 0.8, 4, 2)
    challenger = champion.copy()
    flip = np.random.default_rng(5).choice(len(Y), 6, replace=False)  # a handful of items differ
    challenger[flip] = scores_with_accuracy(Y[flip], 1.0, 4, 3)
    decision = gate.decide(CONFIG, Y, challenger, champion, "image_classification")
    assert not decision.blessed and decision.checks[1].ci_low <= 0


def test_first_run_applies_value_thresholds_only():
    assert gate.decide(CONFIG, Y, scores_with_accuracy(Y, 0.9, 4, 1), None, "image_classification").blessed
    assert not gate.decide(CONFIG, Y, scores_with_accuracy(Y, 0.4, 4, 1), None, "image_classification").blessed


def test_lower_is_better_and_relative_thresholds():
    config = gate.parse_config({"change_thresholds": {"log_loss": {"relative": 0.05}}, "resamples": 300})
    good, bad = scores_with_accuracy(Y, 0.95, 4, 1), scores_with_accuracy(Y, 0.6, 4, 2)
    assert gate.decide(config, Y, good, bad, "image_classification").blessed
    assert not gate.decide(config, Y, bad, good, "image_classification").blessed


def test_regression_metrics():
    y = np.linspace(0, 10, 300)
    config = gate.parse_config(
        {"value_thresholds": {"r2": {"lower_bound": 0.9}}, "change_thresholds": {"rmse": {"absolute": 0.0}}}
    )
    decision = gate.decide(config, y, y + 0.1, y + np.random.default_rng(0).normal(0, 1, 300), "tabular_regression")
    assert decision.blessed


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"value_thresholds": {"accuracy": {"lower": 0.9}}}, "lower_bound"),
        ({"change_thresholds": {"accuracy": {"direction": "up"}}}, "absolute and/or relative"),
        ({"value_thresholds": {"accuracy": {"lower_bound": "high"}}}, "must be a number"),
        ({"thresholds": {}}, "unknown gate config keys"),
    ],
)
def test_malformed_config_is_named(bad, message):
    with pytest.raises(gate.GateConfigError, match=message):
        gate.parse_config(bad)


def test_unknown_metric_is_named():
    config = gate.parse_config({"value_thresholds": {"precision@1": {"lower_bound": 0.5}}})
    with pytest.raises(ValueError, match="not a classification metric"):
        gate.decide(config, Y, scores_with_accuracy(Y, 0.9, 4, 1), None, "image_classification")
