"""The ``active-learning`` pipeline: humans label only what the model cannot yet tell apart.

    curate ─▶ version ─▶ label the evaluation items + a cold-start batch
          ─▶ rounds (unrolled at compile time to hold ``max_rounds`` rounds with the cold start,
             each guarded by dsl.If on the previous round's stop decision):
               train ─▶ evaluate ─▶ predict pool ─▶ select ─▶ label ─▶ merge ─▶ version ─▶ record
          ─▶ final training on every label ─▶ predict ─▶ review the evaluation labels it disputes
          ─▶ evaluate ─▶ gate ─▶ (blessed) register ─▶ serve
          ─▶ machine labels for the confident rest ─▶ version ─▶ run report

KFP v2 has no dynamic loops, so rounds nest: round *i+1* runs inside round *i*'s ``dsl.If``. The
rounds form their own sub-pipeline so the final stage can wait for all of them; it then reads the
newest dataset version from the version store, which is also how ``active-learning-round`` (one
round per run, for labeling that takes days) carries its state from run to run. A config asking
for more rounds than the compiled graph holds is refused by ``plan_labeling`` before any labeling.
"""

from typing import NamedTuple

from kfp import dsl

from ..components.checkout_dataset import checkout_dataset
from ..components.partition_items import partition_items
from ..components.plan_labeling import plan_labeling
from ..components.record_round import record_round
from ..components.select_items import select_items
from . import steps
from ._targets import check_target


def build_rounds(target: str, max_rounds: int):
    """The rounds after the cold start as a sub-pipeline, so later steps can wait for however many ran."""

    @dsl.pipeline(name="active-learning-rounds", description="Unrolled active-learning rounds.")
    def rounds(
        items: dsl.Input[dsl.Dataset],
        initial_rounds: dsl.Input[dsl.Dataset],
        batch_size: int,
        task: str,
        strategy: str,
        config: str,
        job_spec: str,
        labeling_backend: str,
        ground_truth_uri: str,
        label_studio_url: str,
        label_studio_token_secret: str,
        simulated_crowd: str,
        store_uri: str,
        annotation_store_uri: str,
        dataset_name: str,
        round_budget_seconds: int,
        seed: int,
        location: str,
    ):
        labeling = steps.LabelingSettings(
            job_spec=job_spec,
            annotation_store_uri=annotation_store_uri,
            backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            label_studio_url=label_studio_url,
            label_studio_token_secret=label_studio_token_secret,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            dataset_name=dataset_name,
        )
        settings = steps.RoundSettings(
            target=target,
            labeling=labeling,
            task=task,
            strategy=strategy,
            config=config,
            round_budget_seconds=round_budget_seconds,
            seed=seed,
            location=location,
        )
        with dsl.If(batch_size > 0):
            steps.add_round(
                settings=settings,
                index=1,
                depth=max_rounds - 1,
                items=items,
                batch_size=batch_size,
                previous_rounds=initial_rounds,
            )

    return rounds


def build_pipeline(
    target: str = "local", max_rounds: int = steps.MAX_ROUNDS, *, sharding: steps.ShardSettings | None = None
):
    """The active-learning pipeline for ``target``, holding ``max_rounds`` rounds (the cold start included);
    with ``sharding`` its prefilter fans out over shards (``steps.ShardSettings``; same kept items)."""
    check_target(target)
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1 (the cold start), got {max_rounds}")
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
        active_learning_config: str = steps.active_learning_config(max_rounds=max_rounds),
        labeling_backend: str = steps.LABELING_BACKEND,
        ground_truth_uri: str = "",
        label_studio_url: str = "",
        label_studio_token_secret: str = "",
        simulated_crowd: str = "{}",
        dataset_name: str = steps.DATASET_NAME,
        model_name: str = steps.MODEL_NAME,
        allowed_labels: list = [],
        max_reject_rate: float = steps.MAX_REJECT_RATE,
        hamming_threshold: int = steps.HAMMING_THRESHOLD,
        blur_threshold: float = steps.BLUR_THRESHOLD,
        min_side: int = steps.MIN_SIDE,
        training_fraction: float = steps.TRAINING_FRACTION,
        validation_fraction: float = steps.VALIDATION_FRACTION,
        test_fraction: float = steps.TEST_FRACTION,
        round_budget_seconds: int = steps.ROUND_BUDGET_SECONDS,
        final_budget_seconds: int = steps.FINAL_BUDGET_SECONDS,
        gate_config: str = steps.GATE_CONFIG,
        target_precision: float = steps.TARGET_PRECISION,
        seed: int = steps.SEED,
        location: str = steps.LOCATION,
        comparison_seeds: int = 0,
    ) -> NamedTuple("Outputs", report=dsl.HTML, metrics=dsl.Metrics):
        """Label a dataset with active learning and train a gated model on it.

        Args:
            source_uri: Raw data: a folder of images, a Vertex JSONL import file, or a CSV/Parquet
                table of unlabeled rows; local or ``gs://``.
            labeling_job_spec: DataLabelingJob JSON for the human labeling (label set, labeler
                count, instructions, budget, price).
            store_uri: Dataset version store (folder or ``gs://`` prefix); holds every round's version.
            annotation_store_uri: Where paid-for annotations and the spend ledger persist.
            registry_uri: Model registry folder or ``gs://`` prefix.
            data_type: ``image``, ``text`` or ``tabular`` (rows travel as JSONL row items; tabular
                classification only: labels are classes).
            task: Training task, e.g. ``image_classification``, ``text_classification`` or
                ``tabular_classification``.
            active_learning_config: ActiveLearningConfig JSON (DataLabelingJob's
                ``activeLearningConfig`` form or labelloop's snake_case form); its ``max_rounds``
                may not exceed the rounds this compiled pipeline holds.
            labeling_backend: ``label_studio`` or ``simulated``.
            ground_truth_uri: Simulated backend only: hidden true labels, read by the crowd alone.
            label_studio_url: Label Studio backend: the server's URL; empty reads LABEL_STUDIO_URL.
            label_studio_token_secret: Label Studio backend: Secret Manager secret version with the
                API token, read at run time; empty reads LABEL_STUDIO_API_KEY (local runs).
            simulated_crowd: Simulated backend only: crowd settings JSON.
            dataset_name: Name of the dataset in the version store.
            model_name: Name of the model in the registry.
            allowed_labels: Label set accepted at import; empty accepts any.
            max_reject_rate: Fail when more than this share of raw items is rejected.
            hamming_threshold: Near-duplicate threshold of the prefilter (bits).
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which the prefilter drops an image.
            min_side: Smallest accepted image side in pixels.
            training_fraction: Share of items in the pool active learning picks from (the three
                fractions sum to 1).
            validation_fraction: Share of items labeled up front for validation; the machine-label
                thresholds are certified on them (a 0.98 bound needs at least 149 accepted without an error).
            test_fraction: Share of items labeled up front for test (the gate and the machine labels' check).
            round_budget_seconds: Training budget of each round's model.
            final_budget_seconds: Training budget of the final model.
            gate_config: Promotion gate thresholds (JSON).
            target_precision: Precision machine labels must reach on held-out labels.
            seed: Seed for every random choice.
            location: Vertex target only: region of the training custom jobs.
            comparison_seeds: Simulated backend only: seeds of the report's active-learning versus
                random-sampling comparison on the final dataset, labeled from ground_truth_uri (0: none).
        """
        curated = steps.curate_steps(
            source_uri=source_uri,
            settings=steps.CurateSettings(
                data_type=data_type,
                allowed_labels=allowed_labels,
                allowed_uri_schemes=steps.schemes(target),
                max_reject_rate=max_reject_rate,
                hamming_threshold=hamming_threshold,
                blur_threshold=blur_threshold,
                min_side=min_side,
                training_fraction=training_fraction,
                validation_fraction=validation_fraction,
                test_fraction=test_fraction,
                seed=seed,
                table_rows_as_items=True,
            ),
            sharding=sharding,
        )
        labeling = steps.LabelingSettings(
            job_spec=labeling_job_spec,
            annotation_store_uri=annotation_store_uri,
            backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            label_studio_url=label_studio_url,
            label_studio_token_secret=label_studio_token_secret,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            dataset_name=dataset_name,
        )
        versioned = steps.version_step(
            items=curated.split.outputs["split"],
            labeling=labeling,
            description="curated, unlabeled",
            step="curate",
            display_name="Version curated dataset",
        )
        parts = partition_items(items=versioned.outputs["versioned"]).set_display_name("Find the pool")
        plan = plan_labeling(
            config_json=active_learning_config, total_items=parts.outputs["total"], rounds_in_graph=max_rounds
        ).set_display_name("Plan labeling budget")
        first = select_items(
            items=parts.outputs["pool"],
            batch_size=plan.outputs["initial_batch_size"],
            seed=seed,
            strategy=plan.outputs["strategy"],
        ).set_display_name("Select cold-start batch")
        _, evaluation_version = steps.label_round(
            items=versioned.outputs["versioned"],
            to_label=parts.outputs["evaluation_pending"],
            predictions=None,
            labeling=labeling,
            step="evaluation items",
        )
        _, start_version = steps.label_round(
            items=evaluation_version.outputs["versioned"],
            to_label=first.outputs["selected"],
            predictions=None,
            labeling=labeling,
            step="cold start",
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
            items=start_version.outputs["versioned"],
            initial_rounds=start.outputs["rounds"],
            batch_size=start.outputs["Output"],
            task=task,
            strategy=plan.outputs["strategy"],
            config=active_learning_config,
            job_spec=labeling_job_spec,
            labeling_backend=labeling_backend,
            ground_truth_uri=ground_truth_uri,
            label_studio_url=label_studio_url,
            label_studio_token_secret=label_studio_token_secret,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            annotation_store_uri=annotation_store_uri,
            dataset_name=dataset_name,
            round_budget_seconds=round_budget_seconds,
            seed=seed,
            location=location,
        ).set_display_name("Active-learning rounds")
        final = (
            checkout_dataset(store_uri=store_uri, dataset_name=dataset_name)
            .set_display_name("Check out the labeled dataset")
            .after(looped)
            .set_caching_options(False)
        )
        report = steps.finish(
            target=target,
            curated=curated,
            final=final,
            task=task,
            budget_seconds=final_budget_seconds,
            registry=steps.RegistrySettings(gate_config=gate_config, registry_uri=registry_uri, model_name=model_name),
            target_precision=target_precision,
            labeling=labeling,
            seed=seed,
            location=location,
            active_learning_config=active_learning_config,
            comparison_seeds=comparison_seeds,
        )
        outputs = NamedTuple("Outputs", report=dsl.HTML, metrics=dsl.Metrics)
        return outputs(report.outputs["report"], report.outputs["metrics"])

    return active_learning
