"""labelloop's split as AutoML inputs, import file names and the managed dataset to reuse."""

import pytest
from google_cloud_pipeline_components.v1.automl.training_job import (
    AutoMLImageTrainingJobRunOp,
    AutoMLTabularTrainingJobRunOp,
)
from labelloop.components.core import manifest, vertex_data

IMAGE_SCHEMA = vertex_data.DATASET_METADATA_SCHEMAS["image"]


def test_filter_splits_select_each_ml_use_label_our_split_wrote():
    assert vertex_data.filter_split_inputs() == {
        "training_filter_split": "labels.aiplatform.googleapis.com/ml_use=training",
        "validation_filter_split": "labels.aiplatform.googleapis.com/ml_use=validation",
        "test_filter_split": "labels.aiplatform.googleapis.com/ml_use=test",
    }
    record = manifest.with_ml_use({"imageGcsUri": "gs://b/a.jpg"}, "test")
    key, value = vertex_data.ml_use_filter("test").removeprefix("labels.").split("=")
    assert record["dataItemResourceLabels"][key] == value


def test_the_inputs_are_real_parameters_of_the_installed_gcpc_ops():
    image_inputs = AutoMLImageTrainingJobRunOp.component_spec.inputs
    assert set(vertex_data.filter_split_inputs()) <= set(image_inputs)
    assert all(image_inputs[name].type == "String" for name in vertex_data.filter_split_inputs())
    assert set(vertex_data.tabular_split_inputs()) <= set(AutoMLTabularTrainingJobRunOp.component_spec.inputs)


def test_an_empty_validation_split_matches_nothing_and_empty_train_or_test_is_refused():
    assert vertex_data.filter_split_inputs(empty=["validation"])["validation_filter_split"] == "-"
    with pytest.raises(vertex_data.VertexDataError, match="the test split is empty.*evaluation the gate reads"):
        vertex_data.filter_split_inputs(empty=["test"])
    with pytest.raises(vertex_data.VertexDataError, match="the training split is empty"):
        vertex_data.filter_split_inputs(empty=["training"])
    with pytest.raises(vertex_data.VertexDataError, match="unknown split"):
        vertex_data.filter_split_inputs(empty=["train"])
    assert vertex_data.empty_splits({"training": 8, "test": 2}) == ["validation"]


def test_tabular_uses_the_ml_use_column():
    assert vertex_data.tabular_split_inputs() == {"predefined_split_column_name": "ml_use"}
    with pytest.raises(vertex_data.VertexDataError, match="split column name is empty"):
        vertex_data.tabular_split_inputs(column="")


def test_import_files_get_a_jsonl_name_and_must_be_on_cloud_storage():
    assert vertex_data.import_file_uri("gs://b/run/split-dataset/split") == "gs://b/run/split-dataset/split.jsonl"
    assert vertex_data.import_file_uri("gs://b/items.jsonl") == "gs://b/items.jsonl"
    with pytest.raises(vertex_data.VertexDataError, match="only from gs://"):
        vertex_data.import_file_uri("/tmp/items")


def info(name, display="curated", schema=IMAGE_SCHEMA, created="2030-01-01"):
    return vertex_data.DatasetInfo(name, display, schema, created)


def test_the_oldest_dataset_with_the_name_and_type_is_reused():
    older, newer = info("d/1", created="2029-01-01"), info("d/2")
    assert vertex_data.choose_dataset([newer, older], display_name="curated", metadata_schema_uri=IMAGE_SCHEMA) == older
    assert (
        vertex_data.choose_dataset([info("d/3", "x")], display_name="curated", metadata_schema_uri=IMAGE_SCHEMA) is None
    )
    text = info("d/4", schema=vertex_data.DATASET_METADATA_SCHEMAS["text"])
    with pytest.raises(vertex_data.VertexDataError, match="exists with schema .*text_1.0.0.yaml"):
        vertex_data.choose_dataset([text], display_name="curated", metadata_schema_uri=IMAGE_SCHEMA)
    with pytest.raises(vertex_data.VertexDataError, match="no managed dataset type for data type 'tabular'"):
        vertex_data.dataset_metadata_schema("tabular")
