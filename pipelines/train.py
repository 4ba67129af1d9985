"""The ``train`` pipeline: labeled manifest → train → evaluate → gate → (blessed) register → serve.

Local target: our AutoML trainer, evaluation, the promotion gate, the folder/``gs://`` registry and
the ``serving`` alias. Vertex target: image and tabular tasks train with Vertex AutoML (GCPC ops)
on the manifest's ``ml_use`` split, as a new version of the Vertex model ``model_name``; the version
is gated on its Vertex evaluation against the ``champion`` alias, which moves only when blessed, and
only then deployed to the model's one endpoint (``vertex_steps``). Text trains our component as a
Vertex custom job and then goes through the same evaluate → gate → register steps as the local target.
"""

from kfp import dsl

from . import steps
from ._targets import check_target


def build_pipeline(target: str = "local"):
    """The train pipeline for ``target`` (``local`` or ``vertex``)."""
    check_target(target)

    @dsl.pipeline(name="train", description="Train, evaluate and gate a model; register it when it beats the champion.")
    def train(
        dataset_uri: str,
        task: str = "image_classification",
        target_column: str = "",
        budget_seconds: int = steps.BUDGET_SECONDS,
        gate_config: str = steps.GATE_CONFIG,
        registry_uri: str = "",
        model_name: str = steps.MODEL_NAME,
        dataset_version: str = "",
        seed: int = steps.SEED,
        location: str = steps.LOCATION,
        budget_milli_node_hours: int = steps.BUDGET_MILLI_NODE_HOURS,
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
            location: Vertex target only: region.
            budget_milli_node_hours: Vertex target only: AutoML training budget.
        """
        items = dsl.importer(artifact_uri=dataset_uri, artifact_class=dsl.Dataset, reimport=False).output
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
                dataset_version=dataset_version,
                target_column=target_column,
            )
            steps.gated_registration(
                model=trained.outputs["model"],
                items=items,
                registry=registry,
                dataset_version=dataset_version,
                target_column=target_column,
            )
            return
        steps.add_vertex_training(
            items=items,
            task=task,
            target_column=target_column,
            budget_seconds=budget_seconds,
            registry=registry,
            dataset_version=dataset_version,
            seed=seed,
            location=location,
            budget_milli_node_hours=budget_milli_node_hours,
        )

    return train
