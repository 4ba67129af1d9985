"""KFP component: register a blessed model as a new immutable version and promote it."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register_model(
    model: dsl.Input[dsl.Model],
    registry_uri: str,
    model_name: str,
    alias: str = "champion",
    dataset_version: str = "",
    pipeline_run: str = "{{$.pipeline_job_name}}",
    blessing: dsl.Input[dsl.Artifact] = None,
) -> NamedTuple("Outputs", version=str):
    """Copies the model into the registry as a new version and moves ``alias`` to it atomically.

    The previous holder of ``alias`` keeps the ``previous`` alias, so a rollback is one alias move.

    Args:
        model: A model folder written by ``train_model``.
        registry_uri: Registry folder or ``gs://`` prefix.
        model_name: Registered model name (lower case, digits, ``_ . -``).
        alias: Alias to move to the new version (``champion``, ``challenger`` or custom).
        dataset_version: Training data version, kept as lineage.
        pipeline_run: Pipeline run that produced the model, kept as lineage.
        blessing: The gate's blessing report; registration is refused unless it says blessed.

    Returns:
        version: The new version id.
    """
    import json
    from collections import namedtuple

    from labelloop.components.core import model_io
    from labelloop.components.core.registry import ModelRegistry, RegistryError

    report = {}
    if blessing is not None:
        with open(blessing.path) as handle:
            report = json.load(handle)
        if not report.get("blessed"):
            raise RegistryError(f"{model.uri} was not blessed by the gate ({blessing.uri}); refusing to promote it")
    meta = model_io.read_metadata(model.path)
    registry = ModelRegistry(registry_uri)
    version = registry.register(
        model_name,
        model.path,
        {
            "dataset_version": dataset_version or meta.get("dataset_version", ""),
            "pipeline_run": pipeline_run,
            "metrics": meta.get("metrics", {}),
            "task": meta.get("task"),
            "source_uri": model.uri,
            "blessing": report.get("checks", []),
        },
    )
    registry.promote(model_name, version.version, alias=alias, reason=f"registered by {pipeline_run}")
    return namedtuple("Outputs", "version")(version.version)
