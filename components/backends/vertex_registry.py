"""Vertex Model Registry and endpoints behind a small interface, for the gated Vertex path.

Thin: every decision (which alias to move, which endpoint, the traffic split) is in
``core/vertex_promotion.py``; this module only sends the calls, with the ``google.cloud.aiplatform_v1``
clients (REST or gRPC), so tests can point ``api_endpoint`` at a local fake. The step's service
account needs Vertex AI User (https://cloud.google.com/vertex-ai/docs/general/access-control).

Calls, in order, for one run:
``models.get`` (challenger, champion by ``@alias``) → ``models.evaluations.list`` (both) →
``models.mergeVersionAliases`` (only when blessed) → ``endpoints.list`` → ``endpoints.create`` (only
when the model has none) → ``endpoints.deployModel`` (traffic ``{"0": 100}``, automatic resources) →
``endpoints.undeployModel`` for the versions that served before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.api_core import exceptions as api_exceptions
from google.cloud import aiplatform_v1

from ..core import gate
from ..core import vertex_promotion as promotion

#: AutoML image models take automatic resources (never dedicated machines); one replica each way.
#: https://cloud.google.com/vertex-ai/docs/predictions/configure-compute
AUTOMATIC_RESOURCES = {"min_replica_count": 1, "max_replica_count": 1}
OPERATION_TIMEOUT_S = 3600


@dataclass(frozen=True)
class GateOutcome:
    decision: gate.GateDecision
    challenger: promotion.ModelVersion
    champion: promotion.ModelVersion | None
    challenger_metrics: Mapping[str, float]
    champion_metrics: Mapping[str, float] | None
    moved_alias: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            **self.decision.to_dict(),
            "challenger": self.challenger.name,
            "champion": self.champion.name if self.champion else "",
            "challenger_metrics": dict(self.challenger_metrics),
            "champion_metrics": dict(self.champion_metrics or {}),
            "moved_alias": list(self.moved_alias),
        }


@dataclass(frozen=True)
class DeployOutcome:
    endpoint: str
    created: bool
    deployed_model_id: str
    undeployed: tuple[str, ...]


class VertexRegistry:
    """Model versions, aliases, evaluations and endpoints in one project and location."""

    def __init__(self, *, project: str, location: str, api_endpoint: str = "", credentials=None, transport="rest"):
        if not project or not location:
            raise promotion.PromotionError(
                f"project {project!r} and location {location!r} must both be set (a pipeline gets the project "
                "from {{$.pipeline_google_cloud_project_id}})"
            )
        options = {"api_endpoint": api_endpoint or f"{location}-aiplatform.googleapis.com"}
        self.parent = f"projects/{project}/locations/{location}"
        self.models = aiplatform_v1.ModelServiceClient(
            transport=transport, client_options=options, credentials=credentials
        )
        self.endpoints = aiplatform_v1.EndpointServiceClient(
            transport=transport, client_options=options, credentials=credentials
        )

    # models --------------------------------------------------------------------------------------

    def get_version(self, name: str) -> promotion.ModelVersion:
        """The version ``name`` refers to (``models/m``: the default version; ``models/m@3`` or ``@alias``)."""
        model = self.models.get_model(name=name)
        base, _ = promotion.parse_model_name(model.name)
        return promotion.ModelVersion(base, model.version_id, tuple(model.version_aliases))

    def find_version(self, name: str) -> promotion.ModelVersion | None:
        try:
            return self.get_version(name)
        except api_exceptions.NotFound:
            return None

    def find_model(self, display_name: str) -> str:
        """The model (parent of all versions) named ``display_name``, oldest if several; "" when none."""
        found = self.models.list_models(request={"parent": self.parent, "filter": f'display_name="{display_name}"'})
        models = sorted(found, key=lambda m: (m.create_time.timestamp() if m.create_time else 0.0, m.name))
        return promotion.parse_model_name(models[0].name)[0] if models else ""

    def evaluation_metrics(self, version: promotion.ModelVersion) -> dict:
        """The ``metrics`` of the version's newest evaluation (AutoML writes one after training)."""
        evaluations = list(self.models.list_model_evaluations(parent=version.name))
        if not evaluations:
            raise promotion.PromotionError(
                f"{version.name} has no ModelEvaluation; AutoML writes one when training has a test split "
                "(ml_use=test items): check the training step's test_filter_split"
            )
        newest = max(evaluations, key=lambda e: (e.create_time.timestamp() if e.create_time else 0.0, e.name))
        return aiplatform_v1.ModelEvaluation.to_dict(newest)["metrics"] or {}

    def merge_aliases(self, version: promotion.ModelVersion, aliases: list[str]) -> promotion.ModelVersion:
        model = self.models.merge_version_aliases(name=version.name, version_aliases=aliases)
        return promotion.ModelVersion(version.model, model.version_id, tuple(model.version_aliases))

    # endpoints -----------------------------------------------------------------------------------

    def list_endpoints(self) -> list[promotion.EndpointInfo]:
        return [
            promotion.EndpointInfo(
                e.name,
                e.display_name,
                dict(e.labels),
                e.create_time.isoformat() if e.create_time else "",
                tuple(d.id for d in e.deployed_models),
            )
            for e in self.endpoints.list_endpoints(parent=self.parent)
        ]

    def create_endpoint(self, display_name: str, labels: Mapping[str, str]) -> str:
        endpoint = aiplatform_v1.Endpoint(display_name=display_name, labels=dict(labels))
        operation = self.endpoints.create_endpoint(parent=self.parent, endpoint=endpoint)
        return operation.result(timeout=OPERATION_TIMEOUT_S).name

    def deploy(self, endpoint: str, version: promotion.ModelVersion, traffic_split: Mapping[str, int]) -> str:
        deployed = aiplatform_v1.DeployedModel(
            model=version.name,
            display_name=f"{version.model.rsplit('/', 1)[-1]}-v{version.version_id}",
            automatic_resources=aiplatform_v1.AutomaticResources(**AUTOMATIC_RESOURCES),
        )
        operation = self.endpoints.deploy_model(
            endpoint=endpoint, deployed_model=deployed, traffic_split=dict(traffic_split)
        )
        return operation.result(timeout=OPERATION_TIMEOUT_S).deployed_model.id

    def undeploy(self, endpoint: str, deployed_model_id: str) -> None:
        self.endpoints.undeploy_model(endpoint=endpoint, deployed_model_id=deployed_model_id).result(
            timeout=OPERATION_TIMEOUT_S
        )


def gate_and_promote(
    registry: VertexRegistry, *, challenger_name: str, config: gate.GateConfig, task: str, alias: str = "champion"
) -> GateOutcome:
    """Gate the challenger on Vertex's evaluations against the ``alias`` holder; move the alias only when blessed."""
    promotion.check_alias(alias)
    challenger = registry.get_version(challenger_name)
    champion = registry.find_version(f"{challenger.model}@{alias}")
    if champion is not None and champion.version_id == challenger.version_id:
        champion = None  # a rerun on the version that already holds the alias: nothing to compare with
    wanted = promotion.gate_metric_names(config)
    new = promotion.evaluation_metrics(registry.evaluation_metrics(challenger), task=task, wanted=wanted)
    old = None
    if champion is not None:
        old = promotion.evaluation_metrics(registry.evaluation_metrics(champion), task=task, wanted=wanted)
    decision = promotion.decide_on_evaluations(config, new, old)
    merge = promotion.alias_to_merge(blessed=decision.blessed, challenger=challenger, champion=champion, alias=alias)
    if merge:
        challenger = registry.merge_aliases(challenger, merge)
    return GateOutcome(decision, challenger, champion, new, old, tuple(merge))


def deploy_blessed(
    registry: VertexRegistry, *, version_name: str, model_name: str, blessed: bool, undeploy_previous: bool = True
) -> DeployOutcome:
    """Deploy a blessed version to the model's one endpoint (created only if missing); all traffic to it."""
    version = registry.get_version(version_name)
    existing = promotion.choose_endpoint(registry.list_endpoints(), model_name=model_name)
    plan = promotion.plan_deploy(blessed=blessed, model_name=model_name, existing=existing)
    endpoint = plan.endpoint or registry.create_endpoint(plan.create_display_name, plan.create_labels)
    deployed_id = registry.deploy(endpoint, version, plan.traffic_split)
    undeployed = tuple(plan.undeploy_after) if undeploy_previous else ()
    for old_id in undeployed:
        registry.undeploy(endpoint, old_id)
    return DeployOutcome(endpoint, not plan.endpoint, deployed_id, undeployed)
