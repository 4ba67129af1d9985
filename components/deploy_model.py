"""KFP component: mark a registered model version as the one being served (local target)."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def deploy_model(registry_uri: str, model_name: str, version: str, serving_alias: str = "serving") -> NamedTuple(
    "Outputs", serving_uri=str
):
    """Moves the ``serving`` alias to ``version`` so local serving picks it up; AutoML models on Vertex
    are deployed by ``deploy_vertex_model`` instead.

    Args:
        registry_uri: Registry folder or ``gs://`` prefix.
        model_name: Registered model name.
        version: Version to serve (e.g. the output of ``register_model``).
        serving_alias: Alias that serving reads.

    Returns:
        serving_uri: The URI of the served version's folder.
    """
    from collections import namedtuple

    from labelloop.components.core.registry import ModelRegistry

    registry = ModelRegistry(registry_uri)
    registry.set_alias(model_name, serving_alias, version, reason="deploy_model")
    return namedtuple("Outputs", "serving_uri")(registry.get(model_name, version).uri)
