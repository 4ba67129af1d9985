"""Issue 13 point 7, read from the compiled graphs: machine labels name the model that predicted
them (not the dataset version), and active learning's Vertex custom jobs run in the pipeline's
``location`` (not a hard-coded region)."""

from labelloop.pipelines.active_learning import build_pipeline as active_learning
from labelloop.pipelines.active_learning_round import build_pipeline as active_learning_round


def _dags(spec):
    yield "root", spec.root.dag
    for name, component in spec.components.items():
        if component.HasField("dag"):
            yield name, component.dag


def test_machine_labels_carry_the_final_models_identity_not_the_dataset_version():
    tasks = active_learning("local", max_rounds=2).pipeline_spec.root.dag.tasks
    version = tasks["apply-machine-labels"].inputs.parameters["model_version"].task_output_parameter
    assert (version.producer_task, version.output_parameter_key) == ("get-artifact-uri", "uri")
    model = tasks["get-artifact-uri"].inputs.artifacts["artifact"].task_output_artifact
    assert model.output_artifact_key == "model"
    assert tasks[model.producer_task].task_info.name == "Train final model"
    predicted = tasks["predict"].inputs.artifacts["model"].task_output_artifact
    assert predicted.producer_task == model.producer_task  # the same model predicted the labels


def test_vertex_custom_jobs_run_in_the_pipeline_location():
    for build in (lambda t: active_learning(t, max_rounds=2), active_learning_round):
        spec = build("vertex").pipeline_spec
        located = [
            (dag_name, task_name, task.inputs.parameters["location"])
            for dag_name, dag in _dags(spec)
            for task_name, task in dag.tasks.items()
            if "location" in task.inputs.parameters
        ]
        assert located, "no Vertex task takes a location"
        for dag_name, task_name, value in located:
            assert value.WhichOneof("kind") == "component_input_parameter", (dag_name, task_name, value)
            assert value.component_input_parameter.endswith("location"), (dag_name, task_name, value)
