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
    from labelloop.components.core import learning_curve_report, manifest, versions

    config = al.config_from_dict(json.loads(config_json))
    if previous_rounds is not None:
        history = al.read_round_records(previous_rounds.path)
    elif store_uri:
        history = al.rounds_from_state(versions.read_state(store_uri, dataset_name).values)
    else:
        history = []
    if evaluation is not None and history:
        history[-1] = al.with_metric(history[-1], evaluation.metadata.get(config.metric_name))
    if pool_remaining < 0:
        if remaining is None:
            raise ValueError("record_round: give pool_remaining or the remaining manifest")
        pool_remaining = sum(1 for _ in manifest.read_jsonl(remaining.path))
    chosen = [manifest.item_id(r) for r in manifest.read_jsonl(selected.path)]
    record = al.next_round_record(
        config,
        history,
        chosen_ids=chosen,
        metric_value=None if metric_value < 0 else metric_value,
        strategy=strategy,
        model_version=model_version,
    )
    history.append(record)
    al.write_round_records(rounds.path, history)
    if store_uri:
        versions.update_state(store_uri, dataset_name, al.rounds_to_state(history))
    decision = al.stop_decision(config, history, total_items=total_items, pool_remaining=pool_remaining)
    baseline = (
        al.learning_curve(al.read_round_records(baseline_rounds.path), "random")
        if baseline_rounds is not None
        else None
    )
    html = learning_curve_report.render_html(
        history, baseline=baseline, stop_reason=decision.detail if decision.stop else ""
    )
    learning_curve_report.write_report(report.path, html)
    next_size = (
        0
        if decision.stop
        else al.next_batch_size(
            config,
            total_items=total_items,
            round_index=record.round_index + 1,
            labels_bought=record.labels_total,
            pool_remaining=pool_remaining,
        )
    )
    rounds.metadata.update(
        {
            "rounds": len(history),
            "labels_total": record.labels_total,
            "spend_total": record.spend_total,
            "stop": next_size == 0,
            "reason": decision.reason if decision.stop else ("budget_exhausted" if next_size == 0 else ""),
        }
    )
    return next_size
