"""Component tests (``.python_func``) for the wrappers that had none: record_round, plan_labeling,
checkout_dataset, merge_labels, partition_items, get_artifact_uri, keep_champion, deploy_model,
build_run_report."""

import json

import pytest
from kfp import dsl
from labelloop.components.build_run_report import build_run_report
from labelloop.components.checkout_dataset import checkout_dataset
from labelloop.components.core import active_learning as al
from labelloop.components.core import versions
from labelloop.components.core.manifest import content_id, read_jsonl, with_id, with_label, with_ml_use, write_jsonl
from labelloop.components.core.registry import ModelRegistry
from labelloop.components.core.sampling import resolve_strategy
from labelloop.components.deploy_model import deploy_model
from labelloop.components.get_artifact_uri import get_artifact_uri
from labelloop.components.keep_champion import keep_champion
from labelloop.components.merge_labels import merge_labels
from labelloop.components.partition_items import partition_items
from labelloop.components.plan_labeling import plan_labeling
from labelloop.components.record_round import record_round

CONFIG = json.dumps(
    {
        "max_data_item_count": 10,
        "initial_batch_sample_percentage": 10,
        "following_batch_sample_percentage": 10,
        "max_rounds": 3,
        "cost_per_label": 0.5,
    }
)


def item(text, *, label=None, ml_use="training"):
    record = with_ml_use(with_id({"textContent": text}, content_id(text)), ml_use)
    return with_label(record, label, source="human") if label else record


def artifact(tmp_path, name, records=None, cls=dsl.Dataset):
    made = cls(name=name, uri=str(tmp_path / name), metadata={})
    if records is not None:
        write_jsonl(made.path, records)
    return made


def round_outputs(tmp_path, name):
    return {
        "rounds": artifact(tmp_path, f"{name}-rounds"),
        "report": artifact(tmp_path, f"{name}-report", cls=dsl.HTML),
    }


def test_record_round_appends_records_fills_the_metric_and_sizes_the_next_batch(tmp_path):
    chosen = [item(f"t{i}") for i in range(4)]
    first = round_outputs(tmp_path, "r0")
    size = record_round.python_func(
        selected=artifact(tmp_path, "sel0", chosen[:2]),
        config_json=CONFIG,
        total_items=40,
        pool_remaining=30,
        strategy="cold_start",
        **first,
    )
    assert size == 4  # 10% of 40, within the 10-item budget (2 bought)
    assert first["rounds"].metadata == {
        "rounds": 1,
        "labels_total": 2,
        "spend_total": 1.0,
        "stop": False,
        "reason": "",
    }
    evaluation = artifact(tmp_path, "eval", cls=dsl.Metrics)
    evaluation.metadata["accuracy"] = 0.75
    second = round_outputs(tmp_path, "r1")
    size = record_round.python_func(
        selected=artifact(tmp_path, "sel1", chosen[2:]),
        config_json=CONFIG,
        total_items=40,
        remaining=artifact(tmp_path, "rest", [item(f"r{i}") for i in range(5)]),
        previous_rounds=first["rounds"],
        evaluation=evaluation,
        strategy="margin",
        **second,
    )
    history = al.read_round_records(second["rounds"].path)
    assert [r.labels_total for r in history] == [2, 4] and history[0].metric_value == 0.75
    page = open(second["report"].path).read()
    assert size == 4 and "margin" in page and "cold_start" in page  # one row per round


def test_record_round_stops_at_max_rounds_and_keeps_its_state_in_the_store(tmp_path):
    store = str(tmp_path / "store")
    write_jsonl(str(tmp_path / "m.jsonl"), [item("a")])
    versions.create_version(store, "d", str(tmp_path / "m.jsonl"))
    sizes = []
    for index in range(3):
        sizes.append(
            record_round.python_func(
                selected=artifact(tmp_path, f"s{index}", [item(f"x{index}")]),
                config_json=CONFIG,
                total_items=40,
                pool_remaining=20,
                strategy="margin",
                store_uri=store,
                dataset_name="d",
                **round_outputs(tmp_path, f"o{index}"),
            )
        )
    assert sizes[-1] == 0 and all(s > 0 for s in sizes[:-1])
    stored = al.rounds_from_state(versions.read_state(store, "d").values)
    assert [r.round_index for r in stored] == [0, 1, 2]


def test_record_round_needs_a_pool_count(tmp_path):
    with pytest.raises(ValueError, match="give pool_remaining or the remaining manifest"):
        record_round.python_func(
            selected=artifact(tmp_path, "s", [item("a")]),
            config_json=CONFIG,
            total_items=4,
            **round_outputs(tmp_path, "o"),
        )


def test_plan_labeling_resolves_the_strategy_and_the_budget():
    plan = plan_labeling.python_func(config_json=CONFIG, total_items=40, rounds_in_graph=3)
    assert plan.human_label_budget == 10 and plan.initial_batch_size == 4 and plan.max_rounds == 3
    assert plan.strategy != "UNCERTAINTY"  # resolved to a concrete strategy


def test_checkout_merge_and_partition(tmp_path):
    store = str(tmp_path / "store")
    records = [item("a", label="x"), item("b"), item("c", ml_use="test"), item("d", label="y", ml_use="test")]
    write_jsonl(str(tmp_path / "v1.jsonl"), records)
    created = versions.create_version(store, "d", str(tmp_path / "v1.jsonl"))
    out = artifact(tmp_path, "checked")
    got = checkout_dataset.python_func(store_uri=store, dataset_name="d", items=out)
    assert got.version_id == created.version.version_id and got.item_count == 4
    assert out.metadata["item_count"] == 4 and len(list(read_jsonl(out.path))) == 4

    pool, pending = artifact(tmp_path, "pool"), artifact(tmp_path, "pending")
    parts = partition_items.python_func(items=out, pool=pool, evaluation_pending=pending)
    assert (parts.total, parts.labeled, parts.pool_size, parts.evaluation_pending_size) == (4, 2, 1, 1)
    assert pool.metadata["item_count"] == 1 and pending.metadata["item_count"] == 1

    merged = artifact(tmp_path, "merged")
    result = merge_labels.python_func(
        items=out, labeled=artifact(tmp_path, "new", [item("b", label="x")]), merged=merged
    )
    assert result.replaced == 1 and merged.metadata["item_count"] == 4
    assert [r["textContent"] for r in read_jsonl(merged.path)] == ["a", "b", "c", "d"]


def test_get_artifact_uri_keep_champion_and_deploy_model(tmp_path, trained_model):
    _, model = trained_model(tmp_path)
    assert get_artifact_uri.python_func(artifact=model).uri == model.uri
    registry_uri = str(tmp_path / "registry")
    assert keep_champion.python_func(registry_uri=registry_uri, model_name="m").version == ""
    assert keep_champion.python_func(registry_uri="", model_name="m").version == ""
    registry = ModelRegistry(registry_uri)
    version = registry.register("m", model.path, {}).version
    registry.promote("m", version, alias="champion")
    assert keep_champion.python_func(registry_uri=registry_uri, model_name="m").version == version
    served = deploy_model.python_func(registry_uri=registry_uri, model_name="m", version=version)
    assert registry.alias("m", "serving") == version and served.serving_uri == registry.get("m", version).uri


def test_build_run_report_renders_the_core_report_from_artifacts_and_stores(tmp_path):
    import os
    import sys
    from pathlib import Path

    from labelloop.components.core.annotation_store import AnnotationStore

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
    from run_report_data import build_scenario

    scenario = build_scenario(str(tmp_path / "scenario"), digits=150)
    given = scenario.inputs
    store = AnnotationStore(str(tmp_path / "annotations"))
    store.append_annotations(given.annotations)
    for entry in given.ledger:
        store.append_ledger(entry)

    def metrics(name, values, cls=dsl.Metrics):
        made = artifact(tmp_path, name, cls=cls)
        made.metadata.update(values)
        return made

    def dataset(name, path):
        return dsl.Dataset(name=name, uri=path, metadata={})

    blessing = metrics("blessing", {"reasons": list(given.gate_reasons)}, cls=dsl.Artifact)
    report, summary = artifact(tmp_path, "report.html", cls=dsl.HTML), artifact(tmp_path, "m", cls=dsl.Metrics)
    config = json.dumps(
        {"max_data_item_percentage": 30, "initial_batch_sample_percentage": 5, "following_batch_sample_percentage": 5}
    )
    build_run_report.python_func(
        import_metrics=metrics("import", given.import_metrics),
        import_rejects=dataset("import_rejects", given.import_rejects),
        prefilter_metrics=metrics("prefilter", given.prefilter_metrics),
        prefilter_kept=dataset("kept", given.prefilter_kept),
        prefilter_rejects=dataset("rejects", given.prefilter_rejects),
        evaluation=metrics("evaluation", given.evaluation),
        classification_metrics=metrics("cm", given.classification_metrics, cls=dsl.ClassificationMetrics),
        machine_labels=metrics("machine", given.machine_label_metrics),
        items=dataset("final", given.dataset),
        blessed=bool(given.blessed),
        blessing=blessing,
        champion_version="1",
        report=report,
        metrics=summary,
        annotation_store_uri=str(tmp_path / "annotations"),
        active_learning_config=config,
        ground_truth_uri=os.path.join(scenario.folder, "raw", "ground_truth.jsonl"),
        comparison_seeds=2,
    )
    page = open(report.path, encoding="utf-8").read()
    assert "<iframe" not in page and str(tmp_path) not in page
    assert page.count("<img") > 10 and page.count('src="data:image/') == page.count("<img")  # all embedded
    assert 'id="learning"' in page and "Measured in this run" in page and "random sampling" in page
    paid = sum(e.cost_usd for e in given.ledger)
    assert summary.metadata["labeling spend (USD)"] == round(paid, 2)
    assert summary.metadata["labels to reach it: random"] > 0
    assert f"labels to reach it: {resolve_strategy('UNCERTAINTY')}" in summary.metadata  # the default, resolved
    assert summary.metadata["blessed"] is given.blessed and summary.metadata["champion_version"] == "1"
