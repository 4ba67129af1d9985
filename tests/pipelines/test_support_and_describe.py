"""``labelloop describe``, ``run PIPELINE --help``, the up-front refusals and ``sample-data``."""

from __future__ import annotations

import io
import json

import pytest
from labelloop.components.core import manifest as mf
from labelloop.components.core import sample_runs
from labelloop.pipelines import discovery, parameters, support
from labelloop.pipelines.cli import main


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), environ={}, out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", sorted(discovery.discover()))
def test_describe_lists_every_parameter_with_type_default_and_description(name):
    code, out, _ = cli("describe", name)
    assert code == 0
    spec = parameters.compiled_spec(name)
    declared = spec["root"]["inputDefinitions"]["parameters"]
    assert declared, name
    for parameter, entry in declared.items():
        line = next(line for line in out.splitlines() if line.startswith(f"  {parameter}  ("))
        assert ("required" in line) == (not entry.get("isOptional", False)), line
        first_words = " ".join(entry["description"].split()[:4])
        assert first_words in " ".join(out.split()), (parameter, first_words)


def test_describe_shows_integers_as_integers_and_empty_strings_quoted():
    _, out, _ = cli("describe", "curate")
    assert "  hamming_threshold  (integer, default: 8)" in out
    assert '  target_column  (string, default: "")' in out
    assert "  source_uri  (string, required)" in out


def test_run_help_lists_the_pipelines_parameters(capsys):
    assert cli("run", "curate", "--help")[0] == 0
    shown = capsys.readouterr().out
    assert "--param KEY=VALUE" in shown and "target_column  (string" in shown and "group_column" in shown


def test_run_help_of_an_unknown_pipeline_is_a_usage_error(capsys):
    assert cli("run", "nope", "--help")[0] == 2
    assert "known pipelines" in capsys.readouterr().err


@pytest.mark.parametrize(
    "pipeline, values, message",
    [
        ("active-learning", {"data_type": "tabular", "task": "tabular_regression"}, "versioned as classes"),
        ("retrain", {"data_type": "tabular", "task": "tabular_regression"}, "does not support tabular regression"),
        ("active-learning-round", {"task": "tabular_regression"}, "does not support tabular regression"),
        (
            "retrain",
            {"data_type": "tabular", "task": "tabular_classification", "labeling_backend": "none", "target_column": ""},
            "needs --param target_column",
        ),
        ("active-learning", {"data_type": "text", "task": "image_classification"}, "task=text_classification"),
        ("retrain", {"data_type": "image", "task": "text_classification"}, "task=image_classification"),
        ("train", {"task": "tabular_classification", "target_column": ""}, "needs --param target_column"),
        ("train", {"task": "image_segmentation"}, "unknown task"),
        ("curate", {"data_type": "text", "target_column": "label"}, "target_column applies to tables"),
        ("curate", {"data_type": "tabular", "split_method": "chronological", "time_field": ""}, "needs --param time_"),
        ("curate", {"data_type": "tabular", "split_method": "random", "time_field": "year"}, "only by split_method"),
        ("curate", {"data_type": "image", "split_method": "random", "group_column": "g"}, "group_column applies"),
        ("active-learning", {"labeling_backend": "simulated", "ground_truth_uri": ""}, "needs --param ground_truth"),
        ("active-learning", {"labeling_backend": "none"}, "is not one of label_studio, simulated"),
        (
            "train",
            {
                "task": "tabular_regression",
                "target_column": "y",
                "gate_config": '{"value_thresholds": {"accuracy": {}}}',
            },
            "has no metric(s) accuracy",
        ),
        ("train", {"task": "text_classification", "gate_config": '{"change_thresholds": {"rmse": {}}}'}, "not rmse"),
        ("verify-labels", {"data_type": "tabular", "task": "tabular_classification"}, "does not support tables"),
        ("verify-labels", {"data_type": "image", "task": "image_multilabel"}, "single-label classification only"),
        ("verify-labels", {"data_type": "image", "task": "text_classification"}, "pass --param data_type=text"),
        ("verify-labels", {"task": "image_classification", "labeling_backend": "none"}, "is not one of"),
        ("verify-labels", {"task": "image_classification", "labeling_backend": "simulated"}, "needs --param ground"),
    ],
)
def test_unsupported_runs_are_refused_with_what_to_use_instead(pipeline, values, message):
    found = support.problems(pipeline, values)
    assert found and message in found[0], found


@pytest.mark.parametrize(
    "pipeline, values",
    [
        ("curate", {"data_type": "tabular", "target_column": "y", "split_method": "stratified", "time_field": ""}),
        ("curate", {"data_type": "tabular", "split_method": "chronological", "time_field": "t", "group_column": "g"}),
        ("train", {"task": "tabular_regression", "target_column": "price", "gate_config": support.REGRESSION_GATE}),
        ("active-learning", {"data_type": "text", "task": "text_classification", "labeling_backend": "label_studio"}),
        ("retrain", {"data_type": "image", "task": "image_multilabel", "labeling_backend": "none"}),
        ("active-learning", {"data_type": "tabular", "task": "tabular_classification"}),
        ("active-learning-round", {"task": "tabular_classification"}),
        (
            "retrain",
            {
                "data_type": "tabular",
                "task": "tabular_classification",
                "labeling_backend": "none",
                "target_column": "y",
            },
        ),
        ("verify-labels", {"data_type": "text", "task": "text_classification", "labeling_backend": "label_studio"}),
    ],
)
def test_supported_runs_pass(pipeline, values):
    assert support.problems(pipeline, values) == []


def test_a_table_retrain_on_vertex_is_refused_naming_the_local_run():
    values = {
        "data_type": "tabular",
        "task": "tabular_classification",
        "labeling_backend": "none",
        "target_column": "y",
    }
    (found,) = support.problems("retrain", values, target="vertex")
    assert "labelloop run retrain --local" in found
    assert (
        support.problems(
            "active-learning", {**values, "labeling_backend": "simulated", "ground_truth_uri": "t"}, target="vertex"
        )
        == []
    )


def test_the_defaults_of_every_pipeline_are_supported():
    for name in discovery.discover():
        declared = parameters.compiled_spec(name)["root"]["inputDefinitions"]["parameters"]
        assert support.problems(name, support.with_defaults({}, declared)) == [], name


def test_a_refused_run_exits_2_before_any_step(tmp_path):
    root = tmp_path / "root"
    code, _, err = cli(
        "run",
        "active-learning",
        "--local",
        "--pipeline-root",
        str(root),
        *("--param", "source_uri=x.jsonl", "--param", "labeling_job_spec={}", "--param", f"store_uri={tmp_path}/s"),
        *("--param", f"annotation_store_uri={tmp_path}/a", "--param", f"registry_uri={tmp_path}/r"),
        *("--param", "data_type=text"),
    )
    assert code == 2
    assert "task 'image_classification' learns from image data but data_type is 'text'" in err
    assert not root.exists()


def test_sample_data_writes_a_table_and_says_how_to_run_it(tmp_path):
    code, out, _ = cli("sample-data", "wine", "--out", str(tmp_path), "--items", "60")
    assert code == 0
    assert "labelloop run curate --local" in out and "target_column=cultivar" in out
    assert "labelloop run active-learning --local" in out and "data_type=tabular" in out
    import pandas as pd

    table = pd.read_csv(tmp_path / "wine.csv")
    assert len(table) == 60 and {"cultivar", "vintage", "estate"} <= set(table.columns)
    assert table["cultivar"].nunique() == 3


def test_sample_text_ground_truth_is_keyed_by_the_ids_import_gives():
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        sample = sample_runs.write_sample("bbc-news", folder, items=40)
        items = {mf.item_id(r): r for r in mf.read_jsonl(sample.unlabeled_uri)}
        truth = [json.loads(line) for line in open(sample.ground_truth_uri)]
        assert {t["id"] for t in truth} == set(items) and len(items) == 40
        assert all("classificationAnnotation" not in r for r in items.values())  # unlabeled
        assert {t["label"] for t in truth} == set(sample.labels) and len(sample.labels) == 5


def test_sample_table_ground_truth_is_keyed_by_the_ids_import_gives(tmp_path):
    from labelloop.components.core import import_data

    sample = sample_runs.write_sample("wine", str(tmp_path / "wine"), items=45)
    options = import_data.options_from(sample.unlabeled_uri, "tabular", allowed_uri_schemes=["file"], table_items=True)
    result = import_data.import_items(options, str(tmp_path / "items"), str(tmp_path / "rejects"), step="test")
    items = {mf.item_id(r): r for r in mf.read_jsonl(str(tmp_path / "items"))}
    truth = {t["id"]: t["label"] for t in mf.read_jsonl(sample.ground_truth_uri)}
    assert result.kept == 45 and set(truth) == set(items)
    assert all("classificationAnnotation" not in r and "cultivar" not in r["tableRow"] for r in items.values())
    assert set(truth.values()) == set(sample.labels) and len(sample.labels) == 3
