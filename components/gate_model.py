"""KFP component: the promotion gate; blesses a challenger only when it deserves promotion."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def gate_model(
    challenger: dsl.Input[dsl.Model],
    items: dsl.Input[dsl.Dataset],
    blessing: dsl.Output[dsl.Artifact],
    gate_config: str = (
        '{"value_thresholds": {"accuracy": {"lower_bound": 0.5}}, "change_thresholds": {"accuracy": {"absolute": 0.0}}}'
    ),
    registry_uri: str = "",
    model_name: str = "",
    champion_alias: str = "champion",
    target_column: str = "",
    champion: dsl.Input[dsl.Model] = None,
) -> bool:
    """Compares the challenger with thresholds and with the champion on the same current test split.

    Value thresholds bound the challenger's metrics; change thresholds require a paired-bootstrap
    confident improvement over the champion, so a tie within noise is refused. With no champion
    (first run) only value thresholds apply.

    Args:
        challenger: The newly trained model.
        items: The labeled, split manifest (or table); its ``ml_use=test`` items score both models.
        gate_config: JSON with ``value_thresholds``, ``change_thresholds``, ``confidence``,
            ``resamples`` and ``seed`` (see ``labelloop.components.core.gate``).
        registry_uri: Model registry (folder or ``gs://``) holding the champion; empty for none.
        model_name: Registered model name in the registry.
        champion_alias: Registry alias of the current champion.
        target_column: Tabular tasks: the column to predict.
        champion: Explicit champion model; overrides the registry lookup.

    Returns:
        blessing: JSON blessing report: decision, each threshold's result and reason (also in
            its metadata as ``reasons``).
        Output: Whether the challenger may be promoted (``blessed``). Deliberately the single
            unnamed output: registration is guarded by ``dsl.If(task.output == True)``, and kfp
            2.17's local orchestrator resolves a condition's task output only when it is named
            ``Output`` (a NamedTuple field is left unresolved and the guarded step never runs).
    """
    import json

    from labelloop.components.core import gate, model_io, registry, train

    config = gate.parse_config(json.loads(gate_config))
    new = model_io.load_model(challenger.path)
    champion_uri = registry.champion_uri(
        registry_uri, model_name, champion_alias, explicit_uri=champion.path if champion is not None else ""
    )
    models = [new.model] + ([model_io.load_model(champion_uri).model] if champion_uri else [])
    examples = train.load_examples(items.path, new.model.task, target_column=target_column, spec=new.model.spec)
    scored = train.score_split(models, examples.test)
    decision = gate.decide(
        config, scored.y, scored.scores[0], scored.scores[1] if champion_uri else None, new.model.task
    )
    report = {
        **decision.to_dict(),
        "champion_uri": champion_uri,
        "challenger_uri": challenger.uri,
        "test_items": int(len(scored.y)),
    }
    with open(blessing.path, "w") as handle:
        json.dump(report, handle, indent=2)
    blessing.metadata.update({"blessed": decision.blessed, "champion_uri": champion_uri, "reasons": decision.reasons()})
    return decision.blessed
