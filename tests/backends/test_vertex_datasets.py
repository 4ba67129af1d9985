"""Managed datasets and the parent-model lookup, request by request, against the local fake Vertex."""

import json
import sys
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from labelloop.components.backends import vertex_datasets, vertex_registry
from labelloop.components.core import vertex_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_vertex import FakeVertexRegistry

LOC = "projects/proj-1/locations/europe-west4"
IMPORT_SCHEMA = (
    "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_single_label_io_format_1.0.0.yaml"
)
IMPORT_URI = "gs://bkt/run/split.jsonl"


@pytest.fixture
def fake():
    with FakeVertexRegistry() as server:
        yield server


def backend(fake):
    return vertex_datasets.VertexDatasets(
        project="proj-1", location="europe-west4", api_endpoint=fake.url, credentials=AnonymousCredentials()
    )


def ensure(fake, **overrides):
    fields = dict(display_name="flowers", data_type="image", import_uri=IMPORT_URI, import_schema_uri=IMPORT_SCHEMA)
    return vertex_datasets.ensure_dataset_with_items(backend(fake), **{**fields, **overrides})


def test_first_run_creates_the_dataset_then_imports_the_jsonl(fake):
    outcome = ensure(fake)

    [listed] = fake.matching("GET", r"/datasets$")
    assert listed.query["filter"] == ['display_name="flowers"']
    [create] = fake.matching("POST", r"/datasets$")
    created = aiplatform_v1.Dataset.from_json(json.dumps(create.body))
    assert (created.display_name, created.metadata_schema_uri) == (
        "flowers",
        vertex_data.DATASET_METADATA_SCHEMAS["image"],
    )
    [imported] = fake.matching("POST", r":import$")
    request = aiplatform_v1.ImportDataRequest.from_json(json.dumps(imported.body))
    assert list(request.import_configs[0].gcs_source.uris) == [IMPORT_URI]
    assert request.import_configs[0].import_schema_uri == IMPORT_SCHEMA
    assert imported.path == f"/v1/{outcome.name}:import"
    assert outcome.created


def test_next_run_reuses_the_dataset_by_display_name(fake):
    existing = fake.add_dataset(LOC, "flowers", vertex_data.DATASET_METADATA_SCHEMAS["image"])
    fake.add_dataset(LOC, "cars", vertex_data.DATASET_METADATA_SCHEMAS["image"])

    outcome = ensure(fake)

    assert (outcome.name, outcome.created) == (existing, False)
    assert not fake.matching("POST", r"/datasets$"), "no new dataset per run"
    assert len(fake.imports[existing]) == 1


def test_an_extensionless_import_uri_is_refused_before_any_call(fake):
    with pytest.raises(vertex_data.VertexDataError, match="not a .jsonl import file"):
        ensure(fake, import_uri="gs://bkt/run/split")
    assert fake.requests == []


def test_parent_model_is_found_by_display_name(fake):
    registry = vertex_registry.VertexRegistry(
        project="proj-1", location="europe-west4", api_endpoint=fake.url, credentials=AnonymousCredentials()
    )
    assert registry.find_model("flowers") == ""
    fake.add_version(f"{LOC}/models/42", "1")
    fake.versions[f"{LOC}/models/42"][0].display_name = "flowers"
    assert registry.find_model("flowers") == f"{LOC}/models/42"
    assert fake.matching("GET", r"/models$")[-1].query["filter"] == ['display_name="flowers"']
