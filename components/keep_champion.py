"""KFP component: the champion stays; report which version it is."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def keep_champion(registry_uri: str, model_name: str, alias: str = "champion") -> NamedTuple("Outputs", version=str):
    """Returns the version the alias points at, for the branch where the gate refused a challenger.

    Args:
        registry_uri: Model registry folder or ``gs://`` prefix.
        model_name: Registered model name.
        alias: Alias of the serving model.

    Returns:
        version: The version ``alias`` points at, or an empty string when there is none yet.
    """
    from collections import namedtuple

    from labelloop.components.core.registry import ModelRegistry

    version = (ModelRegistry(registry_uri).alias(model_name, alias) or "") if registry_uri else ""
    return namedtuple("Outputs", "version")(version)
