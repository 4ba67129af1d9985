"""round_decisions: the labeling plan, the round history and the next batch size, moved out of the wrappers."""

import pytest
from labelloop.components.core import active_learning as al
from labelloop.components.core import round_decisions as rd
from labelloop.components.core.registry import ModelRegistry, champion_uri

CONFIG = al.ActiveLearningConfig(
    max_data_item_count=10,
    initial_batch_sample_percentage=10,
    following_batch_sample_percentage=10,
    max_rounds=3,
    cost_per_label=0.5,
)


def test_plan_refuses_more_rounds_than_the_graph_holds_and_allows_no_limit():
    with pytest.raises(rd.RoundsExceedGraphError, match="holds 2 rounds"):
        rd.plan_labeling(CONFIG, 40, rounds_in_graph=2)
    assert rd.plan_labeling(CONFIG, 40).max_rounds == 3
    assert rd.plan_labeling(CONFIG, 40, rounds_in_graph=3) == rd.LabelingPlan(4, 10, CONFIG.strategy, 3)


def test_close_round_continues_the_history_and_stops_on_the_budget():
    first = rd.close_round(CONFIG, [], chosen_ids=["a", "b"], total_items=40, pool_remaining=30, strategy="cold_start")
    assert first.record.round_index == 0 and first.next_batch_size == 4 and not first.decision.stop
    history = rd.history_before_round(CONFIG, first.history, previous_metrics={"accuracy": 0.8})
    assert history[-1].metric_value == 0.8 and first.history[-1].metric_value is None  # records are not mutated
    second = rd.close_round(
        CONFIG, history, chosen_ids=list("cdefghij"), total_items=40, pool_remaining=22, strategy="margin"
    )
    assert second.record.labels_total == 10 and second.next_batch_size == 0
    assert second.summary() == {
        "rounds": 2,
        "labels_total": 10,
        "spend_total": 5.0,
        "stop": True,
        "reason": "budget_exhausted",
    }


def test_close_round_stops_when_the_pool_is_empty_and_refuses_a_negative_pool():
    done = rd.close_round(CONFIG, [], chosen_ids=["a"], total_items=40, pool_remaining=0, strategy="random")
    assert done.next_batch_size == 0 and done.decision.stop and done.summary()["reason"] == "pool_exhausted"
    with pytest.raises(ValueError, match="pool_remaining"):
        rd.close_round(CONFIG, [], chosen_ids=["a"], total_items=40, pool_remaining=-1, strategy="random")


def test_champion_uri_prefers_the_explicit_model_then_the_alias(tmp_path):
    registry_uri = str(tmp_path / "registry")
    assert champion_uri(registry_uri, "m", "champion") == ""
    assert champion_uri("", "m", "champion") == "" and champion_uri(registry_uri, "", "champion") == ""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metadata.json").write_text("{}")
    registry = ModelRegistry(registry_uri)
    version = registry.register("m", str(tmp_path / "model"), {}).version
    registry.promote("m", version, alias="champion")
    assert champion_uri(registry_uri, "m", "champion") == registry.get("m", version).uri
    assert champion_uri(registry_uri, "m", "champion", explicit_uri="/elsewhere") == "/elsewhere"
