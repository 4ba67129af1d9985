"""KFP component (Vertex target): the Vertex model a new AutoML version is registered under, if one exists."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def find_vertex_model(
    location: str,
    model_name: str,
    parent_model: dsl.Output[dsl.Artifact],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
) -> NamedTuple("Outputs", found=bool, resource_name=str):
    """Looks up the Vertex Model Registry model named ``model_name``, so training adds a version to it.

    Every run's model then is a version of one parent model, and the champion is found by its
    version alias (https://cloud.google.com/vertex-ai/docs/model-registry/versioning).

    Args:
        location: Vertex region.
        model_name: The model's display name in Vertex Model Registry.
        project: Google Cloud project; the pipeline's own project unless given.

    Returns:
        parent_model: The model (a ``google.VertexModel``-compatible artifact with ``resourceName``
            metadata) for AutoML image's ``parent_model``; empty when none.
        found: Whether the model exists (False on the first run: train without a parent).
        resource_name: The model's resource name for AutoML tabular's ``parent_model``; "" when none.
    """
    from collections import namedtuple

    from labelloop.components.backends.vertex_registry import VertexRegistry

    found = VertexRegistry(project=project, location=location).find_model(model_name)
    parent_model.metadata["resourceName"] = found
    if found:
        parent_model.uri = f"https://{location}-aiplatform.googleapis.com/v1/{found}"
    return namedtuple("Outputs", ["found", "resource_name"])(bool(found), found)
