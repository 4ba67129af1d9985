"""KFP component (Vertex target): the promotion gate on Vertex's evaluation; moves the champion alias."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def gate_vertex_model(
    model: dsl.Input[dsl.Artifact],
    location: str,
    task: str,
    blessing: dsl.Output[dsl.Artifact],
    gate_config: str = (
        '{"value_thresholds": {"accuracy": {"lower_bound": 0.5}}, "change_thresholds": {"accuracy": {"absolute": 0.0}}}'
    ),
    champion_alias: str = "champion",
    project: str = "{{$.pipeline_google_cloud_project_id}}",
) -> NamedTuple("Outputs", blessed=bool):
    """Gates an AutoML model version against the current champion with the local gate's thresholds.

    Reads the challenger's ModelEvaluation and the champion's (the version holding
    ``champion_alias`` in the same Vertex model), applies the value and change thresholds of
    ``gate_config`` (see ``labelloop.components.core.vertex_promotion``), and moves the alias to the
    challenger only when it is blessed.

    Args:
        model: The AutoML training op's ``model`` (``resourceName`` metadata: the model whose default
            version is the new one).
        location: Vertex region.
        task: labelloop task (``image_classification``, ``tabular_regression``...), to read the right metrics.
        gate_config: The local gate's JSON config (value_thresholds, change_thresholds).
        champion_alias: Version alias of the serving champion.
        project: Google Cloud project; the pipeline's own project unless given.

    Returns:
        blessing: JSON report: decision, each threshold's result, both versions and their metrics.
        blessed: Whether the challenger was blessed (and now holds the alias).
    """
    import json
    from collections import namedtuple

    from labelloop.components.backends.vertex_registry import VertexRegistry, gate_and_promote
    from labelloop.components.core import gate

    outcome = gate_and_promote(
        VertexRegistry(project=project, location=location),
        challenger_name=model.metadata["resourceName"],
        config=gate.parse_config(json.loads(gate_config)),
        task=task,
        alias=champion_alias,
    )
    report = outcome.to_dict()
    with open(blessing.path, "w") as handle:
        json.dump(report, handle, indent=2)
    blessing.metadata.update(
        {"blessed": outcome.decision.blessed, "challenger": report["challenger"], "reasons": outcome.decision.reasons()}
    )
    return namedtuple("Outputs", ["blessed"])(outcome.decision.blessed)
