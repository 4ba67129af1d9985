"""KFP component (Vertex target): deploy the blessed version to the model's one endpoint."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def deploy_vertex_model(
    blessing: dsl.Input[dsl.Artifact],
    location: str,
    model_name: str,
    endpoint: dsl.Output[dsl.Artifact],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
):
    """Deploys the version the gate blessed to the model's endpoint, reused run after run.

    The endpoint is found by its ``labelloop-model`` label (or display name ``<model>-endpoint``)
    and created only if missing; all traffic moves to the new version, which runs on automatic
    resources (AutoML image models take no machine type), and the versions that served before
    are undeployed. Refuses a blessing report that is not blessed.

    Args:
        blessing: ``gate_vertex_model``'s report; names the exact version it gated.
        location: Vertex region.
        model_name: The model's name; one endpoint per name.
        project: Google Cloud project; the pipeline's own project unless given.

    Returns:
        endpoint: The endpoint (``resourceName`` metadata, ``google.VertexEndpoint``-compatible).
    """
    import json

    from labelloop.components.backends.vertex_registry import VertexRegistry, deploy_blessed

    with open(blessing.path) as handle:
        report = json.load(handle)
    outcome = deploy_blessed(
        VertexRegistry(project=project, location=location),
        version_name=report["challenger"],
        model_name=model_name,
        blessed=bool(report.get("blessed")),
    )
    endpoint.uri = f"https://{location}-aiplatform.googleapis.com/v1/{outcome.endpoint}"
    endpoint.metadata.update(
        {
            "resourceName": outcome.endpoint,
            "created": outcome.created,
            "deployed_model_id": outcome.deployed_model_id,
            "undeployed": list(outcome.undeployed),
        }
    )
