"""Every data type through every pipeline, run through the CLI as a user types it.

{image (digits), text (BBC News), tabular (wine)} × {curate, train, active-learning with the
simulated crowd (+ one active-learning-round), retrain}, on small real data written by
``labelloop sample-data``, each cell asserting what the run produced: item counts, splits, a
registered and served model version, dataset versions, the run report. Tables reach active
learning, its rounds and retrain as JSONL row items (``table_items``), labeled by the same crowd;
tabular regression is refused up front there (exit 2, nothing run): labels are classes.

Runs ``labelloop.pipelines.cli.main`` in-process with exactly the arguments a user would type.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from labelloop.components.core import active_learning, sample_runs, versions
from labelloop.components.core import manifest as mf
from labelloop.components.core.registry import ModelRegistry
from labelloop.pipelines import support
from labelloop.pipelines.cli import main

pytestmark = pytest.mark.slow

ITEMS = {"digits": 80, "bbc-news": 80, "wine": 120}
KINDS = {"image": "digits", "text": "bbc-news", "tabular": "wine"}
BUDGET = "3"
#: 80 items leave ~8 test items: the gate's default floor (accuracy 0.5) would make a cell flaky.
LENIENT_GATE = json.dumps({"value_thresholds": {"accuracy": {"lower_bound": 0.2}}})


def labelloop(*argv: str, root: Path) -> tuple[int, str, str]:
    """``labelloop ARGV --pipeline-root ROOT`` in-process; returns exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--pipeline-root", str(root)], environ={}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def params(**values) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--param", f"{name}={value}")]


def run_folder(stdout: str) -> Path:
    return Path(re.search(r"run folder: (\S+)", stdout).group(1))


def step_metrics(run: Path, step: str, output: str = "metrics") -> dict:
    """The metadata a step logged on ``output`` (kfp.local keeps it in the step's executor output)."""
    executor = json.loads((run / step / "executor_output.json").read_text())
    return executor["artifacts"][output]["artifacts"][0]["metadata"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    return {name: sample_runs.write_sample(name, str(folder / name), items=n) for name, n in ITEMS.items()}


@pytest.fixture(scope="module")
def curated(samples, tmp_path_factory):
    """``labelloop run curate`` on each data type's labeled form: (run folder, stdout) per data type."""
    root = tmp_path_factory.mktemp("curate-root")
    found = {}
    for kind, name in KINDS.items():
        sample = samples[name]
        extra = {"target_column": sample.target_column} if kind == "tabular" else {}
        hamming = {"hamming_threshold": 4} if kind == "image" else {}
        code, out, err = labelloop(
            "run",
            "curate",
            "--local",
            *params(source_uri=sample.labeled_uri, data_type=kind, **extra, **hamming),
            root=root / kind,
        )
        assert code == 0, err
        found[kind] = run_folder(out)
    return found


def _split_items(run: Path, kind: str) -> tuple[int, dict]:
    path = run / "split-dataset" / "split"
    if kind == "tabular":
        table = pd.read_csv(path)
        return len(table), table["ml_use"].value_counts().to_dict()
    records = list(mf.read_jsonl(str(path)))
    counts: dict = {}
    for record in records:
        counts[mf.ml_use_of(record)] = counts.get(mf.ml_use_of(record), 0) + 1
    return len(records), counts


@pytest.mark.parametrize("kind", list(KINDS))
def test_curate(kind, samples, curated):
    sample, run = samples[KINDS[kind]], curated[kind]
    imported = step_metrics(run, "import-dataset")
    prefiltered = step_metrics(run, "prefilter-images")
    kept, by_split = _split_items(run, kind)
    assert imported["items_total"] == sample.items
    assert imported["items_kept"] + imported["items_rejected"] == sample.items
    assert prefiltered["items"] == imported["items_kept"]
    rejected_by_prefilter = sum(v for k, v in prefiltered.items() if k.startswith("rejected_"))
    assert kept == prefiltered["kept"] == imported["items_kept"] - rejected_by_prefilter  # nothing lost
    assert set(by_split) == {"training", "validation", "test"} and by_split["training"] > by_split["test"]
    if kind == "tabular":
        assert prefiltered["passed_through"] == kept == sample.items  # the table is not read as JSONL
        table = pd.read_csv(run / "split-dataset" / "split")
        test_labels = set(table.loc[table["ml_use"] == "test", sample.target_column])
        assert test_labels == set(sample.labels)  # stratified by the target column
    else:
        assert kept >= 0.9 * sample.items


def test_curate_table_split_by_time_and_by_group(samples, tmp_path):
    sample = samples["wine"]
    common = dict(source_uri=sample.labeled_uri, data_type="tabular", target_column=sample.target_column)
    code, out, err = labelloop(
        "run",
        "curate",
        "--local",
        *params(**common, split_method="chronological", time_field="vintage"),
        root=tmp_path / "time",
    )
    assert code == 0, err
    table = pd.read_csv(run_folder(out) / "split-dataset" / "split")
    years = table.groupby("ml_use")["vintage"]
    assert years.max()["training"] <= years.min()["validation"] <= years.max()["validation"] <= years.min()["test"]
    code, out, err = labelloop(
        "run", "curate", "--local", *params(**common, split_method="random", group_column="estate"), root=tmp_path / "g"
    )
    assert code == 0, err
    table = pd.read_csv(run_folder(out) / "split-dataset" / "split")
    assert (table.groupby("estate")["ml_use"].nunique() == 1).all()  # no estate straddles two splits
    assert table["ml_use"].nunique() == 3


@pytest.mark.parametrize("kind", list(KINDS))
def test_train(kind, samples, curated, tmp_path):
    sample = samples[KINDS[kind]]
    split = curated[kind] / "split-dataset" / "split"
    registry = tmp_path / "registry"
    extra = {"target_column": sample.target_column} if kind == "tabular" else {}
    code, out, err = labelloop(
        "run",
        "train",
        "--local",
        *params(
            dataset_uri=split, task=sample.task, registry_uri=registry, model_name=sample.name, budget_seconds=BUDGET
        ),
        *params(**extra),
        root=tmp_path / "root",
    )
    assert code == 0, err
    run = run_folder(out)
    evaluation = step_metrics(run, "evaluate-model")
    assert 0.0 <= evaluation["accuracy"] <= 1.0
    kept, by_split = _split_items(curated[kind], kind)
    assert evaluation.get("test_items", by_split["test"]) == by_split["test"]
    models = ModelRegistry(str(registry))
    assert models.versions(sample.name) == ["1"]
    assert models.alias(sample.name, "champion") == "1"


def test_train_tabular_regression(samples, curated, tmp_path):
    split, registry = curated["tabular"] / "split-dataset" / "split", tmp_path / "registry"
    common = dict(dataset_uri=split, task="tabular_regression", target_column="alcohol", registry_uri=registry)
    code, _, err = labelloop("run", "train", "--local", *params(**common), root=tmp_path / "refused")
    assert code == 2 and "regression metrics: mae, rmse, r2" in err  # the default gate scores accuracy
    gate = json.dumps(support.REGRESSION_GATE)
    code, out, err = labelloop(
        "run",
        "train",
        "--local",
        *params(**common, gate_config=gate, budget_seconds=BUDGET, model_name="alcohol"),
        root=tmp_path / "root",
    )
    assert code == 0, err
    evaluation = step_metrics(run_folder(out), "evaluate-model")
    assert {"mae", "rmse", "r2"} <= set(evaluation) and evaluation["r2"] > 0.0
    assert ModelRegistry(str(registry)).versions("alcohol") == ["1"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_active_learning_with_the_simulated_crowd_then_one_more_round(kind, samples, tmp_path):
    sample = samples[KINDS[kind]]
    state = tmp_path / "state"
    values = sample_runs.active_learning_params(sample, state=str(state))
    code, out, err = labelloop(
        "run",
        "active-learning",
        "--local",
        *params(**{**values, "round_budget_seconds": 2, "final_budget_seconds": BUDGET, "gate_config": LENIENT_GATE}),
        root=tmp_path / "root",
    )
    assert code == 0, err
    run = run_folder(out)
    summary = step_metrics(run, "build-run-report")
    assert summary["raw items"] == sample.items
    assert summary["active-learning rounds"] >= 2
    assert 0 < summary["human labels bought (pool)"] <= 0.3 * sample.items + 1
    assert (
        summary["items labeled by human"] + summary["machine-labeled items"] + summary["items left unlabeled"]
        == (summary["items in final dataset"])
    )
    assert summary["blessed"] is True and summary["champion_version"] == "1"
    report = (run / "build-run-report" / "report").read_text()
    assert len(report) > 5_000 and "Promotion gate" in report
    registry, model = ModelRegistry(values["registry_uri"]), sample.name + "-classifier"
    assert registry.versions(model) == ["1"] and registry.alias(model, "serving") == "1"
    store = values["store_uri"]
    assert len(versions.list_versions(store, sample.name)) >= 4  # curated, evaluation, cold start, rounds, final
    rounds_before = active_learning.rounds_from_state(versions.read_state(store, sample.name).values)

    code, out, err = labelloop(
        "run",
        "active-learning-round",
        "--local",
        *params(
            store_uri=store,
            dataset_name=sample.name,
            annotation_store_uri=values["annotation_store_uri"],
            labeling_job_spec=values["labeling_job_spec"],
            task=sample.task,
            batch_size=4,
            labeling_backend="simulated",
            ground_truth_uri=sample.ground_truth_uri,
            simulated_crowd=values["simulated_crowd"],
            active_learning_config=values["active_learning_config"],
            round_budget_seconds=2,
        ),
        root=tmp_path / "root",
    )
    assert code == 0, err
    rounds_after = active_learning.rounds_from_state(versions.read_state(store, sample.name).values)
    assert len(rounds_after) == len(rounds_before) + 1 and rounds_after[-1].labels_bought == 4
    latest = versions.get_version(store, sample.name, "latest")
    human = [r for r in mf.read_jsonl(latest.manifest_uri) if mf.label_source_of(r) == "human"]
    truth = {r["id"]: r["label"] for r in mf.read_jsonl(sample.ground_truth_uri)}
    assert latest.item_count == summary["items in final dataset"]
    right = sum(mf.label_of(r) == truth[mf.item_id(r)] for r in human)
    assert right >= 0.6 * len(human) > 0  # the crowd's consensus (chance: 1 in 3 to 10)
    if kind == "tabular":  # rows travel as row items: every column kept, the label out of the row
        first = next(iter(mf.read_jsonl(latest.manifest_uri)))
        assert set(first["tableRow"]) == set(pd.read_csv(sample.unlabeled_uri).columns)
        assert isinstance(first["tableRow"]["alcohol"], float) and isinstance(first["tableRow"]["estate"], str)


@pytest.mark.parametrize("kind", list(KINDS))
def test_retrain(kind, samples, tmp_path):
    sample = samples[KINDS[kind]]
    registry, store = tmp_path / "registry", tmp_path / "store"
    argv = [
        "run",
        "retrain",
        "--local",
        *params(
            source_uri=sample.labeled_uri,
            data_type=kind,
            task=sample.task,
            store_uri=store,
            registry_uri=registry,
            dataset_name=sample.name,
            model_name=sample.name,
            budget_seconds=BUDGET,
        ),
        *(params(hamming_threshold=4) if kind == "image" else []),
        *(params(target_column=sample.target_column) if kind == "tabular" else []),
    ]
    code, out, err = labelloop(*argv, root=tmp_path / "root")
    assert code == 0, err
    report = step_metrics(run_folder(out), "evaluate-model")
    assert report["test_items"] > 0 and 0.0 <= report["accuracy"] <= 1.0
    dataset = versions.get_version(str(store), sample.name, "latest")
    assert dataset.item_count >= 0.9 * sample.items
    models = ModelRegistry(str(registry))
    assert models.versions(sample.name) == ["1"] and models.alias(sample.name, "champion") == "1"
    assert models.get(sample.name, "1").lineage.get("dataset_version") == dataset.version_id


@pytest.mark.parametrize("pipeline", ["active-learning", "retrain", "active-learning-round"])
def test_tabular_regression_is_refused_up_front_by_the_labeling_pipelines(pipeline, samples, tmp_path):
    sample = samples["wine"]
    state = tmp_path / "state"
    common = dict(store_uri=state / "v", annotation_store_uri=state / "a", task="tabular_regression")
    values = {
        "active-learning": dict(
            source_uri=sample.unlabeled_uri, data_type="tabular", labeling_job_spec="{}", registry_uri=state / "r"
        ),
        "retrain": dict(
            source_uri=sample.labeled_uri, data_type="tabular", registry_uri=state / "r", target_column="alcohol"
        ),
        "active-learning-round": dict(dataset_name="wine", labeling_job_spec="{}"),
    }[pipeline]
    code, out, err = labelloop("run", pipeline, "--local", *params(**common, **values), root=tmp_path / "root")
    assert code == 2
    assert f"{pipeline} does not support tabular regression" in err and "labelloop run train" in err
    assert not (tmp_path / "root").exists() and not state.exists()  # refused before any step ran
    assert os.listdir(tmp_path) == []


def test_verify_labels_refuses_tables_up_front(samples, tmp_path):
    sample = samples["wine"]
    state = tmp_path / "state"
    values = dict(
        source_uri=sample.labeled_uri,
        data_type="tabular",
        task="tabular_classification",
        labeling_job_spec="{}",
        store_uri=state / "v",
        annotation_store_uri=state / "a",
    )
    code, out, err = labelloop("run", "verify-labels", "--local", *params(**values), root=tmp_path / "root")
    assert code == 2
    assert "verify-labels does not support tables" in err and "labelloop run train" in err
    assert not (tmp_path / "root").exists() and not state.exists()  # refused before any step ran


def test_sample_data_wine_compare_runs_active_learning_and_random_sampling_on_the_table(tmp_path):
    code, out, err = labelloop(
        "sample-data", "wine", "--out", str(tmp_path / "wine"), "--items", "60", "--compare", root=tmp_path / "root"
    )
    assert code == 0, err
    rows = {
        line.split("  ")[0].strip(): line.split()[-2:]
        for line in out.splitlines()
        if line.startswith(("human", "test"))
    }
    bought_active, bought_random = map(float, rows["human labels bought (pool)"])
    assert 0 < bought_active == bought_random  # the same label budget for both strategies
    assert all(0.0 <= float(v) <= 1.0 for v in rows["test accuracy"])
    for state in ("active", "random"):
        registry = ModelRegistry(str(tmp_path / "wine" / "state" / state / "registry"))
        assert registry.versions("wine-classifier") == ["1"]
