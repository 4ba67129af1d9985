"""Steps shared by the pipelines, and the one place their defaults are defined.

Pipelines import this module, never each other (``tests/test_import_graph.py``). Every function
here adds tasks to the enclosing ``@dsl.pipeline`` body and takes keyword-only arguments; the
settings that travel together are frozen dataclasses. A default that is a core decision (reject
rate, blur and hash thresholds, split, gate) is read from the core; the rest are pipeline
decisions defined once below. ``tests/pipelines/test_defaults.py`` checks that pipelines,
components and core agree for every shared parameter name.
"""

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from kfp import dsl

from ..components.apply_machine_labels import apply_machine_labels
from ..components.build_run_report import build_run_report
from ..components.core import active_learning as al
from ..components.core import blur, gate, image_checks, import_data, prefilter, split
from ..components.deploy_model import deploy_model
from ..components.evaluate_model import evaluate_model
from ..components.find_disputes import find_disputes
from ..components.find_label_issues import find_label_issues
from ..components.gate_model import gate_model
from ..components.get_artifact_uri import get_artifact_uri
from ..components.import_dataset import import_dataset
from ..components.keep_champion import keep_champion
from ..components.label_items import label_items
from ..components.merge_labels import merge_labels
from ..components.merge_prefilter_shards import merge_prefilter_shards
from ..components.partition_items import partition_items
from ..components.predict import predict
from ..components.prefilter_images import prefilter_images
from ..components.prefilter_shard import prefilter_shard
from ..components.record_round import record_round
from ..components.register_model import register_model
from ..components.report_verification import report_verification
from ..components.require_value import require_value
from ..components.select_items import select_items
from ..components.shard_items import shard_items
from ..components.split_dataset import split_dataset
from ..components.train_model import train_model
from ..components.version_dataset import version_dataset
from . import vertex, vertex_steps
from ._targets import LOCAL_SCHEMES, VERTEX_SCHEMES

RUN = dsl.PIPELINE_JOB_NAME_PLACEHOLDER

# ---------------------------------------------------------------------------------------------
# Defaults: core decisions read from the core, pipeline decisions defined here, once.

MAX_REJECT_RATE = import_data.ImportOptions.max_reject_rate
MIN_ITEMS_PER_LABEL = import_data.ImportOptions.min_items_per_label
HAMMING_THRESHOLD = prefilter.DEFAULT_HAMMING_THRESHOLD
BLUR_THRESHOLD = blur.DEFAULT_THRESHOLD
MIN_SIDE = image_checks.DecodeLimits.min_width
SPLIT_METHOD = split.SplitSpec.method
TRAINING_FRACTION, VALIDATION_FRACTION, TEST_FRACTION = split.SplitSpec.fractions
SEED = split.SplitSpec.seed
STRATEGY = al.ActiveLearningConfig.sample_strategy
GATE_CONFIG = json.dumps(gate.DEFAULT_CONFIG)

#: Search budget of a trained model (the train_model component's default), in seconds.
BUDGET_SECONDS = 120
#: Search budget of each active-learning round's model, in seconds.
ROUND_BUDGET_SECONDS = 60
#: Search budget of the active-learning pipeline's final model, in seconds.
FINAL_BUDGET_SECONDS = 60
#: Human labeling backend: ``label_studio`` (people) or ``simulated`` (a crowd answering from ground truth).
LABELING_BACKEND = "label_studio"
#: Items a single active-learning round sends to humans (active-learning-round, select_items).
BATCH_SIZE = 100
TARGET_PRECISION = 0.98
DATASET_NAME = "labelloop-dataset"
MODEL_NAME = "labelloop-model"
LOCATION = vertex.DEFAULT_LOCATION
BUDGET_MILLI_NODE_HOURS = vertex.MIN_MILLI_NODE_HOURS["automl_image"]
#: Labeling rounds (the cold start included) the active-learning graph holds and its default
#: config allows: the one value behind both the unroll depth and ``max_rounds``.
MAX_ROUNDS = 6
#: Label verification (issue 17): most of the labeled items one job sends to people, and the
#: cross-validation folds of the out-of-fold probabilities that rank them.
MAX_RELABEL_FRACTION = 0.15
VERIFICATION_FOLDS = 5
#: Sharded steps (issue 18): shards, each shard task's CPU and memory on Vertex, shard tasks at once.
SHARD_COUNT = 8
SHARD_CPU = "4"
SHARD_MEMORY = "16G"
SHARD_PARALLELISM = 32
#: The merge task after a fan-out: enough for a few million images (docs/scale-out.md sizes it for more).
MERGE_CPU = "8"
MERGE_MEMORY = "32G"


def active_learning_config(*, max_rounds: int = MAX_ROUNDS, **overrides: Any) -> str:
    """The default ActiveLearningConfig JSON, with ``max_rounds`` equal to what the graph holds."""
    config = {
        "max_data_item_percentage": 30,
        "initial_batch_sample_percentage": 3,
        "following_batch_sample_percentage": 4,
        "sample_strategy": STRATEGY,
        "max_rounds": max_rounds,
        "plateau_rounds": 3,
        "cost_per_label": 0.05,
    }
    return json.dumps({**config, **overrides})


ACTIVE_LEARNING_CONFIG = active_learning_config()


def schemes(target: str) -> list:
    """URI schemes items may use on ``target``."""
    return LOCAL_SCHEMES if target == "local" else VERTEX_SCHEMES


# ---------------------------------------------------------------------------------------------
# Settings that travel together (their fields hold pipeline channels or constants)


@dataclass(frozen=True)
class CurateSettings:
    """What import → prefilter → split needs besides the source."""

    data_type: Any
    allowed_labels: Any
    allowed_uri_schemes: list
    source_format: Any = "auto"
    max_reject_rate: Any = MAX_REJECT_RATE
    min_items_per_label: Any = MIN_ITEMS_PER_LABEL
    hamming_threshold: Any = HAMMING_THRESHOLD
    blur_threshold: Any = BLUR_THRESHOLD
    min_side: Any = MIN_SIDE
    split_method: Any = SPLIT_METHOD
    target_column: Any = ""
    time_field: Any = ""
    group_column: Any = ""
    training_fraction: Any = TRAINING_FRACTION
    validation_fraction: Any = VALIDATION_FRACTION
    test_fraction: Any = TEST_FRACTION
    seed: Any = SEED
    #: Tables as JSONL row items (pipelines that label, version and run rounds on them).
    table_rows_as_items: Any = False


@dataclass(frozen=True)
class LabelingSettings:
    """Where labels are bought and where the labeled versions go."""

    job_spec: Any
    annotation_store_uri: Any
    backend: Any
    ground_truth_uri: Any
    simulated_crowd: Any
    store_uri: Any
    dataset_name: Any
    label_studio_url: Any = ""
    label_studio_token_secret: Any = ""


@dataclass(frozen=True)
class RoundSettings:
    """One active-learning round's training and selection settings, beside its labeling."""

    target: str
    labeling: LabelingSettings
    task: Any
    strategy: Any
    config: Any
    round_budget_seconds: Any
    seed: Any
    location: Any


@dataclass(frozen=True)
class RegistrySettings:
    """The promotion gate and the registry a blessed model goes to."""

    gate_config: Any
    registry_uri: Any
    model_name: Any


@dataclass(frozen=True)
class ShardSettings:
    """How a sharded step fans out: shard count (or size), each shard task's machine, tasks at once.

    ``parallelism`` is fixed when the pipeline is built (KFP compiles it into the spec); the
    others may be pipeline parameters. CPU and memory size the machine on Vertex only
    (:func:`size_machine`).
    """

    target: str
    shard_count: Any = SHARD_COUNT
    shard_size: Any = 0
    cpu: Any = SHARD_CPU
    memory: Any = SHARD_MEMORY
    parallelism: int = SHARD_PARALLELISM
    merge_cpu: Any = MERGE_CPU
    merge_memory: Any = MERGE_MEMORY


class CurateTasks(NamedTuple):
    """The curate tasks, for pipelines that build on them."""

    imported: object
    prefiltered: object
    split: object


# ---------------------------------------------------------------------------------------------
# Curate


def curate_steps(*, source_uri, settings: CurateSettings, sharding: ShardSettings | None = None) -> CurateTasks:
    """Add import → prefilter → split to the enclosing pipeline; with ``sharding`` the prefilter fans
    out over shards (same kept items; ``prefiltered`` is then the merge task, with the same outputs)."""
    imported = import_step(source_uri=source_uri, settings=settings)
    if sharding is None:
        prefiltered = prefilter_step(items=imported.outputs["items"], settings=settings)
    else:
        prefiltered = sharded_prefilter_steps(items=imported.outputs["items"], settings=settings, sharding=sharding)
    return CurateTasks(imported, prefiltered, split_step(items=prefiltered.outputs["kept"], settings=settings))


def import_step(*, source_uri, settings: CurateSettings):
    """Import and validate the source into a manifest."""
    return import_dataset(
        source_uri=source_uri,
        source_format=settings.source_format,
        data_type=settings.data_type,
        allowed_labels=settings.allowed_labels,
        max_reject_rate=settings.max_reject_rate,
        min_items_per_label=settings.min_items_per_label,
        allowed_uri_schemes=settings.allowed_uri_schemes,
        target_column=settings.target_column,
        **({"table_rows_as_items": True} if settings.table_rows_as_items is True else {}),
    ).set_display_name("Import and validate")


def prefilter_step(*, items, settings: CurateSettings):
    """Drop duplicate, blurry and corrupt images in one task."""
    return prefilter_images(
        items=items,
        hamming_threshold=settings.hamming_threshold,
        blur_threshold=settings.blur_threshold,
        min_width=settings.min_side,
        min_height=settings.min_side,
    ).set_display_name("Drop duplicates, blurry and corrupt images")


def split_step(*, items, settings: CurateSettings):
    """Split a manifest into training / validation / test."""
    return split_dataset(
        items=items,
        method=settings.split_method,
        training_fraction=settings.training_fraction,
        validation_fraction=settings.validation_fraction,
        test_fraction=settings.test_fraction,
        seed=settings.seed,
        target_column=settings.target_column,
        time_field=settings.time_field,
        group_column=settings.group_column,
    ).set_display_name("Split into training / validation / test")


def size_machine(task, target: str, *, cpu, memory) -> None:
    """Size the task's machine on Vertex: its CPU and memory limits pick the machine type
    (https://cloud.google.com/vertex-ai/docs/pipelines/machine-types). Locally the limits would do
    nothing, and kfp 2.17's local runner cannot resolve a pipeline parameter given to them inside a
    ParallelFor, so the local target leaves them out."""
    if target == "vertex":
        task.set_cpu_limit(cpu).set_memory_limit(memory)


def shard_step(*, items, sharding: ShardSettings, display_name: str = "Split into shards"):
    """Split a manifest into shards; its ``Output`` is the list a ``dsl.ParallelFor`` fans out over."""
    return shard_items(items=items, shard_count=sharding.shard_count, shard_size=sharding.shard_size).set_display_name(
        display_name
    )


def sharded_prefilter_steps(*, items, settings: CurateSettings, sharding: ShardSettings):
    """The prefilter with its per-image work fanned out over shards; the merge task's ``kept`` and
    ``rejects`` are identical to ``prefilter_images``' on the whole manifest."""
    thresholds = dict(
        hamming_threshold=settings.hamming_threshold,
        blur_threshold=settings.blur_threshold,
        min_width=settings.min_side,
        min_height=settings.min_side,
    )
    split = shard_step(items=items, sharding=sharding)
    with dsl.ParallelFor(split.outputs["Output"], parallelism=sharding.parallelism, name="prefilter-shards") as shard:
        inspected = prefilter_shard(shards=split.outputs["shards"], shard=shard, **thresholds).set_display_name(
            "Inspect one shard's images"
        )
        size_machine(inspected, sharding.target, cpu=sharding.cpu, memory=sharding.memory)
    merged = merge_prefilter_shards(
        items=items, facts=dsl.Collected(inspected.outputs["facts"]), **thresholds
    ).set_display_name("Find duplicates across shards")
    size_machine(merged, sharding.target, cpu=sharding.merge_cpu, memory=sharding.merge_memory)
    return merged


def version_step(*, items, labeling: LabelingSettings, description: str, step: str, display_name: str):
    """Store ``items`` as a new version of the dataset (never cached: the store is outside KFP)."""
    return (
        version_dataset(
            items=items,
            store_uri=labeling.store_uri,
            dataset_name=labeling.dataset_name,
            description=description,
            pipeline_run=RUN,
            producing_step=step,
        )
        .set_display_name(display_name)
        .set_caching_options(False)
    )


def create_vertex_dataset(*, items, data_type, display_name, location):
    """Import the manifest (as a ``.jsonl`` file) into the managed dataset ``display_name``, reused run after run."""
    for kind in ("image", "text"):
        with dsl.If(data_type == kind, name=f"{kind}-dataset"):
            vertex_steps.add_managed_dataset(
                items=items,
                location=location,
                display_name=display_name,
                data_type=kind,
                import_schema_uri=vertex.IMPORT_SCHEMAS[kind],
            ).set_display_name(f"Vertex {kind} dataset (reused)")


# ---------------------------------------------------------------------------------------------
# Train, gate, register


def train_step(
    *,
    target: str,
    items,
    task,
    budget_seconds,
    seed,
    name: str,
    location,
    dataset_version="",
    target_column="",
    cv_folds: int | None = None,
):
    """Train with the local AutoML trainer, or the same component as a Vertex custom job in ``location``."""
    inputs = dict(items=items, task=task, budget_seconds=budget_seconds, seed=seed, dataset_version=dataset_version)
    if target_column != "":
        inputs["target_column"] = target_column
    if cv_folds is not None:
        inputs["cv_folds"] = cv_folds
    if target == "local":
        trained = train_model(**inputs)
    else:
        trained = vertex.add_custom_training_job(project=vertex.RUN_PROJECT, location=location, **inputs)
    return trained.set_display_name(name)


@dsl.pipeline(name="gate-and-register", description="Evaluate a model, gate it, register it when blessed.")
def gate_and_register(
    model: dsl.Input[dsl.Model],
    items: dsl.Input[dsl.Dataset],
    gate_config: str,
    registry_uri: str,
    model_name: str,
    dataset_version: str,
    target_column: str = "",
) -> NamedTuple(
    "Outputs",
    champion_version=str,
    blessed=bool,
    blessing=dsl.Artifact,
    metrics=dsl.Metrics,
    classification_metrics=dsl.ClassificationMetrics,
    report=dsl.HTML,
):
    """evaluate → gate → register and serve when blessed (else keep the champion).

    A sub-pipeline of its own: its If/Else then stays apart from other pipelines' condition groups
    (KFP 2.17 mis-wires an If/Else beside a nested sub-pipeline otherwise).

    Args:
        model: The challenger, trained by ``train_model``.
        items: Labeled, split manifest; its test split scores challenger and champion alike.
        gate_config: JSON thresholds of the promotion gate.
        registry_uri: Model registry folder or ``gs://`` prefix.
        model_name: Registered model name.
        dataset_version: Version id of the training data (lineage).
        target_column: Tabular tasks: the column to predict.

    Returns:
        champion_version: The champion after the gate: the new version when blessed, else the old one.
        blessed: Whether the gate blessed the challenger.
        blessing: The gate's report, a reason per threshold.
        metrics: Test-split metrics of the challenger.
        classification_metrics: Confusion matrix and ROC points of the challenger.
        report: HTML evaluation report of the challenger.
    """
    evaluation = evaluate_model(model=model, items=items, target_column=target_column).set_display_name(
        "Evaluate on test split"
    )
    verdict = gate_model(
        challenger=model,
        items=items,
        gate_config=gate_config,
        registry_uri=registry_uri,
        model_name=model_name,
        target_column=target_column,
    ).set_display_name("Promotion gate")
    with dsl.If(verdict.outputs["Output"] == True, name="blessed"):
        registered = register_model(
            model=model,
            registry_uri=registry_uri,
            model_name=model_name,
            dataset_version=dataset_version,
            blessing=verdict.outputs["blessing"],
        ).set_display_name("Register and promote")
        deploy_model(
            registry_uri=registry_uri, model_name=model_name, version=registered.outputs["version"]
        ).set_display_name("Serve the new champion")
    with dsl.Else(name="refused"):
        kept = keep_champion(registry_uri=registry_uri, model_name=model_name).set_display_name("Keep the champion")
    outputs = NamedTuple(
        "Outputs",
        champion_version=str,
        blessed=bool,
        blessing=dsl.Artifact,
        metrics=dsl.Metrics,
        classification_metrics=dsl.ClassificationMetrics,
        report=dsl.HTML,
    )
    return outputs(
        dsl.OneOf(registered.outputs["version"], kept.outputs["version"]),
        verdict.outputs["Output"],
        verdict.outputs["blessing"],
        evaluation.outputs["metrics"],
        evaluation.outputs["classification_metrics"],
        evaluation.outputs["report"],
    )


def gated_registration(*, model, items, registry: RegistrySettings, dataset_version, target_column=""):
    """Add the gate-and-register sub-pipeline for ``model``; returns its task."""
    return gate_and_register(
        model=model,
        items=items,
        gate_config=registry.gate_config,
        registry_uri=registry.registry_uri,
        model_name=registry.model_name,
        dataset_version=dataset_version,
        target_column=target_column,
    ).set_display_name("Evaluate, gate, register")


def add_vertex_training(
    *,
    items,
    task,
    target_column="",
    budget_seconds,
    registry: RegistrySettings,
    dataset_version,
    seed,
    location,
    budget_milli_node_hours,
    tabular: bool = True,
):
    """Vertex branches: gated AutoML image / AutoML tabular, or our trainer as a custom job for text.

    AutoML trains on the items' ``ml_use`` split as a new version of the Vertex model
    ``registry.model_name``; it is gated on its Vertex evaluation against the ``champion`` alias
    and deployed to the model's one endpoint only when blessed (``vertex_steps``). Every Vertex step
    runs in the run's own project (``vertex.RUN_PROJECT``) and in ``location``. ``tabular=False``
    leaves out the tabular branches (pipelines whose data is images or text).
    """
    from google_cloud_pipeline_components.v1.dataset import TabularDatasetCreateOp

    model_name = registry.model_name
    gated = dict(location=location, model_name=model_name, task=task, gate_config=registry.gate_config)
    for kind, multi_label in (("image_classification", False), ("image_multilabel", True)):
        name = "automl-image-multilabel" if multi_label else "automl-image"
        with dsl.If(task == kind, name=name):
            images = vertex_steps.add_managed_dataset(
                items=items,
                location=location,
                display_name=model_name,
                data_type="image",
                import_schema_uri=vertex.IMPORT_SCHEMAS["image_multilabel" if multi_label else "image"],
            ).set_display_name("Vertex image dataset (reused)")
            vertex_steps.add_gated_automl_image(
                dataset=images.outputs["dataset"],
                multi_label=multi_label,
                budget_milli_node_hours=budget_milli_node_hours,
                **gated,
            )
    if tabular:
        for kind, regression in (("tabular_classification", False), ("tabular_regression", True)):
            with dsl.If(task == kind, name=f"automl-{kind.replace('_', '-')}"):
                column = require_value(
                    value=target_column, name="target_column", needed_by="AutoML tabular training"
                ).set_display_name("Target column given")
                uri = get_artifact_uri(artifact=items).set_display_name("Table URI")
                table = TabularDatasetCreateOp(
                    project=vertex.RUN_PROJECT,
                    location=location,
                    display_name=model_name,
                    gcs_source=uri.outputs["uri"],
                ).after(column)
                vertex_steps.add_gated_automl_tabular(
                    dataset=table.outputs["dataset"],
                    target_column=column.outputs["value"],
                    regression=regression,
                    budget_milli_node_hours=budget_milli_node_hours,
                    **gated,
                )
    with dsl.If(task == "text_classification", name="custom-job-text"):
        registry_uri = require_value(
            value=registry.registry_uri, name="registry_uri", needed_by="the text model's registry"
        ).set_display_name("Registry given")
        trained = vertex.add_custom_training_job(
            project=vertex.RUN_PROJECT,
            location=location,
            items=items,
            task=task,
            budget_seconds=budget_seconds,
            dataset_version=dataset_version,
            seed=seed,
        )
        gated_registration(
            model=trained.outputs["model"],
            items=items,
            registry=RegistrySettings(
                gate_config=registry.gate_config, registry_uri=registry_uri.outputs["value"], model_name=model_name
            ),
            dataset_version=dataset_version,
        )


# ---------------------------------------------------------------------------------------------
# Label


def label_task(*, to_label, labeling: LabelingSettings, display_name: str, **options):
    """A ``label_items`` task for ``to_label`` with the run's labeling settings (never cached: labels cost money
    and a cached task would not ask for the ones still missing); ``options``: ``predictions``, ``review``."""
    return (
        label_items(
            items=to_label,
            job_spec=labeling.job_spec,
            annotation_store_uri=labeling.annotation_store_uri,
            backend=labeling.backend,
            ground_truth_uri=labeling.ground_truth_uri,
            simulated_crowd=labeling.simulated_crowd,
            label_studio_url=labeling.label_studio_url,
            label_studio_token_secret=labeling.label_studio_token_secret,
            **options,
        )
        .set_display_name(display_name)
        .set_caching_options(False)
    )


def label_round(*, items, to_label, predictions, labeling: LabelingSettings, step: str):
    """label ─▶ merge ─▶ version: buys labels for ``to_label`` and stores the new dataset version."""
    optional = {"predictions": predictions} if predictions is not None else {}
    labeled = label_task(to_label=to_label, labeling=labeling, display_name=f"Label ({step})", **optional)
    merged = merge_labels(items=items, labeled=labeled.outputs["labeled"]).set_display_name(f"Merge labels ({step})")
    version = version_step(
        items=merged.outputs["merged"],
        labeling=labeling,
        description=f"labels from {step}",
        step=step,
        display_name=f"Version dataset ({step})",
    )
    return labeled, version


def add_round(*, settings: RoundSettings, index: int, depth: int, items, batch_size, previous_rounds):
    """One round, and inside its stop guard, the next one (up to ``depth``)."""
    step = f"round {index}"
    labeling = settings.labeling
    trained = train_step(
        target=settings.target,
        items=items,
        task=settings.task,
        budget_seconds=settings.round_budget_seconds,
        seed=settings.seed,
        name=f"Train ({step})",
        location=settings.location,
    )
    model = trained.outputs["model"]
    evaluated = evaluate_model(model=model, items=items).set_display_name(f"Evaluate ({step})")
    parts = partition_items(items=items).set_display_name(f"Find the pool ({step})")
    scored = predict(model=model, items=parts.outputs["pool"]).set_display_name(f"Predict pool ({step})")
    chosen = select_items(
        items=parts.outputs["pool"],
        predictions=scored.outputs["predictions"],
        strategy=settings.strategy,
        batch_size=batch_size,
        seed=settings.seed,
        labeled_count=parts.outputs["pool_labeled"],
    ).set_display_name(f"Select items ({step})")
    _, version = label_round(
        items=items,
        to_label=chosen.outputs["selected"],
        predictions=scored.outputs["predictions"],
        labeling=labeling,
        step=step,
    )
    history = {"previous_rounds": previous_rounds} if previous_rounds is not None else {}  # else: from the store
    record = (
        record_round(
            selected=chosen.outputs["selected"],
            config_json=settings.config,
            total_items=parts.outputs["total"],
            remaining=chosen.outputs["remaining"],
            strategy=settings.strategy,
            evaluation=evaluated.outputs["metrics"],
            store_uri=labeling.store_uri,
            dataset_name=labeling.dataset_name,
            **history,
        )
        .set_display_name(f"Record round {index}")
        .after(version)
        .set_caching_options(False)
    )
    if index < depth:
        with dsl.If(record.outputs["Output"] > 0):
            add_round(
                settings=settings,
                index=index + 1,
                depth=depth,
                items=version.outputs["versioned"],
                batch_size=record.outputs["Output"],
                previous_rounds=record.outputs["rounds"],
            )
    return record


#: The final model's search cross-validates with this many folds: the validation items' held-out
#: predictions, which calibrate the machine-label thresholds, then come from fits on 80 % of the
#: human labels, close to the final model's confidence (fits on the training split alone, 55 % in
#: the demo, are less sure, and their thresholds let through far more of the refitted model's items).
MACHINE_LABEL_CV_FOLDS = 5


def review_disputes(*, items, predictions, model, labeling: LabelingSettings):
    """find disputes ─▶ reviewers label them (the job spec's ``disputeReview``) ─▶ merge: the
    evaluation items with reviewed labels (unchanged when the spec has no review or nothing is disputed).

    Runs before the gate and the machine labels, which both trust the validation and test labels.
    """
    disputed = find_disputes(
        items=items, predictions=predictions, job_spec=labeling.job_spec, model=model
    ).set_display_name("Find disputed evaluation labels")
    reviewed = label_task(
        to_label=disputed.outputs["suspects"], labeling=labeling, display_name="Review disputed labels", review=True
    )
    merged = merge_labels(items=items, labeled=reviewed.outputs["labeled"]).set_display_name("Merge reviewed labels")
    return merged.outputs["merged"]


def finish(
    *,
    target: str,
    curated: CurateTasks,
    final,
    task,
    budget_seconds,
    registry: RegistrySettings,
    target_precision,
    labeling: LabelingSettings,
    seed,
    location,
    active_learning_config="",
    comparison_seeds=0,
):
    """Final model on every human label, its gate, machine labels for the confident rest, the report.

    With ``comparison_seeds`` and the simulated backend's ground truth, the report sets the
    configured strategy against random sampling on the final dataset (learning curves over seeds).
    """
    items = final.outputs["items"]
    trained = train_step(
        target=target,
        items=items,
        task=task,
        budget_seconds=budget_seconds,
        seed=seed,
        name="Train final model",
        location=location,
        dataset_version=final.outputs["version_id"],
        cv_folds=MACHINE_LABEL_CV_FOLDS,
    )
    model = trained.outputs["model"]
    scored = predict(model=model, items=items).set_display_name("Predict every item")
    items = review_disputes(items=items, predictions=scored.outputs["predictions"], model=model, labeling=labeling)
    gated = gated_registration(model=model, items=items, registry=registry, dataset_version=final.outputs["version_id"])
    parts = partition_items(items=items).set_display_name("Find unlabeled rest")
    predicted_by = get_artifact_uri(artifact=model).set_display_name("Final model URI")
    machine = apply_machine_labels(
        pool=parts.outputs["pool"],
        labeled=items,
        predictions=scored.outputs["predictions"],
        model_version=predicted_by.outputs["uri"],  # the model that predicted, not the dataset version
        target_precision=target_precision,
        model=model,  # its held-out predictions calibrate the thresholds
    ).set_display_name("Machine-label the confident rest")
    merged = merge_labels(items=items, labeled=machine.outputs["machine_labeled"]).set_display_name(
        "Merge machine labels"
    )
    version = version_step(
        items=merged.outputs["merged"],
        labeling=labeling,
        description="human + machine labels",
        step="machine labels",
        display_name="Version final dataset",
    )
    return (
        build_run_report(
            import_metrics=curated.imported.outputs["metrics"],
            import_rejects=curated.imported.outputs["rejects"],
            prefilter_metrics=curated.prefiltered.outputs["metrics"],
            prefilter_kept=curated.prefiltered.outputs["kept"],
            prefilter_rejects=curated.prefiltered.outputs["rejects"],
            evaluation=gated.outputs["metrics"],
            classification_metrics=gated.outputs["classification_metrics"],
            machine_labels=machine.outputs["metrics"],
            items=version.outputs["versioned"],
            blessed=gated.outputs["blessed"],
            blessing=gated.outputs["blessing"],
            champion_version=gated.outputs["champion_version"],
            store_uri=labeling.store_uri,
            dataset_name=labeling.dataset_name,
            annotation_store_uri=labeling.annotation_store_uri,
            active_learning_config=active_learning_config,
            ground_truth_uri=labeling.ground_truth_uri,
            comparison_seeds=comparison_seeds,
        )
        .set_display_name("Run report")
        .set_caching_options(False)
    )


# ---------------------------------------------------------------------------------------------
# Verify labels


@dataclass(frozen=True)
class VerificationSettings:
    """How suspects are found and how many may go to people."""

    task: Any
    max_relabel_fraction: Any = MAX_RELABEL_FRACTION
    max_suspects: Any = 0
    folds: Any = VERIFICATION_FOLDS
    seed: Any = SEED


def verification_steps(*, items, settings: VerificationSettings, labeling: LabelingSettings):
    """find suspects ─▶ label them (a verification job) ─▶ merge ─▶ version ─▶ report.

    The merge overwrites a suspect's label with the verified one (the old one goes to
    ``labelloop.label_history``) and keeps the label of a suspect nobody answered; the report
    fails the run if the new version does not hold exactly the dataset's items.
    """
    found = find_label_issues(
        items=items,
        task=settings.task,
        max_suspects=settings.max_suspects,
        max_fraction=settings.max_relabel_fraction,
        folds=settings.folds,
        seed=settings.seed,
    ).set_display_name("Find likely mislabeled items")
    labeled, version = label_round(
        items=items, to_label=found.outputs["suspects"], predictions=None, labeling=labeling, step="verification"
    )
    return (
        report_verification(
            items=items,
            suspects=found.outputs["suspects"],
            labeled=labeled.outputs["labeled"],
            versioned=version.outputs["versioned"],
            labeling_metrics=labeled.outputs["metrics"],
            annotation_store_uri=labeling.annotation_store_uri,
            version_id=version.outputs["version_id"],
            ground_truth_uri=labeling.ground_truth_uri,
        )
        .set_display_name("Verification report")
        .set_caching_options(False)
    )
