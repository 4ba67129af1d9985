"""The Vertex-target components run as KFP would run them, their backends pointed at the local fake Vertex."""

import functools
import json
import sys
from pathlib import Path

import fsspec
import pytest
from google.auth.credentials import AnonymousCredentials
from kfp import dsl
from labelloop.components.backends import vertex_datasets, vertex_registry
from labelloop.components.core import vertex_data
from labelloop.components.core.vertex_promotion import PromotionError
from labelloop.components.deploy_vertex_model import deploy_vertex_model
from labelloop.components.ensure_vertex_dataset import ensure_vertex_dataset
from labelloop.components.find_vertex_model import find_vertex_model
from labelloop.components.gate_vertex_model import gate_vertex_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_vertex import FakeVertexRegistry

LOC = "projects/proj-1/locations/europe-west4"
MODEL = f"{LOC}/models/42"


@pytest.fixture
def fake(monkeypatch):
    """The fake Vertex, and the backends the components construct pointed at it."""
    with FakeVertexRegistry() as server:
        local = {"api_endpoint": server.url, "credentials": AnonymousCredentials()}
        monkeypatch.setattr(
            vertex_registry, "VertexRegistry", functools.partial(vertex_registry.VertexRegistry, **local)
        )
        monkeypatch.setattr(
            vertex_datasets, "VertexDatasets", functools.partial(vertex_datasets.VertexDatasets, **local)
        )
        yield server


def artifact(tmp_path, name, **metadata):
    return dsl.Artifact(name=name, uri=str(tmp_path / name), metadata=dict(metadata))


def evaluation(accuracy):
    return {"confidenceMetrics": [{"confidenceThreshold": 0.0, "precisionAt1": accuracy}]}


def test_gate_then_deploy_moves_the_alias_and_serves_the_gated_version(fake, tmp_path):
    fake.add_version(MODEL, "1", aliases=("champion",), metrics=evaluation(0.7))
    fake.add_version(MODEL, "2", aliases=("default",), metrics=evaluation(0.9))
    blessing = artifact(tmp_path, "blessing")

    [blessed] = gate_vertex_model.python_func(
        model=artifact(tmp_path, "model", resourceName=MODEL),  # what GCPC's AutoML op writes
        location="europe-west4",
        task="image_classification",
        blessing=blessing,
        project="proj-1",
    )

    assert blessed is True
    report = json.loads(Path(blessing.path).read_text())
    assert (report["challenger"], report["champion"]) == (f"{MODEL}@2", f"{MODEL}@1")
    assert fake.aliases(MODEL)["champion"] == "2"

    endpoint = artifact(tmp_path, "endpoint")
    deploy_vertex_model.python_func(
        blessing=blessing, location="europe-west4", model_name="flowers", endpoint=endpoint, project="proj-1"
    )
    [deploy] = fake.matching("POST", r":deployModel$")
    assert deploy.body["deployedModel"]["model"] == f"{MODEL}@2"
    assert endpoint.metadata["resourceName"] == next(iter(fake.endpoints))
    assert endpoint.uri == f"https://europe-west4-aiplatform.googleapis.com/v1/{endpoint.metadata['resourceName']}"


def test_deploy_refuses_a_report_that_is_not_blessed(fake, tmp_path):
    fake.add_version(MODEL, "1")
    blessing = artifact(tmp_path, "blessing")
    Path(blessing.path).write_text(json.dumps({"blessed": False, "challenger": f"{MODEL}@1"}))
    with pytest.raises(PromotionError, match="did not bless"):
        deploy_vertex_model.python_func(
            blessing=blessing, location="europe-west4", model_name="m", endpoint=artifact(tmp_path, "e"), project="p"
        )
    assert not fake.matching("POST", r"")


def test_find_vertex_model_hands_the_parent_to_training(fake, tmp_path):
    parent = artifact(tmp_path, "parent")
    find = functools.partial(
        find_vertex_model.python_func, location="europe-west4", model_name="flowers", parent_model=parent, project="p1"
    )
    assert (find().found, find().resource_name) == (False, "")
    fake.add_version("projects/p1/locations/europe-west4/models/42", "1")
    fake.versions["projects/p1/locations/europe-west4/models/42"][0].display_name = "flowers"
    assert tuple(find()) == (True, "projects/p1/locations/europe-west4/models/42")
    assert parent.metadata["resourceName"] == "projects/p1/locations/europe-west4/models/42"


@pytest.mark.gcs
def test_ensure_vertex_dataset_writes_a_jsonl_and_reuses_the_dataset(fake, gcs_prefix):
    items = dsl.Dataset(name="split", uri=f"{gcs_prefix}/split-dataset/split", metadata={})
    with fsspec.open(items.uri, "w") as handle:
        handle.write('{"imageGcsUri": "gs://b/a.jpg"}\n')
    existing = fake.add_dataset(LOC, "flowers", vertex_data.DATASET_METADATA_SCHEMAS["image"])
    dataset = dsl.Artifact(name="dataset", uri=f"{gcs_prefix}/dataset", metadata={})
    import_file = dsl.Artifact(name="import_file", uri=f"{gcs_prefix}/ensure/import_file", metadata={})

    ensure_vertex_dataset.python_func(
        items=items,
        location="europe-west4",
        display_name="flowers",
        data_type="image",
        import_schema_uri="gs://schema.yaml",
        dataset=dataset,
        import_file=import_file,
        project="proj-1",
    )

    assert import_file.uri == f"{gcs_prefix}/ensure/import_file.jsonl"
    with fsspec.open(import_file.uri) as handle:
        assert handle.read() == b'{"imageGcsUri": "gs://b/a.jpg"}\n'
    assert dataset.metadata == {"resourceName": existing, "created": False}
    assert fake.imports[existing][0]["gcsSource"]["uris"] == [import_file.uri]


def test_require_value_passes_a_value_on_and_stops_an_empty_one():
    from labelloop.components.require_value import require_value

    assert tuple(require_value.python_func(value="price", name="target_column", needed_by="AutoML tabular")) == (
        "price",
    )
    with pytest.raises(ValueError, match="'target_column' is empty but AutoML tabular needs it; pass --param"):
        require_value.python_func(value=" ", name="target_column", needed_by="AutoML tabular")
