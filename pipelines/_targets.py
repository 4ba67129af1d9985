"""Build-time choice of where a pipeline runs."""

TARGETS = ("local", "vertex")

#: URI schemes items may use: Vertex reads only Cloud Storage; local runs also read local files.
VERTEX_SCHEMES = ["gs"]
LOCAL_SCHEMES = ["gs", "file"]

#: Vertex AI import schemas for the manifests labelloop writes.
IMPORT_SCHEMAS = {
    "image": "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_single_label_io_format_1.0.0.yaml",
    "image_multilabel": "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_multi_label_io_format_1.0.0.yaml",
    "text": "gs://google-cloud-aiplatform/schema/dataset/ioformat/text_classification_single_label_io_format_1.0.0.yaml",
}


def check_target(target: str) -> str:
    """Return ``target`` or raise a ValueError naming the choices."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    return target
