"""The gated Vertex path, request by request, against a local fake Vertex (real aiplatform_v1 clients and types)."""

import json
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from labelloop.components.backends import vertex_registry
from labelloop.components.core import gate
from labelloop.components.core import vertex_promotion as promotion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_vertex import FakeVertexRegistry

LOC = "projects/proj-1/locations/europe-west4"
MODEL = f"{LOC}/models/42"
RULES = gate.parse_config(
    {"value_thresholds": {"accuracy": {"lower_bound": 0.5}}, "change_thresholds": {"accuracy": {"absolute": 0.0}}}
)


def metrics(accuracy: float) -> dict:
    return {"auPrc": 0.9, "confidenceMetrics": [{"confidenceThreshold": 0.0, "precisionAt1": accuracy}]}


@pytest.fixture
def fake():
    with FakeVertexRegistry() as server:
        yield server


@pytest.fixture
def registry(fake):
    return vertex_registry.VertexRegistry(
        project="proj-1", location="europe-west4", api_endpoint=fake.url, credentials=AnonymousCredentials()
    )


def calls(fake) -> list[str]:
    """Method and path of every request (the client sends ``@`` as ``%40``)."""
    return [f"{r.method} {unquote(r.path)}" for r in fake.requests]


def test_blessed_challenger_reads_both_evaluations_and_moves_the_alias(fake, registry):
    fake.add_version(MODEL, "1", aliases=("default", "champion"), metrics=metrics(0.80))
    challenger = fake.add_version(MODEL, "2", metrics=metrics(0.90))

    outcome = vertex_registry.gate_and_promote(
        registry, challenger_name=challenger, config=RULES, task="image_classification"
    )

    assert calls(fake) == [
        f"GET /v1/{MODEL}@2",
        f"GET /v1/{MODEL}@champion",
        f"GET /v1/{MODEL}@2/evaluations",
        f"GET /v1/{MODEL}@1/evaluations",
        f"POST /v1/{MODEL}@2:mergeVersionAliases",
    ]
    merge = fake.requests[-1]
    request = aiplatform_v1.MergeVersionAliasesRequest.from_json(json.dumps(merge.body))
    assert list(request.version_aliases) == ["champion"]
    assert fake.aliases(MODEL) == {"default": "1", "champion": "2"}
    assert outcome.decision.blessed and outcome.moved_alias == ("champion",)
    assert (outcome.challenger_metrics, outcome.champion_metrics) == ({"accuracy": 0.9}, {"accuracy": 0.8})
    assert outcome.to_dict()["champion"] == f"{MODEL}@1"


def test_refused_challenger_leaves_the_alias_where_it_was(fake, registry):
    fake.add_version(MODEL, "1", aliases=("champion",), metrics=metrics(0.90))
    challenger = fake.add_version(MODEL, "2", metrics=metrics(0.90))  # a tie is not an improvement

    outcome = vertex_registry.gate_and_promote(
        registry, challenger_name=challenger, config=RULES, task="image_classification"
    )

    assert not outcome.decision.blessed and outcome.moved_alias == ()
    assert not fake.matching("POST", r":mergeVersionAliases$")
    assert fake.aliases(MODEL) == {"champion": "1"}


def test_first_version_has_no_champion_and_is_gated_on_values(fake, registry):
    challenger = fake.add_version(MODEL, "1", aliases=("default",), metrics=metrics(0.70))

    outcome = vertex_registry.gate_and_promote(
        registry, challenger_name=challenger, config=RULES, task="image_classification"
    )

    assert outcome.champion is None and outcome.decision.blessed
    assert calls(fake) == [
        f"GET /v1/{MODEL}@1",
        f"GET /v1/{MODEL}@champion",  # 404: nobody holds it yet
        f"GET /v1/{MODEL}@1/evaluations",
        f"POST /v1/{MODEL}@1:mergeVersionAliases",
    ]
    assert fake.aliases(MODEL) == {"default": "1", "champion": "1"}


def test_a_version_without_evaluation_is_refused_with_the_reason(fake, registry):
    challenger = fake.add_version(MODEL, "1")
    with pytest.raises(promotion.PromotionError, match="has no ModelEvaluation.*test_filter_split"):
        vertex_registry.gate_and_promote(
            registry, challenger_name=challenger, config=RULES, task="image_classification"
        )
    assert not fake.matching("POST", r":mergeVersionAliases$")


def test_first_deploy_creates_one_labelled_endpoint_with_automatic_resources(fake, registry):
    version = fake.add_version(MODEL, "1", aliases=("champion",))

    outcome = vertex_registry.deploy_blessed(registry, version_name=version, model_name="flowers", blessed=True)

    assert calls(fake) == [
        f"GET /v1/{MODEL}@1",
        f"GET /v1/{LOC}/endpoints",
        f"POST /v1/{LOC}/endpoints",
        f"POST /v1/{outcome.endpoint}:deployModel",
    ]
    [create] = fake.matching("POST", r"/endpoints$")
    created = aiplatform_v1.Endpoint.from_json(json.dumps(create.body))
    assert (created.display_name, dict(created.labels)) == ("flowers-endpoint", {"labelloop-model": "flowers"})
    [deploy] = fake.matching("POST", r":deployModel$")
    request = aiplatform_v1.DeployModelRequest.from_json(json.dumps(deploy.body))
    assert request.deployed_model.model == f"{MODEL}@1"
    assert request.deployed_model.automatic_resources.min_replica_count == 1
    assert "dedicatedResources" not in deploy.body["deployedModel"]
    assert dict(request.traffic_split) == {"0": 100}
    assert outcome.created and outcome.undeployed == ()


def test_next_deploy_reuses_the_endpoint_moves_traffic_and_undeploys_the_old_version(fake, registry):
    endpoint = fake.add_endpoint(
        LOC, "flowers-endpoint", {"labelloop-model": "flowers"}, deployed=[("7", f"{MODEL}@1")]
    )
    fake.add_endpoint(LOC, "cars-endpoint", {"labelloop-model": "cars"})
    version = fake.add_version(MODEL, "2", aliases=("champion",))

    outcome = vertex_registry.deploy_blessed(registry, version_name=version, model_name="flowers", blessed=True)

    assert calls(fake) == [
        f"GET /v1/{MODEL}@2",
        f"GET /v1/{LOC}/endpoints",
        f"POST /v1/{endpoint}:deployModel",
        f"POST /v1/{endpoint}:undeployModel",
    ]
    assert (outcome.endpoint, outcome.created, outcome.undeployed) == (endpoint, False, ("7",))
    [undeploy] = fake.matching("POST", r":undeployModel$")
    assert aiplatform_v1.UndeployModelRequest.from_json(json.dumps(undeploy.body)).deployed_model_id == "7"
    served = fake.endpoints[endpoint]
    assert [d.model for d in served.deployed_models] == [f"{MODEL}@2"]
    assert dict(served.traffic_split) == {outcome.deployed_model_id: 100}
    assert len(fake.endpoints) == 2, "no new endpoint per run"


def test_an_unblessed_model_is_never_deployed(fake, registry):
    version = fake.add_version(MODEL, "1")
    with pytest.raises(promotion.PromotionError, match="did not bless"):
        vertex_registry.deploy_blessed(registry, version_name=version, model_name="flowers", blessed=False)
    assert not fake.matching("POST", r"(endpoints|:deployModel)$")


def test_empty_project_is_refused_before_any_call():
    with pytest.raises(promotion.PromotionError, match="project '' and location 'europe-west4' must both be set"):
        vertex_registry.VertexRegistry(project="", location="europe-west4", credentials=AnonymousCredentials())
