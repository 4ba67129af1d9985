"""The ``retrain`` pipeline: the recurring one.

    curate new data ─▶ version ─▶ (label the new unlabeled items) ─▶ check out newest version
                    ─▶ train ─▶ evaluate ─▶ gate against the champion ─▶ promote and serve
                       (on Vertex: AutoML and deploy)

Schedule it (``labelloop schedule retrain --cron "0 3 * * 1" --max-concurrent 1``). Re-imported items
keep their content ids, and labels bought earlier stay in the annotation store, so a run only pays
for items it has not seen; unchanged data gives the same dataset version.
"""

from kfp import dsl

from ..components.checkout_dataset import checkout_dataset
from ..components.partition_items import partition_items
from . import steps
from ._targets import check_target

#: Retraining is scheduled: by default it buys no labels (data arrives labeled), unlike the
#: labeling pipelines whose default is ``steps.LABELING_BACKEND``.
NO_LABELING = "none"


@dsl.pipeline(name="label-new-items", description="Label a dataset's unlabeled items unless labeling is off.")
def label_new_items(
    items: dsl.Input[dsl.Dataset],
    labeling_backend: str,
    labeling_job_spec: str,
    annotation_store_uri: str,
    ground_truth_uri: str,
    label_studio_url: str,
    label_studio_token_secret: str,
    simulated_crowd: str,
    store_uri: str,
    dataset_name: str,
):
    """Label every unlabeled item (evaluation items, then the rest) and store a new version.

    Args:
        items: The newly versioned dataset.
        labeling_backend: ``label_studio``, ``simulated``, or ``none`` to skip labeling.
        labeling_job_spec: DataLabelingJob JSON; its budget caps what a run may buy.
        annotation_store_uri: Where paid-for annotations persist; earlier labels are reused, not re-bought.
        ground_truth_uri: Simulated backend only: hidden true labels.
        label_studio_url: Label Studio backend: the server's URL; empty reads LABEL_STUDIO_URL.
        label_studio_token_secret: Label Studio backend: Secret Manager secret version with the
            API token, read at run time; empty reads LABEL_STUDIO_API_KEY (local runs).
        simulated_crowd: Simulated backend only: crowd settings JSON.
        store_uri: Dataset version store.
        dataset_name: Dataset in the store.
    """
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
    with dsl.If(labeling_backend != NO_LABELING, name="labeling-on"):
        parts = partition_items(items=items).set_display_name("Find unlabeled items")
        _, evaluation = steps.label_round(
            items=items,
            to_label=parts.outputs["evaluation_pending"],
            predictions=None,
            labeling=labeling,
            step="new evaluation items",
        )
        steps.label_round(
            items=evaluation.outputs["versioned"],
            to_label=parts.outputs["pool"],
            predictions=None,
            labeling=labeling,
            step="new training items",
        )


def build_pipeline(target: str = "local", *, sharding: steps.ShardSettings | None = None):
    """The retrain pipeline for ``target``; with ``sharding`` its prefilter fans out over shards
    (``steps.ShardSettings``; same kept items)."""
    check_target(target)

    @dsl.pipeline(name="retrain", description="Import new data, version it, label what is new, retrain, gate, promote.")
    def retrain(
        source_uri: str,
        store_uri: str,
        registry_uri: str,
        annotation_store_uri: str = "",
        data_type: str = "image",
        task: str = "image_classification",
        dataset_name: str = steps.DATASET_NAME,
        model_name: str = steps.MODEL_NAME,
        labeling_backend: str = NO_LABELING,
        labeling_job_spec: str = "{}",
        ground_truth_uri: str = "",
        label_studio_url: str = "",
        label_studio_token_secret: str = "",
        simulated_crowd: str = "{}",
        allowed_labels: list = [],
        max_reject_rate: float = steps.MAX_REJECT_RATE,
        hamming_threshold: int = steps.HAMMING_THRESHOLD,
        blur_threshold: float = steps.BLUR_THRESHOLD,
        min_side: int = steps.MIN_SIDE,
        budget_seconds: int = steps.BUDGET_SECONDS,
        gate_config: str = steps.GATE_CONFIG,
        seed: int = steps.SEED,
        location: str = steps.LOCATION,
        budget_milli_node_hours: int = steps.BUDGET_MILLI_NODE_HOURS,
    ):
        """Retrain on the newest data and promote the model only when the gate blesses it.

        Args:
            source_uri: Where the data lands (folder of images or Vertex JSONL import file); local or ``gs://``.
            store_uri: Dataset version store (folder or ``gs://`` prefix).
            registry_uri: Model registry folder or ``gs://`` prefix (local target and text on Vertex).
            annotation_store_uri: Where paid-for annotations persist (needed when labeling is on).
            data_type: ``image`` or ``text`` (tables are refused before any step runs: run ``curate``
                and ``train``).
            task: Training task, e.g. ``image_classification`` or ``text_classification``.
            dataset_name: Dataset in the version store.
            model_name: Registered model name.
            labeling_backend: ``none`` (data arrives labeled), ``simulated`` or ``label_studio``.
            labeling_job_spec: DataLabelingJob JSON when labeling is on.
            ground_truth_uri: Simulated backend only: hidden true labels.
            label_studio_url: Label Studio backend: the server's URL; empty reads LABEL_STUDIO_URL.
            label_studio_token_secret: Label Studio backend: Secret Manager secret version with the
                API token, read at run time; empty reads LABEL_STUDIO_API_KEY (local runs).
            simulated_crowd: Simulated backend only: crowd settings JSON.
            allowed_labels: Label set accepted at import; empty accepts any.
            max_reject_rate: Fail when more than this share of items is rejected.
            hamming_threshold: Near-duplicate threshold of the prefilter (bits).
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which the prefilter drops an image.
            min_side: Smallest accepted image side in pixels.
            budget_seconds: Local trainer / custom job search budget.
            gate_config: Promotion gate thresholds (JSON).
            seed: Seed for every random choice.
            location: Vertex target only: region.
            budget_milli_node_hours: Vertex target only: AutoML training budget.
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
                seed=seed,
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
            description="retrain import",
            step="curate",
            display_name="Version new data",
        )
        labeled = label_new_items(
            items=versioned.outputs["versioned"],
            labeling_backend=labeling_backend,
            labeling_job_spec=labeling_job_spec,
            annotation_store_uri=annotation_store_uri,
            ground_truth_uri=ground_truth_uri,
            label_studio_url=label_studio_url,
            label_studio_token_secret=label_studio_token_secret,
            simulated_crowd=simulated_crowd,
            store_uri=store_uri,
            dataset_name=dataset_name,
        ).set_display_name("Label new items")
        newest = (
            checkout_dataset(store_uri=store_uri, dataset_name=dataset_name)
            .set_display_name("Check out newest version")
            .after(labeled)
            .set_caching_options(False)
        )
        items, version = newest.outputs["items"], newest.outputs["version_id"]
        registry = steps.RegistrySettings(gate_config=gate_config, registry_uri=registry_uri, model_name=model_name)
        if target == "local":
            trained = steps.train_step(
                target=target,
                items=items,
                task=task,
                budget_seconds=budget_seconds,
                seed=seed,
                name="Train (local AutoML)",
                location=location,
                dataset_version=version,
            )
            steps.gated_registration(
                model=trained.outputs["model"], items=items, registry=registry, dataset_version=version
            )
        else:
            steps.add_vertex_training(
                items=items,
                task=task,
                budget_seconds=budget_seconds,
                registry=registry,
                dataset_version=version,
                seed=seed,
                location=location,
                budget_milli_node_hours=budget_milli_node_hours,
                tabular=False,  # retrain curates images or text; tables have no branch here
            )

    return retrain
