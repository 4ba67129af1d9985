"""KFP component: append one active-learning round's record and decide whether to stop."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def record_round(
    selected: dsl.Input[dsl.Dataset],
    rounds: dsl.Output[dsl.Dataset],
    report: dsl.Output[dsl.HTML],
    config_json: str,
    total_items: int,
    pool_remaining: int = -1,
    strategy: str = "UNCERTAINTY",
    metric_value: float = -1.0,
    model_version: str = "",
    store_uri: str = "",
    dataset_name: str = "",
    previous_rounds: dsl.Input[dsl.Dataset] = None,
    baseline_rounds: dsl.Input[dsl.Dataset] = None,
    remaining: dsl.Input[dsl.Dataset] = None,
    evaluation: dsl.Input[dsl.Metrics] = None,
) -> int:
    """Records labels bought, spend, metric and chosen ids of a round, then applies the stopping rules.

    Args:
        selected: Manifest of the items labeled this round.
        config_json: ActiveLearningConfig as JSON, labelloop's snake_case or DataLabelingJob's
            ``activeLearningConfig`` form.
        total_items: All items the labeling budget percentages refer to.
        pool_remaining: Unlabeled items left after this round; -1 to count ``remaining``.
        strategy: The sampling strategy that chose this round's items.
        metric_value: Test metric of the model trained with this round's labels; -1 if not evaluated.
        model_version: The model that chose the items (empty for the cold start).
        store_uri: Optional dataset version store; the round records are also kept in the dataset's
            state there, so a later run (one round per run) or the run report can read them.
        dataset_name: Dataset in ``store_uri`` whose state holds the records.
        previous_rounds: Round records so far (JSONL); absent for the first round (then they are
            read from the store's state when ``store_uri`` is set).
        baseline_rounds: Optional round records of a random-sampling run, drawn beside the curve.
        remaining: The pool left after this round's selection, counted for ``pool_remaining``.
        evaluation: Test metrics of the model that chose this round's items, i.e. the model trained
            on the labels bought before this round; its value is filled into the previous record.

    Returns:
        rounds: All round records, this one appended (JSONL); metadata holds ``stop``, ``reason``,
            ``labels_total`` and ``spend_total``.
        report: HTML with the learning curve image and one row per round.
        Output: The next round's batch size; 0 means stop (budget or pool exhausted, target
            reached, plateau, or max rounds). Deliberately the single unnamed output: the next
            round is guarded by ``dsl.If(task.output > 0)``, and kfp 2.17's local orchestrator
            resolves a condition's task output only when it is named ``Output`` (a NamedTuple
            field is left unresolved and the guarded round silently never runs; checked with
            kfp 2.17, ``kfp/local/orchestrator/enhanced_dag_orchestrator.py``).
    """
    import json

    from labelloop.components.core import active_learning as al
    from labelloop.components.core import learning_curve_report, manifest, round_decisions, versions

    config = al.config_from_dict(json.loads(config_json))
    if previous_rounds is not None:
        stored = al.read_round_records(previous_rounds.path)
    elif store_uri:
        stored = al.rounds_from_state(versions.read_state(store_uri, dataset_name).values)
    else:
        stored = []
    history = round_decisions.history_before_round(
        config, stored, previous_metrics=evaluation.metadata if evaluation is not None else None
    )
    if pool_remaining < 0:
        if remaining is None:
            raise ValueError("record_round: give pool_remaining or the remaining manifest")
        pool_remaining = sum(1 for _ in manifest.read_jsonl(remaining.path))
    outcome = round_decisions.close_round(
        config,
        history,
        chosen_ids=[manifest.item_id(r) for r in manifest.read_jsonl(selected.path)],
        total_items=total_items,
        pool_remaining=pool_remaining,
        strategy=strategy,
        metric_value=None if metric_value < 0 else metric_value,
        model_version=model_version,
    )
    al.write_round_records(rounds.path, outcome.history)
    if store_uri:
        versions.update_state(store_uri, dataset_name, al.rounds_to_state(outcome.history))
    baseline = (
        al.learning_curve(al.read_round_records(baseline_rounds.path), "random")
        if baseline_rounds is not None
        else None
    )
    stop_reason = outcome.decision.detail if outcome.decision.stop else ""
    html = learning_curve_report.render_html(list(outcome.history), baseline=baseline, stop_reason=stop_reason)
    learning_curve_report.write_report(report.path, html)
    rounds.metadata.update(outcome.summary())
    return outcome.next_batch_size
