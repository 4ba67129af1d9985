"""Vertex-target building blocks for pipelines: plain functions that add GCPC tasks.

Not components and not a pipeline: each function must be called inside a ``@dsl.pipeline`` body
and returns the GCPC task it added. The local target never calls these.
"""

#: Vertex AutoML training minimums (milli node hours); see
#: https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.trainingPipelines
MIN_MILLI_NODE_HOURS = {"automl_image": 8000, "automl_tabular": 1000}
#: The region every Vertex step runs in unless the pipeline's ``location`` parameter says otherwise.
DEFAULT_LOCATION = "us-central1"
#: Vertex fills in the run's own project.
RUN_PROJECT = "{{$.pipeline_google_cloud_project_id}}"
#: Vertex AI import schemas for the manifests labelloop writes.
IMPORT_SCHEMAS = {
    "image": "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_single_label_io_format_1.0.0.yaml",
    "image_multilabel": "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_multi_label_io_format_1.0.0.yaml",
    "text": "gs://google-cloud-aiplatform/schema/dataset/ioformat/text_classification_single_label_io_format_1.0.0.yaml",
}


def add_custom_training_job(*, project, location, machine_type: str = "n1-standard-8", **train_inputs):
    """Our ``train_model`` component run as a Vertex custom job (text, and whatever AutoML lacks)."""
    from google_cloud_pipeline_components.v1.custom_job import create_custom_training_job_from_component

    from ..components.train_model import train_model

    job = create_custom_training_job_from_component(
        train_model, display_name="labelloop-train", machine_type=machine_type
    )
    return job(project=project, location=location, **train_inputs)
