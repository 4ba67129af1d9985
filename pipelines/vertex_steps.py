"""Vertex-target pipeline pieces: AutoML on labelloop's split, then the gate, then one endpoint per model.

Plain functions, not components: call them inside a ``@dsl.pipeline`` body. Each Vertex step gets
the project from the runtime placeholder ``{{$.pipeline_google_cloud_project_id}}`` unless one is
given, and ``location`` from the caller (a pipeline parameter): one project and location for
every step (https://cloud.google.com/vertex-ai/docs/pipelines/build-pipeline).

The gated path replaces ``EndpointCreateOp`` + ``ModelDeployOp`` (a new endpoint per run, dedicated
machines, no gate): the AutoML model is registered as a version of the model named ``model_name``
(``parent_model``), ``gate_vertex_model`` gates it on Vertex's evaluation against the ``champion``
alias and moves the alias only when blessed, and only then ``deploy_vertex_model`` deploys it to the
model's one endpoint. AutoML Text was shut down (2025-06-15): text trains as a custom job.
"""

from __future__ import annotations

import json

from kfp import dsl

from ..components.core import gate, vertex_data
from ..components.deploy_vertex_model import deploy_vertex_model
from ..components.ensure_vertex_dataset import ensure_vertex_dataset
from ..components.find_vertex_model import find_vertex_model
from ..components.gate_vertex_model import gate_vertex_model
from .vertex import MIN_MILLI_NODE_HOURS, RUN_PROJECT

#: Vertex fills this in with the project the pipeline runs in.
PROJECT_PLACEHOLDER = RUN_PROJECT
DEFAULT_GATE_CONFIG = json.dumps(gate.DEFAULT_CONFIG)


def automl_image_training_inputs(
    *,
    location,
    dataset,
    display_name,
    multi_label: bool,
    budget_milli_node_hours=MIN_MILLI_NODE_HOURS["automl_image"],
    parent_model=None,
    project=PROJECT_PLACEHOLDER,
) -> dict:
    """Keyword arguments for GCPC 2.22's ``AutoMLImageTrainingJobRunOp`` that train and evaluate on our split.

    Filter splits on ``labels.aiplatform.googleapis.com/ml_use`` instead of Vertex's random
    80/10/10 (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/FilterSplit); the new
    model is a version of ``parent_model`` when given.
    """
    inputs = dict(
        project=project,
        location=location,
        dataset=dataset,
        display_name=display_name,
        model_display_name=display_name,
        prediction_type="classification",
        multi_label=multi_label,
        model_type="CLOUD",
        budget_milli_node_hours=budget_milli_node_hours,
        **vertex_data.filter_split_inputs(),
    )
    if parent_model is not None:
        inputs["parent_model"] = parent_model
    return inputs


def automl_tabular_training_inputs(
    *,
    location,
    dataset,
    display_name,
    target_column,
    regression: bool,
    budget_milli_node_hours=MIN_MILLI_NODE_HOURS["automl_tabular"],
    parent_model="",
    project=PROJECT_PLACEHOLDER,
) -> dict:
    """Keyword arguments for ``AutoMLTabularTrainingJobRunOp``: the ``ml_use`` column as the predefined split.

    https://cloud.google.com/vertex-ai/docs/tabular-data/data-splits#predefined-split
    """
    if isinstance(target_column, str) and not target_column:
        raise ValueError("target_column is empty; AutoML tabular needs the column to predict")
    return dict(
        project=project,
        location=location,
        dataset=dataset,
        display_name=display_name,
        model_display_name=display_name,
        target_column=target_column,
        optimization_prediction_type="regression" if regression else "classification",
        budget_milli_node_hours=budget_milli_node_hours,
        parent_model=parent_model,
        **vertex_data.tabular_split_inputs(),
    )


def add_gate_and_deploy(*, model, location, model_name, task, gate_config, project=PROJECT_PLACEHOLDER):
    """Gate ``model`` (a VertexModel output) against the champion; deploy only under ``blessed``. Returns the gate."""
    verdict = gate_vertex_model(
        model=model, location=location, task=task, gate_config=gate_config, project=project
    ).set_display_name("Vertex promotion gate")
    with dsl.If(verdict.outputs["blessed"] == True, name="blessed"):  # a KFP condition, not a Python comparison
        deploy_vertex_model(
            blessing=verdict.outputs["blessing"], location=location, model_name=model_name, project=project
        ).set_display_name("Deploy to the model's endpoint")
    return verdict


def add_gated_automl_image(
    *,
    dataset,
    location,
    model_name,
    task,
    multi_label: bool,
    budget_milli_node_hours=MIN_MILLI_NODE_HOURS["automl_image"],
    gate_config=DEFAULT_GATE_CONFIG,
    project=PROJECT_PLACEHOLDER,
):
    """AutoML image on our split as a version of ``model_name``, gated, deployed when blessed. Returns the gate."""
    from google_cloud_pipeline_components.v1.automl.training_job import AutoMLImageTrainingJobRunOp

    parent = find_vertex_model(location=location, model_name=model_name, project=project).set_display_name(
        "Find the parent model"
    )
    common = dict(
        location=location,
        dataset=dataset,
        display_name=model_name,
        multi_label=multi_label,
        budget_milli_node_hours=budget_milli_node_hours,
        project=project,
    )
    with dsl.If(parent.outputs["found"] == True, name="new-version"):
        versioned = AutoMLImageTrainingJobRunOp(
            **automl_image_training_inputs(parent_model=parent.outputs["parent_model"], **common)
        )
    with dsl.Else(name="first-model"):
        first = AutoMLImageTrainingJobRunOp(**automl_image_training_inputs(**common))
    model = dsl.OneOf(versioned.outputs["model"], first.outputs["model"])
    return add_gate_and_deploy(
        model=model, location=location, model_name=model_name, task=task, gate_config=gate_config, project=project
    )


def add_gated_automl_tabular(
    *,
    dataset,
    location,
    model_name,
    task,
    target_column,
    regression: bool,
    budget_milli_node_hours=MIN_MILLI_NODE_HOURS["automl_tabular"],
    gate_config=DEFAULT_GATE_CONFIG,
    project=PROJECT_PLACEHOLDER,
):
    """AutoML tabular on the ``ml_use`` column as a version of ``model_name``, gated, deployed when blessed."""
    from google_cloud_pipeline_components.v1.automl.training_job import AutoMLTabularTrainingJobRunOp

    parent = find_vertex_model(location=location, model_name=model_name, project=project)
    training = AutoMLTabularTrainingJobRunOp(
        **automl_tabular_training_inputs(
            location=location,
            dataset=dataset,
            display_name=model_name,
            target_column=target_column,
            regression=regression,
            budget_milli_node_hours=budget_milli_node_hours,
            parent_model=parent.outputs["resource_name"],
            project=project,
        )
    )
    return add_gate_and_deploy(
        model=training.outputs["model"],
        location=location,
        model_name=model_name,
        task=task,
        gate_config=gate_config,
        project=project,
    )


def add_managed_dataset(*, items, location, display_name, data_type, import_schema_uri, project=PROJECT_PLACEHOLDER):
    """The managed dataset named ``display_name`` (reused, created once) fed a ``.jsonl`` copy of ``items``."""
    return ensure_vertex_dataset(
        items=items,
        location=location,
        display_name=display_name,
        data_type=data_type,
        import_schema_uri=import_schema_uri,
        project=project,
    )
