"""The Vertex promotion rules: metrics read from ModelEvaluation, the gate on them, alias and endpoint choices."""

import math

import pytest
from labelloop.components.core import gate
from labelloop.components.core import vertex_promotion as promotion

MODEL = "projects/p/locations/europe-west4/models/42"
EVALUATION = {
    "auPrc": 0.91,
    "auRoc": 0.95,
    "logLoss": 0.3,
    "confidenceMetrics": [
        {"confidenceThreshold": 0.0, "precisionAt1": 0.83, "f1ScoreMacro": 0.2},
        {"confidenceThreshold": 0.5, "precisionAt1": 0.9, "f1ScoreMacro": 0.8, "f1ScoreMicro": 0.81},
        {"confidenceThreshold": 0.9, "precisionAt1": 0.97, "f1ScoreMacro": 0.5},
    ],
}


def config(**data) -> gate.GateConfig:
    return gate.parse_config(data)


def test_metrics_are_read_from_the_evaluation_fields_and_thresholds():
    values = promotion.evaluation_metrics(
        EVALUATION, task="image_classification", wanted=["accuracy", "au_prc", "log_loss", "macro_f1", "micro_f1"]
    )
    assert values == {"accuracy": 0.83, "au_prc": 0.91, "log_loss": 0.3, "macro_f1": 0.8, "micro_f1": 0.81}


def test_regression_metrics_use_the_regression_schema():
    metrics = {"rootMeanSquaredError": 2.5, "meanAbsoluteError": 1.5, "rSquared": 0.7}
    assert promotion.evaluation_metrics(metrics, task="tabular_regression", wanted=["rmse", "r2"]) == {
        "rmse": 2.5,
        "r2": 0.7,
    }


def test_a_metric_vertex_does_not_report_is_refused_not_skipped():
    with pytest.raises(promotion.PromotionError, match="metric 'ece' is not in Vertex's classification evaluation"):
        promotion.evaluation_metrics(EVALUATION, task="image_classification", wanted=["ece"])
    with pytest.raises(promotion.PromotionError, match="'accuracy' is not in Vertex's regression evaluation"):
        promotion.evaluation_metrics({}, task="tabular_regression", wanted=["accuracy"])


def test_a_missing_value_is_nan_and_fails_a_value_threshold():
    values = promotion.evaluation_metrics({"confidenceMetrics": [{}]}, task="image_classification", wanted=["au_prc"])
    assert math.isnan(values["au_prc"])
    decision = promotion.decide_on_evaluations(config(value_thresholds={"au_prc": {"lower_bound": 0.5}}), values, None)
    assert not decision.blessed


def test_first_model_is_gated_on_values_only():
    rules = config(
        value_thresholds={"accuracy": {"lower_bound": 0.8}}, change_thresholds={"accuracy": {"absolute": 0.0}}
    )
    decision = promotion.decide_on_evaluations(rules, {"accuracy": 0.83}, None)
    assert decision.blessed and not decision.has_champion
    assert "no champion yet" in decision.checks[1].reason


@pytest.mark.parametrize(
    ("new", "old", "blessed"),
    [(0.86, 0.83, True), (0.83, 0.83, False), (0.80, 0.83, False)],
)
def test_change_threshold_needs_a_real_improvement(new, old, blessed):
    rules = config(change_thresholds={"accuracy": {"absolute": 0.0}})
    decision = promotion.decide_on_evaluations(rules, {"accuracy": new}, {"accuracy": old})
    assert decision.blessed is blessed
    assert decision.has_champion


def test_lower_is_better_and_relative_thresholds():
    rules = config(change_thresholds={"log_loss": {"relative": 0.1}})
    assert promotion.decide_on_evaluations(rules, {"log_loss": 0.25}, {"log_loss": 0.3}).blessed  # 16.7% better
    assert not promotion.decide_on_evaluations(rules, {"log_loss": 0.28}, {"log_loss": 0.3}).blessed  # 6.7%


def test_the_same_config_json_as_the_local_gate_is_accepted():
    local_default = {
        "value_thresholds": {"accuracy": {"lower_bound": 0.5}},
        "change_thresholds": {"accuracy": {"absolute": 0.0}},
    }
    rules = gate.parse_config(local_default)
    assert promotion.gate_metric_names(rules) == ["accuracy"]
    with pytest.raises(gate.GateConfigError, match="no thresholds"):
        promotion.decide_on_evaluations(gate.parse_config({}), {}, None)


def version(v, model=MODEL, aliases=()):
    return promotion.ModelVersion(model, v, aliases)


def test_alias_moves_only_when_blessed_and_only_within_one_model():
    assert promotion.alias_to_merge(blessed=True, challenger=version("3"), champion=version("2"), alias="champion") == [
        "champion"
    ]
    assert (
        promotion.alias_to_merge(blessed=False, challenger=version("3"), champion=version("2"), alias="champion") == []
    )
    assert promotion.alias_to_merge(blessed=True, challenger=version("1"), champion=None, alias="champion") == [
        "champion"
    ]
    assert (
        promotion.alias_to_merge(blessed=True, challenger=version("2"), champion=version("2"), alias="champion") == []
    )
    with pytest.raises(promotion.PromotionError, match="train it with parent_model"):
        promotion.alias_to_merge(
            blessed=True, challenger=version("1", model=MODEL + "0"), champion=version("2"), alias="champion"
        )


@pytest.mark.parametrize("alias", ["", "1", "Champion", "champ_ion", "-champion"])
def test_bad_aliases_are_refused(alias):
    with pytest.raises(promotion.PromotionError, match="version alias"):
        promotion.check_alias(alias)


def test_model_names_parse_with_and_without_version():
    assert promotion.parse_model_name(MODEL + "@7") == (MODEL, "7")
    assert promotion.parse_model_name(MODEL) == (MODEL, "")
    with pytest.raises(promotion.PromotionError, match="not a Vertex model resource name"):
        promotion.parse_model_name("gs://bucket/model")


def endpoint(name, display="x", labels=None, created="2030-01-01T00:00:00", deployed=()):
    return promotion.EndpointInfo(name, display, labels or {}, created, tuple(deployed))


def test_endpoint_is_found_by_label_first_then_display_name_oldest_first():
    by_label = endpoint("e/1", labels={"labelloop-model": "flowers"}, created="2030-02-01")
    by_name = endpoint("e/2", display="flowers-endpoint", created="2030-01-01")
    other = endpoint("e/3", labels={"labelloop-model": "cars"})
    assert promotion.choose_endpoint([by_name, other, by_label], model_name="flowers") == by_label
    assert promotion.choose_endpoint([other, by_name], model_name="flowers") == by_name
    older = endpoint("e/4", display="flowers-endpoint", created="2029-01-01")
    assert promotion.choose_endpoint([by_name, older], model_name="flowers") == older
    assert promotion.choose_endpoint([other], model_name="flowers") is None


def test_deploy_plan_reuses_the_endpoint_moves_all_traffic_and_never_deploys_ungated():
    existing = endpoint("e/1", deployed=("11", "12"))
    plan = promotion.plan_deploy(blessed=True, model_name="Flowers v2", existing=existing)
    assert (plan.endpoint, dict(plan.traffic_split), plan.undeploy_after) == ("e/1", {"0": 100}, ("11", "12"))
    fresh = promotion.plan_deploy(blessed=True, model_name="Flowers v2", existing=None)
    assert (fresh.endpoint, fresh.create_display_name) == ("", "Flowers v2-endpoint")
    assert dict(fresh.create_labels) == {"labelloop-model": "flowers-v2"}
    with pytest.raises(promotion.PromotionError, match="did not bless"):
        promotion.plan_deploy(blessed=False, model_name="flowers", existing=existing)
