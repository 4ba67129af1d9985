"""ActiveLearningConfig (DataLabelingJob's shape), budget arithmetic, stopping rules, records, report."""

import pytest
from labelloop.components.core import active_learning as al
from labelloop.components.core import learning_curve_report


def config(**overrides):
    return al.ActiveLearningConfig(**{"max_data_item_count": 100, **overrides})


def test_data_labeling_job_json_round_trips():
    job = {
        "maxDataItemCount": "500",
        "sampleConfig": {
            "sampleStrategy": "UNCERTAINTY",
            "initialBatchSamplePercentage": 10,
            "followingBatchSamplePercentage": 5,
        },
        "trainingConfig": {"timeoutTrainingMilliHours": "8000"},
        "max_rounds": 4,
    }
    parsed = al.config_from_dict(job)
    assert (parsed.max_data_item_count, parsed.timeout_training_milli_hours, parsed.max_rounds) == (500, 8000, 4)
    assert parsed.strategy == "margin_diverse"
    assert al.to_data_labeling_job(parsed) == {k: v for k, v in job.items() if k != "max_rounds"}


def test_unspecified_strategy_means_uncertainty_as_in_the_service():
    parsed = al.config_from_dict(
        {"maxDataItemPercentage": 20, "sampleConfig": {"sampleStrategy": "SAMPLE_STRATEGY_UNSPECIFIED"}}
    )
    assert parsed.sample_strategy == "UNCERTAINTY"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one human labeling budget"),
        ({"max_data_item_count": 5, "max_data_item_percentage": 10}, "exactly one"),
        ({"max_data_item_percentage": 150}, r"max_data_item_percentage must be in \(0, 100\]"),
        ({"max_data_item_count": 5, "initial_batch_sample_percentage": 0}, "initial_batch_sample_percentage"),
        ({"max_data_item_count": 5, "sample_strategy": "bald"}, "sample_strategy: unknown sampling strategy"),
        ({"max_data_item_count": 5, "colour": "red"}, r"unknown active-learning config field\(s\) \['colour'\]"),
        ({"maxDataItemCount": "12.5"}, "max_data_item_count must be an integer"),
    ],
)
def test_bad_configs_name_the_field(fields, message):
    with pytest.raises(al.ConfigError, match=message):
        al.config_from_dict(fields)


def test_budget_from_count_or_percentage_never_exceeds_the_items():
    assert al.human_label_budget(config(max_data_item_count=100), 50) == 50
    assert al.human_label_budget(al.ActiveLearningConfig(max_data_item_percentage=15), 1000) == 150
    assert al.human_label_budget(al.ActiveLearningConfig(max_data_item_percentage=15), 999) == 149


def test_batch_schedule_uses_initial_then_following_percentages_and_caps_by_budget():
    cfg = config(max_data_item_count=100, initial_batch_sample_percentage=3, following_batch_sample_percentage=2.5)
    assert al.batch_schedule(cfg, 1000) == (30, 25, 25, 20)
    assert al.next_batch_size(cfg, total_items=1000, round_index=1, labels_bought=30, pool_remaining=7) == 7
    assert al.batch_schedule(config(max_rounds=2, initial_batch_sample_percentage=1), 1000) == (10, 50)


def rounds(cfg, metrics, batch=10):
    records = []
    for i, m in enumerate(metrics):
        records.append(
            al.next_round_record(
                cfg, records, chosen_ids=[f"r{i}-{j}" for j in range(batch)], metric_value=m, strategy="margin"
            )
        )
    return records


def test_round_records_accumulate_labels_and_spend():
    cfg = config(cost_per_label=0.08)
    records = rounds(cfg, [0.5, None, 0.7])
    assert [r.labels_total for r in records] == [10, 20, 30]
    assert records[-1].spend == pytest.approx(0.8) and records[-1].spend_total == pytest.approx(2.4)
    assert al.learning_curve(records).labels == (10, 30)


@pytest.mark.parametrize(
    ("cfg", "metrics", "pool_remaining", "reason"),
    [
        (config(max_data_item_count=30), [0.1, 0.2, 0.3], 100, "budget_exhausted"),
        (config(), [0.1, 0.2], 0, "pool_exhausted"),
        (config(target_metric=0.9), [0.5, 0.91], 100, "target_reached"),
        (config(plateau_rounds=2, plateau_min_improvement=0.01), [0.5, 0.8, 0.805, 0.809], 100, "plateau"),
        (config(max_rounds=3, plateau_rounds=0), [0.1, 0.2, 0.3], 100, "max_rounds"),
        (config(plateau_rounds=2, plateau_min_improvement=0.01), [0.5, 0.8, 0.805, 0.82], 100, ""),
    ],
)
def test_stopping_rules(cfg, metrics, pool_remaining, reason):
    decision = al.stop_decision(cfg, rounds(cfg, metrics), total_items=1000, pool_remaining=pool_remaining)
    assert (decision.stop, decision.reason) == (bool(reason), reason)


def test_labels_to_reach():
    curve = al.LearningCurve("margin", (10, 20, 30), (0.5, 0.91, 0.89))
    assert al.labels_to_reach(curve, 0.9) == 20 and al.labels_to_reach(curve, 0.95) is None


def test_records_persist_and_the_report_embeds_the_curve(tmp_path):
    cfg = config()
    records = rounds(cfg, [0.5, 0.7, 0.8])
    path = str(tmp_path / "rounds.jsonl")
    al.write_round_records(path, records)
    assert al.read_round_records(path) == records
    baseline = al.LearningCurve("random", (10, 20, 30), (0.4, 0.5, 0.6))
    page = learning_curve_report.render_html(records, baseline=baseline, stop_reason="plateau")
    assert page.count("data:image/png;base64,iVBOR") == 1 and page.count("<tr><td>") == 3


def test_a_corrupt_round_file_names_its_line(tmp_path):
    path = tmp_path / "rounds.jsonl"
    path.write_text('{"round_index": 0}\n')
    with pytest.raises(ValueError, match="rounds.jsonl:1: not a round record"):
        al.read_round_records(str(path))


def _records(strategy, points):
    config = al.ActiveLearningConfig(max_data_item_count=1000, cost_per_label=0.1)
    records = []
    for labels, metric in points:
        chosen = [f"x{i}" for i in range(labels - (records[-1].labels_total if records else 0))]
        records.append(al.next_round_record(config, records, chosen_ids=chosen, metric_value=metric, strategy=strategy))
    return records


def test_curve_band_gives_mean_and_spread_on_the_union_of_label_counts():
    a = al.LearningCurve("m", (10, 20, 30), (0.5, 0.7, 0.8))
    b = al.LearningCurve("m", (10, 25), (0.6, 0.9))
    band = al.curve_band([a, b])
    assert band.labels == (10, 20, 25, 30)
    assert band.mean == pytest.approx((0.55, 0.65, 0.8, 0.85))
    assert band.low == pytest.approx((0.5, 0.6, 0.7, 0.8)) and band.high == pytest.approx((0.6, 0.7, 0.9, 0.9))
    assert band.runs == 2 and band.std[0] == pytest.approx(0.05)


def test_label_saving_compares_strategies_from_round_records_over_seeds():
    active = [_records("margin_diverse", [(10, 0.6), (20, 0.85), (30, 0.9)]) for _ in range(3)]
    random = [_records("random", [(10, 0.6), (20, 0.7), (30, 0.8), (40, 0.85), (50, 0.9)]) for _ in range(3)]
    saving, band, baseline = al.label_saving(active, random)
    assert saving.target == pytest.approx(0.9)
    assert (saving.labels, saving.baseline_labels) == (30, 50)
    assert saving.saving == pytest.approx(0.4)
    assert saving.per_seed == ((30, 50),) * 3
    assert "40% fewer labels" in saving.sentence()
    assert band.strategy == "margin_diverse" and baseline.labels[-1] == 50
    never = al.label_saving(random, active, target=0.95)[0]
    assert never.labels is None and "did not reach" in never.sentence()
