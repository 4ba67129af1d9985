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


def test_build_run_report_writes_one_page_and_headline_metrics(tmp_path):
    def metrics(name, values):
        made = artifact(tmp_path, name, cls=dsl.Metrics)
        made.metadata.update(values)
        return made

    split_report = artifact(tmp_path, "split.html", cls=dsl.HTML)
    open(split_report.path, "w").write("<p>split table</p>")
    evaluation_report = artifact(tmp_path, "eval.html", cls=dsl.HTML)
    open(evaluation_report.path, "w").write("<p>confusion</p>")
    final = artifact(tmp_path, "final", [item("a", label="x")])
    final.metadata.update({"counts_by_label_source": {"human": 1}, "item_count": 1})
    blessing = artifact(tmp_path, "blessing", cls=dsl.Artifact)
    blessing.metadata["reasons"] = ["accuracy 0.9 >= 0.5"]
    report, summary = artifact(tmp_path, "report.html", cls=dsl.HTML), artifact(tmp_path, "m", cls=dsl.Metrics)
    build_run_report.python_func(
        import_stats=metrics("import", {"items_total": 3, "items_kept": 2}),
        prefilter_stats=metrics("prefilter", {"kept": 1, "rejected_blurry": 1}),
        split_report=split_report,
        evaluation=metrics("evaluation", {"accuracy": 0.9}),
        evaluation_report=evaluation_report,
        machine_labels=metrics("machine", {"machine_labeled_items": 0}),
        items=final,
        blessed=True,
        blessing=blessing,
        champion_version="1",
        report=report,
        metrics=summary,
    )
    page = open(report.path).read()
    assert "<h2>Promotion gate</h2>" in page and "split table" in page and "accuracy 0.9 &gt;= 0.5" in page
    assert summary.metadata["blessed"] is True and summary.metadata["champion_version"] == "1"
