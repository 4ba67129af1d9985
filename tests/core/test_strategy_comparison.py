"""Active learning against random sampling on the same items (the run report's learning curves)."""

import json

import numpy as np
import pytest
from labelloop.components.core import strategy_comparison as sc
from labelloop.components.core.manifest import write_jsonl
from labelloop.components.core.sample_data import load_digits_images


@pytest.fixture(scope="module")
def digits():
    data = load_digits_images()
    x = data.images.reshape(len(data.images), -1).astype(np.float32) / 255.0
    y = np.array([str(v) for v in data.labels])
    return sc.ComparisonData(x[:1400], y[:1400], x[1400:], y[1400:])


def test_both_strategies_share_each_seeds_cold_start_and_follow_the_schedule(digits):
    runs = sc.compare(digits, strategy="margin", batch_sizes=(30, 40, 40, 40), seeds=(0, 1), cost_per_label=0.1)
    assert [(r.strategy, r.seed) for r in runs] == [("margin", 0), ("margin", 1), ("random", 0), ("random", 1)]
    by = {(r.strategy, r.seed): r.records for r in runs}
    for seed in (0, 1):
        assert by["margin", seed][0] == by["random", seed][0]  # same cold start, same first score
        assert [r.labels_total for r in by["margin", seed]] == [30, 70, 110, 150]
        assert by["margin", seed][-1].spend_total == pytest.approx(15.0)
    assert by["margin", 0][0].metric_value != by["margin", 1][0].metric_value  # seeds differ


def test_margin_needs_fewer_labels_than_random_on_digits(digits):
    runs = sc.compare(digits, strategy="margin", batch_sizes=(30,) + (30,) * 7, seeds=(0, 1, 2))
    final = {
        name: np.mean([r.records[-1].metric_value for r in runs if r.strategy == name]) for name in ("margin", "random")
    }
    assert final["margin"] > final["random"] + 0.01


def test_comparison_runs_read_the_final_manifest_and_ground_truth(tmp_path):
    from labelloop.components.core.demo_data import make_demo_data
    from labelloop.components.core.manifest import content_id, with_id, with_ml_use

    data = make_demo_data(str(tmp_path / "data"), limit=120, near_duplicates=0, blurred=0)
    truth = [json.loads(line) for line in open(data.ground_truth)]
    records = []
    for n, entry in enumerate(truth):
        path = next(p for p in (tmp_path / "data" / "images").iterdir() if content_id(p.read_bytes()) == entry["id"])
        use = "test" if n % 4 == 0 else "training"
        records.append(with_ml_use(with_id({"imageGcsUri": str(path)}, entry["id"]), use))
    items = str(tmp_path / "items.jsonl")
    write_jsonl(items, records)
    config = json.dumps(
        {
            "max_data_item_percentage": 40,
            "initial_batch_sample_percentage": 10,
            "following_batch_sample_percentage": 10,
            "sample_strategy": "margin",
        }
    )
    runs = sc.comparison_runs(items_path=items, ground_truth_uri=data.ground_truth, config_json=config, seeds=2)
    assert {r.strategy for r in runs} == {"margin", "random"} and len(runs) == 4
    assert [r.labels_total for r in runs[0].records] == [12, 24, 36, 48]
    assert sc.comparison_runs(items_path=items, ground_truth_uri="", config_json=config, seeds=2) == []
    write_jsonl(str(tmp_path / "bad.jsonl"), [{"label": "1"}])
    with pytest.raises(ValueError, match="needs 'id' and 'label'"):
        sc.comparison_runs(items_path=items, ground_truth_uri=str(tmp_path / "bad.jsonl"), config_json=config, seeds=1)
