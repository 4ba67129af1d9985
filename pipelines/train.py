"""The ``train`` pipeline: labeled manifest → train → evaluate → gate → (blessed) register.

Local target: our AutoML trainer, evaluation, the promotion gate and the folder/``gs://`` registry.
Vertex target: image and tabular tasks train with Vertex AutoML (GCPC ops on a managed dataset
created from the manifest), which registers versions in Vertex Model Registry and deploys with
EndpointCreateOp/ModelDeployOp; text trains our component as a Vertex custom job and then goes
through the same evaluate → gate → register steps as the local target.
"""

from typing import NamedTuple

from kfp import dsl

from ..components.evaluate_model import evaluate_model
from ..components.gate_model import gate_model
from ..components.keep_champion import keep_champion
from ..components.register_model import register_model
from ..components.train_model import train_model
from ._targets import IMPORT_SCHEMAS, check_target

DEFAULT_GATE = (
    '{"value_thresholds": {"accuracy": {"lower_bound": 0.5}}, "change_thresholds": {"accuracy": {"absolute": 0.0}}}'
)


@dsl.pipeline(name="gate-and-register", description="Evaluate a model, gate it, register it when blessed.")
def gate_and_register(
    model: dsl.Input[dsl.Model],
    dataset: dsl.Input[dsl.Dataset],
    gate_config: str,
    registry_uri: str,
    model_name: str,
    dataset_version: str,
    target_column: str = "",
) -> NamedTuple(
    "Outputs", champion_version=str, blessed=bool, blessing=dsl.Artifact, metrics=dsl.Metrics, report=dsl.HTML
):
    """evaluate → gate → register when blessed (else keep the champion).

    A sub-pipeline of its own: its If/Else then stays apart from other pipelines' condition groups
    (KFP 2.17 mis-wires an If/Else beside a nested sub-pipeline otherwise).

    Args:
        model: The challenger, trained by ``train_model``.
        dataset: Labeled, split manifest; its test split scores challenger and champion alike.
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
        report: HTML evaluation report of the challenger.
    """
    evaluation = evaluate_model(model=model, items=dataset, target_column=target_column).set_display_name(
        "Evaluate on test split"
    )
    gate = gate_model(
        challenger=model,
        items=dataset,
        gate_config=gate_config,
        registry_uri=registry_uri,
        model_name=model_name,
        target_column=target_column,
    ).set_display_name("Promotion gate")
    with dsl.If(gate.outputs["Output"] == True, name="blessed"):
        registered = register_model(
            model=model,
            registry_uri=registry_uri,
            model_name=model_name,
            dataset_version=dataset_version,
            blessing=gate.outputs["blessing"],
        ).set_display_name("Register and promote")
    with dsl.Else(name="refused"):
        kept = keep_champion(registry_uri=registry_uri, model_name=model_name).set_display_name("Keep the champion")
    outputs = NamedTuple(
        "Outputs", champion_version=str, blessed=bool, blessing=dsl.Artifact, metrics=dsl.Metrics, report=dsl.HTML
    )
    return outputs(
        dsl.OneOf(registered.outputs["version"], kept.outputs["version"]),
        gate.outputs["Output"],
        gate.outputs["blessing"],
        evaluation.outputs["metrics"],
        evaluation.outputs["report"],
    )


def gated_registration(model, dataset, task, target_column, gate_config, registry_uri, model_name, dataset_version):
    """Add the gate-and-register sub-pipeline for ``model``; returns its task."""
    return gate_and_register(
        model=model,
        dataset=dataset,
        gate_config=gate_config,
        registry_uri=registry_uri,
        model_name=model_name,
        dataset_version=dataset_version,
        target_column=target_column,
    ).set_display_name("Evaluate, gate, register")


def build_pipeline(target: str = "local"):
    """The train pipeline for ``target`` (``local`` or ``vertex``)."""
    check_target(target)

    @dsl.pipeline(name="train", description="Train, evaluate and gate a model; register it when it beats the champion.")
    def train(
        dataset_uri: str,
        task: str = "image_classification",
        target_column: str = "",
        budget_seconds: int = 120,
        gate_config: str = DEFAULT_GATE,
        registry_uri: str = "",
        model_name: str = "labelloop-model",
        dataset_version: str = "",
        seed: int = 0,
        project: str = "",
        location: str = "us-central1",
        budget_milli_node_hours: int = 8000,
    ):
        """Train and gate a model.

        Args:
            dataset_uri: Labeled, split manifest (JSONL) or table (CSV/Parquet with ``ml_use``);
                local path or ``gs://``.
            task: ``image_classification``, ``image_multilabel``, ``text_classification``,
                ``tabular_classification`` or ``tabular_regression``.
            target_column: Tabular tasks: the column to predict.
            budget_seconds: Local trainer / custom job search budget.
            gate_config: JSON thresholds of the promotion gate.
            registry_uri: Model registry folder or ``gs://`` prefix.
            model_name: Registered model name.
            dataset_version: Version id of the training data (lineage).
            seed: Seed of the search.
            project: Vertex target only: Google Cloud project.
            location: Vertex target only: region.
            budget_milli_node_hours: Vertex target only: AutoML training budget.
        """
        dataset = dsl.importer(artifact_uri=dataset_uri, artifact_class=dsl.Dataset, reimport=False).output
        if target == "local":
            trained = train_model(
                items=dataset,
                task=task,
                target_column=target_column,
                budget_seconds=budget_seconds,
                dataset_version=dataset_version,
                seed=seed,
            ).set_display_name("Train (local AutoML)")
            gated_registration(
                trained.outputs["model"],
                dataset,
                task,
                target_column,
                gate_config,
                registry_uri,
                model_name,
                dataset_version,
            )
            return
        add_vertex_training(
            dataset,
            dataset_uri,
            task,
            target_column,
            budget_seconds,
            gate_config,
            registry_uri,
            model_name,
            dataset_version,
            seed,
            project,
            location,
            budget_milli_node_hours,
        )

    return train


def add_vertex_training(
    dataset,
    dataset_uri,
    task,
    target_column,
    budget_seconds,
    gate_config,
    registry_uri,
    model_name,
    dataset_version,
    seed,
    project,
    location,
    budget_milli_node_hours,
):
    """Vertex branches: AutoML image / AutoML tabular / custom job of our trainer for text."""
    from google_cloud_pipeline_components.v1.dataset import ImageDatasetCreateOp, TabularDatasetCreateOp

    from ..components import vertex_training as vt

    with dsl.If(task == "image_classification", name="automl-image"):
        images = ImageDatasetCreateOp(
            project=project,
            location=location,
            display_name=model_name,
            gcs_source=dataset_uri,
            import_schema_uri=IMPORT_SCHEMAS["image"],
        )
        trained = vt.add_automl_image_training(
            project, location, images.outputs["dataset"], model_name, False, budget_milli_node_hours, ("challenger",)
        )
        vt.add_endpoint_deployment(project, location, trained.outputs["model"], f"{model_name}-endpoint")
    with dsl.If(task == "image_multilabel", name="automl-image-multilabel"):
        images = ImageDatasetCreateOp(
            project=project,
            location=location,
            display_name=model_name,
            gcs_source=dataset_uri,
            import_schema_uri=IMPORT_SCHEMAS["image_multilabel"],
        )
        vt.add_automl_image_training(
            project, location, images.outputs["dataset"], model_name, True, budget_milli_node_hours, ("challenger",)
        )
    with dsl.If(task == "tabular_classification", name="automl-tabular-classification"):
        table = TabularDatasetCreateOp(
            project=project, location=location, display_name=model_name, gcs_source=dataset_uri
        )
        vt.add_automl_tabular_training(
            project,
            location,
            table.outputs["dataset"],
            model_name,
            target_column,
            False,
            budget_milli_node_hours,
            ("challenger",),
        )
    with dsl.If(task == "tabular_regression", name="automl-tabular-regression"):
        table = TabularDatasetCreateOp(
            project=project, location=location, display_name=model_name, gcs_source=dataset_uri
        )
        vt.add_automl_tabular_training(
            project,
            location,
            table.outputs["dataset"],
            model_name,
            target_column,
            True,
            budget_milli_node_hours,
            ("challenger",),
        )
    with dsl.If(task == "text_classification", name="custom-job-text"):
        trained = vt.add_custom_training_job(
            project,
            location,
            items=dataset,
            task=task,
            target_column=target_column,
            budget_seconds=budget_seconds,
            dataset_version=dataset_version,
            seed=seed,
        )
        gated_registration(
            trained.outputs["model"],
            dataset,
            task,
            target_column,
            gate_config,
            registry_uri,
            model_name,
            dataset_version,
        )
