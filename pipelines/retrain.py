"""The ``retrain`` pipeline: the recurring one.

    curate new data ─▶ version ─▶ (label the new unlabeled items) ─▶ check out newest version
                    ─▶ train ─▶ evaluate ─▶ gate against the champion ─▶ promote (─▶ deploy on Vertex)

Schedule it (``labelloop schedule retrain --cron "0 3 * * 1" --max-concurrent 1``). Re-imported items
keep their content ids, and labels bought earlier stay in the annotation store, so a run only pays
for items it has not seen; unchanged data gives the same dataset version.
"""

from kfp import dsl

from ..components.checkout_dataset import checkout_dataset
from ..components.get_artifact_uri import get_artifact_uri
from ..components.partition_items import partition_items
from ..components.train_model import train_model
from ..components.version_dataset import version_dataset
from ._targets import LOCAL_SCHEMES, VERTEX_SCHEMES, check_target
from .active_learning import RUN, label_round
from .curate import curate_steps
from .train import DEFAULT_GATE, add_vertex_training, gated_registration


@dsl.pipeline(name="label-new-items", description="Label a dataset's unlabeled items unless labeling is off.")
def label_new_items(
    dataset: dsl.Input[dsl.Dataset],
    labeling_backend: str,
    labeling_job_spec: str,
    annotation_store_uri: str,
    ground_truth_uri: str,
    simulated_crowd: str,
    store_uri: str,
    dataset_name: str,
):
    """Label every unlabeled item (evaluation items, then the rest) and store a new version.

    Args:
        dataset: The newly versioned dataset.
        labeling_backend: ``label_studio``, ``simulated``, or ``none`` to skip labeling.
        labeling_job_spec: DataLabelingJob JSON; its budget caps what a run may buy.
        annotation_store_uri: Where paid-for annotations persist; earlier labels are reused, not re-bought.
        ground_truth_uri: Simulated backend only: hidden true labels.
        simulated_crowd: Simulated backend only: crowd settings JSON.
        store_uri: Dataset version store.
        dataset_name: Dataset in the store.
    """
    settings = dict(
        job_spec=labeling_job_spec,
        annotation_store_uri=annotation_store_uri,
        labeling_backend=labeling_backend,
        ground_truth_uri=ground_truth_uri,
        simulated_crowd=simulated_crowd,
        store_uri=store_uri,
        dataset_name=dataset_name,
    )
    with dsl.If(labeling_backend != "none", name="labeling-on"):
        parts = partition_items(items=dataset).set_display_name("Find unlabeled items")
        _, evaluation = label_round(
            dataset, parts.outputs["evaluation_pending"], None, settings, "new evaluation items"
        )
        label_round(evaluation.outputs["versioned"], parts.outputs["pool"], None, settings, "new training items")


def build_pipeline(target: str = "local"):
    """The retrain pipeline for ``target``."""
    check_target(target)

    @dsl.pipeline(name="retrain", description="Import new data, version it, label what is new, retrain, gate, promote.")
    def retrain(
        source_uri: str,
        store_uri: str,
        registry_uri: str,
        annotation_store_uri: str = "",
        data_type: str = "image",
        task: str = "image_classification",
        dataset_name: str = "labelloop-dataset",
        model_name: str = "labelloop-model",
        labeling_backend: str = "none",
        labeling_job_spec: str = "{}",
        ground_truth_uri: str = "",
        simulated_crowd: str = "{}",
        allowed_labels: list = [],
        max_reject_rate: float = 0.1,
        hamming_threshold: int = 8,
        blur_threshold: float = 0.86,
        min_side: int = 32,
        budget_seconds: int = 120,
        gate_config: str = DEFAULT_GATE,
        seed: int = 0,
        project: str = "",
        location: str = "us-central1",
        budget_milli_node_hours: int = 8000,
    ):
        """Retrain on the newest data and promote the model only when the gate blesses it.

        Args:
            source_uri: Where the data lands (folder of images or Vertex JSONL import file); local or ``gs://``.
            store_uri: Dataset version store (folder or ``gs://`` prefix).
            registry_uri: Model registry folder or ``gs://`` prefix (local target and text on Vertex).
            annotation_store_uri: Where paid-for annotations persist (needed when labeling is on).
            data_type: ``image`` or ``text``.
            task: Training task, e.g. ``image_classification`` or ``text_classification``.
            dataset_name: Dataset in the version store.
            model_name: Registered model name.
            labeling_backend: ``none`` (data arrives labeled), ``simulated`` or ``label_studio``.
            labeling_job_spec: DataLabelingJob JSON when labeling is on.
            ground_truth_uri: Simulated backend only: hidden true labels.
            simulated_crowd: Simulated backend only: crowd settings JSON.
            allowed_labels: Label set accepted at import; empty accepts any.
            max_reject_rate: Fail when more than this share of items is rejected.
            hamming_threshold: Near-duplicate threshold of the prefilter (bits).
            blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which the prefilter drops an image.
            min_side: Smallest accepted image side in pixels.
            budget_seconds: Local trainer / custom job search budget.
            gate_config: Promotion gate thresholds (JSON).
            seed: Seed for every random choice.
            project: Vertex target only: Google Cloud project.
            location: Vertex target only: region.
            budget_milli_node_hours: Vertex target only: AutoML training budget.
        """
        curated = curate_steps(
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
        versioned = (
            version_dataset(
                items=curated.split.outputs["split"],
                store_uri=store_uri,
                dataset_name=dataset_name,
                description="retrain import",
                pipeline_run=RUN,
                producing_step="curate",
            )
            .set_display_name("Version new data")
            .set_caching_options(False)
        )
        labeled = label_new_items(
            dataset=versioned.outputs["versioned"],
            labeling_backend=labeling_backend,
            labeling_job_spec=labeling_job_spec,
            annotation_store_uri=annotation_store_uri,
            ground_truth_uri=ground_truth_uri,
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
        dataset, version = newest.outputs["items"], newest.outputs["version_id"]
        if target == "local":
            trained = train_model(
                items=dataset, task=task, budget_seconds=budget_seconds, dataset_version=version, seed=seed
            ).set_display_name("Train (local AutoML)")
            gated_registration(
                trained.outputs["model"], dataset, task, "", gate_config, registry_uri, model_name, version
            )
        else:
            uri = get_artifact_uri(artifact=dataset).set_display_name("Dataset URI")
            add_vertex_training(
                dataset,
                uri.output,
                task,
                "",
                budget_seconds,
                gate_config,
                registry_uri,
                model_name,
                version,
                seed,
                project,
                location,
                budget_milli_node_hours,
            )

    return retrain
