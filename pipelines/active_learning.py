"""The ``active-learning`` pipeline: humans label only what the model cannot yet tell apart.

    curate ─▶ version ─▶ label the evaluation items + a cold-start batch
          ─▶ rounds (unrolled to ``max_rounds`` at compile time, each guarded by dsl.If on the
             previous round's stop decision):
               train ─▶ evaluate ─▶ predict pool ─▶ select ─▶ label ─▶ merge ─▶ version ─▶ record
          ─▶ final training on every label ─▶ evaluate ─▶ gate ─▶ (blessed) register
          ─▶ machine labels for the confident rest ─▶ version ─▶ run report

KFP v2 has no dynamic loops, so rounds nest: round *i+1* runs inside round *i*'s ``dsl.If``. The
rounds form their own sub-pipeline so the final stage can wait for all of them; it then reads the
newest dataset version from the version store, which is also how ``active-learning-round`` (one
round per run, for labeling that takes days) carries its state from run to run.
"""

from typing import NamedTuple

from kfp import dsl

from ..components.apply_machine_labels import apply_machine_labels
from ..components.build_run_report import build_run_report
from ..components.checkout_dataset import checkout_dataset
from ..components.evaluate_model import evaluate_model
from ..components.label_items import label_items
from ..components.merge_labels import merge_labels
from ..components.partition_items import partition_items
from ..components.plan_labeling import plan_labeling
from ..components.predict import predict
from ..components.record_round import record_round
from ..components.select_items import select_items
from ..components.train_model import train_model
from ..components.version_dataset import version_dataset
from ._targets import LOCAL_SCHEMES, VERTEX_SCHEMES, check_target
from .curate import curate_steps
from .train import DEFAULT_GATE, gated_registration

DEFAULT_MAX_ROUNDS = 6
DEFAULT_CONFIG = (
    '{"max_data_item_percentage": 30, "initial_batch_sample_percentage": 3, '
    '"following_batch_sample_percentage": 4, "sample_strategy": "UNCERTAINTY", "max_rounds": 6, '
    '"plateau_rounds": 3, "cost_per_label": 0.05}'
)
RUN = dsl.PIPELINE_JOB_NAME_PLACEHOLDER
VERTEX_PROJECT = "{{$.pipeline_google_cloud_project_id}}"  # Vertex fills in the run's own project


def _train(target, dataset, task, budget_seconds, seed, name):
    """Train with the local AutoML trainer, or the same component as a Vertex custom job."""
    if target == "local":
        task_ = train_model(items=dataset, task=task, budget_seconds=budget_seconds, seed=seed)
    else:
        from ..components import vertex_training as vt

        task_ = vt.add_custom_training_job(
            VERTEX_PROJECT, "us-central1", items=dataset, task=task, budget_seconds=budget_seconds, seed=seed
        )
    return task_.set_display_name(name)


def label_round(dataset, to_label, predictions, settings, step):
    """label ─▶ merge ─▶ version: buys labels for ``to_label`` and stores the new dataset version."""
    optional = {"predictions": predictions} if predictions is not None else {}
    labeled = (
        label_items(
            items=to_label,
            job_spec=settings["job_spec"],
            annotation_store_uri=settings["annotation_store_uri"],
            backend=settings["labeling_backend"],
            ground_truth_uri=settings["ground_truth_uri"],
            simulated_crowd=settings["simulated_crowd"],
            **optional,
        )
        .set_display_name(f"Label ({step})")
        .set_caching_options(False)
    )
    merged = merge_labels(items=dataset, labeled=labeled.outputs["labeled"]).set_display_name(f"Merge labels ({step})")
    version = (
        version_dataset(
            items=merged.outputs["merged"],
            store_uri=settings["store_uri"],
            dataset_name=settings["dataset_name"],
            description=f"labels from {step}",
            pipeline_run=RUN,
            producing_step=step,
        )
        .set_display_name(f"Version dataset ({step})")
        .set_caching_options(False)
    )
    return labeled, version


def add_round(target, index, depth, dataset, batch_size, previous_rounds, settings):
    """One round, and inside its stop guard, the next one (up to ``depth``)."""
    step = f"round {index}"
    trained = _train(
        target, dataset, settings["task"], settings["round_budget_seconds"], settings["seed"], f"Train ({step})"
    )
    model = trained.outputs["model"]
    evaluated = evaluate_model(model=model, items=dataset).set_display_name(f"Evaluate ({step})")
    parts = partition_items(items=dataset).set_display_name(f"Find the pool ({step})")
    scored = predict(model=model, items=parts.outputs["pool"]).set_display_name(f"Predict pool ({step})")
    chosen = select_items(
        items=parts.outputs["pool"],
        predictions=scored.outputs["predictions"],
        strategy=settings["strategy"],
        batch_size=batch_size,
        seed=settings["seed"],
        labeled_count=parts.outputs["labeled"],
    ).set_display_name(f"Select items ({step})")
    _, version = label_round(dataset, chosen.outputs["selected"], scored.outputs["predictions"], settings, step)
    history = {"previous_rounds": previous_rounds} if previous_rounds is not None else {}  # else: from the store
    record = (
        record_round(
            selected=chosen.outputs["selected"],
            config_json=settings["config"],
            total_items=parts.outputs["total"],
            remaining=chosen.outputs["remaining"],
            strategy=settings["strategy"],
            evaluation=evaluated.outputs["metrics"],
            store_uri=settings["store_uri"],
            dataset_name=settings["dataset_name"],
            **history,
        )
        .set_display_name(f"Record round {index}")
        .after(version)
        .set_caching_options(False)
    )
    if index < depth:
        with dsl.If(record.outputs["Output"] > 0):
            add_round(
                target,
                index + 1,
                depth,
                version.outputs["versioned"],
                record.outputs["Output"],
                record.outputs["rounds"],
                settings,
            )
    return record


def build_rounds(target: str, max_rounds: int):
    """The rounds as a sub-pipeline, so later steps can wait for however many of them ran."""

    @dsl.pipeline(name="active-learning-rounds", description="Unrolled active-learning rounds.")
    def rounds(
        dataset: dsl.Input[dsl.Dataset],
        initial_rounds: dsl.Input[dsl.Dataset],
        batch_size: int,
        task: str,
        strategy: str,
        config: str,
        job_spec: str,
        labeling_backend: str,
        ground_truth_uri: str,
        simulated_crowd: str,
        store_uri: str,
        annotation_store_uri: str,
        dataset_name: str,
        round_budget_seconds: int,
        seed: int,
    ):
        settings = dict(
            task=task,
            strategy=strategy,
            config=config,
            job_spec=job_spec,
            labeling_backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            annotation_store_uri=annotation_store_uri,
            dataset_name=dataset_name,
            round_budget_seconds=round_budget_seconds,
            seed=seed,
        )
        with dsl.If(batch_size > 0):
            add_round(target, 1, max_rounds, dataset, batch_size, initial_rounds, settings)

    return rounds


def build_pipeline(target: str = "local", max_rounds: int = DEFAULT_MAX_ROUNDS):
    """The active-learning pipeline for ``target``, unrolled to ``max_rounds`` rounds."""
    check_target(target)
    rounds = build_rounds(target, max_rounds)

    @dsl.pipeline(
        name="active-learning", description="Curate, then label with active learning, train, gate and register."
    )
    def active_learning(
        source_uri: str,
        labeling_job_spec: str,
        store_uri: str,
        annotation_store_uri: str,
        registry_uri: str,
        data_type: str = "image",
        task: str = "image_classification",
        active_learning_config: str = DEFAULT_CONFIG,
        labeling_backend: str = "label_studio",
        ground_truth_uri: str = "",
        simulated_crowd: str = "{}",
        dataset_name: str = "labelloop-dataset",
        model_name: str = "labelloop-model",
        allowed_labels: list = [],
        max_reject_rate: float = 0.2,
        hamming_threshold: int = 8,
        blur_threshold: float = 0.86,
        min_side: int = 32,
        round_budget_seconds: int = 10,
        final_budget_seconds: int = 60,
        gate_config: str = DEFAULT_GATE,
        target_precision: float = 0.98,
        seed: int = 0,
    ) -> NamedTuple("Outputs", report=dsl.HTML, metrics=dsl.Metrics):
        """Label a dataset with active learning and train a gated model on it.

        Args:
            source_uri: Raw data: a folder of images, a Vertex JSONL import file; local or ``gs://``.
            labeling_job_spec: DataLabelingJob JSON for the human labeling (label set, labeler
                count, instructions, budget, price).
            store_uri: Dataset version store (folder or ``gs://`` prefix); holds every round's version.
            annotation_store_uri: Where paid-for annotations and the spend ledger persist.
            registry_uri: Model registry folder or ``gs://`` prefix.
            data_type: ``image`` or ``text``.
            task: Training task, e.g. ``image_classification`` or ``text_classification``.
            active_learning_config: ActiveLearningConfig JSON (DataLabelingJob's
                ``activeLearningConfig`` form or labelloop's snake_case form).
            labeling_backend: ``label_studio`` or ``simulated``.
            ground_truth_uri: Simulated backend only: hidden true labels, read by the crowd alone.
            simulated_crowd: Simulated backend only: crowd settings JSON.
            dataset_name: Name of the dataset in the version store.
            model_name: Name of the model in the registry.
            allowed_labels: Label set accepted at import; empty accepts any.
            max_reject_rate: Fail when more than this share of raw items is rejected.
            hamming_threshold: Near-duplicate threshold of the prefilter (bits).
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which the prefilter drops an image.
            min_side: Smallest accepted image side in pixels.
            round_budget_seconds: Training budget of each round's model.
            final_budget_seconds: Training budget of the final model.
            gate_config: Promotion gate thresholds (JSON).
            target_precision: Precision machine labels must reach on held-out labels.
            seed: Seed for every random choice.
        """
        curated_tasks = curate_steps(
            source_uri,
            data_type,
            "auto",
            allowed_labels,
            max_reject_rate,
            0,
            hamming_threshold,
            blur_threshold,
            min_side,
            "stratified",
            0.8,
            0.1,
            0.1,
            seed,
            LOCAL_SCHEMES if target == "local" else VERTEX_SCHEMES,
        )
        settings = dict(
            job_spec=labeling_job_spec,
            annotation_store_uri=annotation_store_uri,
            labeling_backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            dataset_name=dataset_name,
        )
        curated = (
            version_dataset(
                items=curated_tasks.split.outputs["split"],
                store_uri=store_uri,
                dataset_name=dataset_name,
                description="curated, unlabeled",
                pipeline_run=RUN,
                producing_step="curate",
            )
            .set_display_name("Version curated dataset")
            .set_caching_options(False)
        )
        parts = partition_items(items=curated.outputs["versioned"]).set_display_name("Find the pool")
        plan = plan_labeling(config_json=active_learning_config, total_items=parts.outputs["total"]).set_display_name(
            "Plan labeling budget"
        )
        first = select_items(
            items=parts.outputs["pool"],
            batch_size=plan.outputs["initial_batch_size"],
            seed=seed,
            strategy=plan.outputs["strategy"],
        ).set_display_name("Select cold-start batch")
        _, evaluation_version = label_round(
            curated.outputs["versioned"], parts.outputs["evaluation_pending"], None, settings, "evaluation items"
        )
        _, start_version = label_round(
            evaluation_version.outputs["versioned"], first.outputs["selected"], None, settings, "cold start"
        )
        start = (
            record_round(
                selected=first.outputs["selected"],
                config_json=active_learning_config,
                total_items=parts.outputs["total"],
                remaining=first.outputs["remaining"],
                strategy="cold_start",
                store_uri=store_uri,
                dataset_name=dataset_name,
            )
            .set_display_name("Record cold start")
            .after(start_version)
            .set_caching_options(False)
        )

        looped = rounds(
            dataset=start_version.outputs["versioned"],
            initial_rounds=start.outputs["rounds"],
            batch_size=start.outputs["Output"],
            task=task,
            strategy=plan.outputs["strategy"],
            config=active_learning_config,
            job_spec=labeling_job_spec,
            labeling_backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            annotation_store_uri=annotation_store_uri,
            dataset_name=dataset_name,
            round_budget_seconds=round_budget_seconds,
            seed=seed,
        ).set_display_name("Active-learning rounds")

        final = (
            checkout_dataset(store_uri=store_uri, dataset_name=dataset_name)
            .set_display_name("Check out the labeled dataset")
            .after(looped)
            .set_caching_options(False)
        )
        report = finish(
            target,
            curated_tasks,
            final,
            task,
            final_budget_seconds,
            gate_config,
            registry_uri,
            model_name,
            target_precision,
            store_uri,
            annotation_store_uri,
            dataset_name,
            seed,
        )
        outputs = NamedTuple("Outputs", report=dsl.HTML, metrics=dsl.Metrics)
        return outputs(report.outputs["report"], report.outputs["metrics"])

    return active_learning


def finish(
    target,
    curated,
    final,
    task,
    budget_seconds,
    gate_config,
    registry_uri,
    model_name,
    target_precision,
    store_uri,
    annotation_store_uri,
    dataset_name,
    seed,
):
    """Final model on every human label, its gate, machine labels for the confident rest, the report."""
    dataset = final.outputs["items"]
    trained = _train(target, dataset, task, budget_seconds, seed, "Train final model")
    model = trained.outputs["model"]
    gated = gated_registration(
        model, dataset, task, "", gate_config, registry_uri, model_name, final.outputs["version_id"]
    )
    parts = partition_items(items=dataset).set_display_name("Find unlabeled rest")
    scored = predict(model=model, items=dataset).set_display_name("Predict every item")
    machine = apply_machine_labels(
        pool=parts.outputs["pool"],
        labeled=dataset,
        predictions=scored.outputs["predictions"],
        model_version=final.outputs["version_id"],
        target_precision=target_precision,
    ).set_display_name("Machine-label the confident rest")
    merged = merge_labels(items=dataset, labeled=machine.outputs["machine_labeled"]).set_display_name(
        "Merge machine labels"
    )
    version = (
        version_dataset(
            items=merged.outputs["merged"],
            store_uri=store_uri,
            dataset_name=dataset_name,
            description="human + machine labels",
            pipeline_run=RUN,
            producing_step="machine labels",
        )
        .set_display_name("Version final dataset")
        .set_caching_options(False)
    )
    return (
        build_run_report(
            import_stats=curated.imported.outputs["metrics"],
            prefilter_stats=curated.prefiltered.outputs["metrics"],
            split_report=curated.split.outputs["report"],
            evaluation=gated.outputs["metrics"],
            evaluation_report=gated.outputs["report"],
            machine_labels=machine.outputs["metrics"],
            items=version.outputs["versioned"],
            blessed=gated.outputs["blessed"],
            blessing=gated.outputs["blessing"],
            champion_version=gated.outputs["champion_version"],
            store_uri=store_uri,
            dataset_name=dataset_name,
            annotation_store_uri=annotation_store_uri,
        )
        .set_display_name("Run report")
        .set_caching_options(False)
    )
