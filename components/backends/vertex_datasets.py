"""Vertex managed datasets behind a small interface: reuse one dataset per display name, import JSONL into it.

Thin: the choices (which dataset, the import file's name) are in ``core/vertex_data.py``. Uses the
``google.cloud.aiplatform_v1`` DatasetService client (REST or gRPC) so tests can use a local fake.
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.datasets
"""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import aiplatform_v1

from ..core import vertex_data

OPERATION_TIMEOUT_S = 6 * 3600  # imports of large image sets take hours


@dataclass(frozen=True)
class DatasetOutcome:
    name: str
    created: bool
    import_uri: str


class VertexDatasets:
    """Managed datasets in one project and location."""

    def __init__(self, *, project: str, location: str, api_endpoint: str = "", credentials=None, transport="rest"):
        if not project or not location:
            raise vertex_data.VertexDataError(f"project {project!r} and location {location!r} must both be set")
        self.parent = f"projects/{project}/locations/{location}"
        options = {"api_endpoint": api_endpoint or f"{location}-aiplatform.googleapis.com"}
        self.client = aiplatform_v1.DatasetServiceClient(
            transport=transport, client_options=options, credentials=credentials
        )

    def find(self, display_name: str) -> list[vertex_data.DatasetInfo]:
        found = self.client.list_datasets(request={"parent": self.parent, "filter": f'display_name="{display_name}"'})
        return [
            vertex_data.DatasetInfo(
                d.name, d.display_name, d.metadata_schema_uri, d.create_time.isoformat() if d.create_time else ""
            )
            for d in found
        ]

    def create(self, display_name: str, metadata_schema_uri: str, labels: dict[str, str]) -> str:
        dataset = aiplatform_v1.Dataset(
            display_name=display_name, metadata_schema_uri=metadata_schema_uri, labels=labels
        )
        return self.client.create_dataset(parent=self.parent, dataset=dataset).result(timeout=OPERATION_TIMEOUT_S).name

    def import_jsonl(self, dataset: str, import_uri: str, import_schema_uri: str) -> None:
        config = aiplatform_v1.ImportDataConfig(
            gcs_source=aiplatform_v1.GcsSource(uris=[import_uri]), import_schema_uri=import_schema_uri
        )
        self.client.import_data(name=dataset, import_configs=[config]).result(timeout=OPERATION_TIMEOUT_S)


def ensure_dataset_with_items(
    backend: VertexDatasets, *, display_name: str, data_type: str, import_uri: str, import_schema_uri: str
) -> DatasetOutcome:
    """Reuse the dataset named ``display_name`` (create it only if missing) and import the ``.jsonl`` file into it."""
    if not import_uri.endswith(".jsonl"):
        raise vertex_data.VertexDataError(
            f"{import_uri!r} is not a .jsonl import file; write it with vertex_data.import_file_uri()"
        )
    schema = vertex_data.dataset_metadata_schema(data_type)
    existing = vertex_data.choose_dataset(
        backend.find(display_name), display_name=display_name, metadata_schema_uri=schema
    )
    name = existing.name if existing else backend.create(display_name, schema, {"labelloop": "curated"})
    backend.import_jsonl(name, import_uri, import_schema_uri)
    return DatasetOutcome(name, existing is None, import_uri)
