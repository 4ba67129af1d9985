"""How labelloop's data reaches Vertex: the ``ml_use`` split as AutoML inputs, import files, managed datasets.

Pure. labelloop's split writes ``dataItemResourceLabels["aiplatform.googleapis.com/ml_use"]`` on every
item (tables: an ``ml_use`` column). Without split settings AutoML draws its own random 80/10/10 and
the gate's test split and Vertex's disagree; filter splits on that label make Vertex train, validate
and evaluate on exactly our split:
https://cloud.google.com/vertex-ai/docs/general/ml-use (labels at import) and
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/FilterSplit (filter syntax; ``-`` matches nothing).
A reused managed dataset keeps items imported by earlier runs: a re-imported item's ``ml_use``
label is overwritten (same key), but an item no longer in the manifest keeps its old label and
still matches the filters. Tables use a predefined split column:
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/PredefinedSplit
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from . import manifest, tabular

#: DataItem label filter key for the split our split step wrote.
ML_USE_FILTER_KEY = f"labels.{manifest.ML_USE_KEY}"
#: What a FilterSplit filter is when its split is empty (Vertex: "set as '-' to match nothing").
MATCH_NOTHING = "-"
#: Managed dataset metadata schemas by labelloop data type
#: (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.datasets#Dataset).
DATASET_METADATA_SCHEMAS = {
    "image": "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml",
    "text": "gs://google-cloud-aiplatform/schema/dataset/metadata/text_1.0.0.yaml",
}


class VertexDataError(ValueError):
    """The data cannot go to Vertex as asked; the message says why and what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    display_name: str
    metadata_schema_uri: str
    create_time: str = ""


def ml_use_filter(ml_use: str) -> str:
    """``labels.aiplatform.googleapis.com/ml_use=training`` for one of training/validation/test."""
    if ml_use not in manifest.ML_USES:
        raise VertexDataError(f"ml_use must be one of {manifest.ML_USES}, got {ml_use!r}")
    return f"{ML_USE_FILTER_KEY}={ml_use}"


def filter_split_inputs(*, empty: Collection[str] = ()) -> dict[str, str]:
    """AutoML image (and other unstructured) training inputs that honour labelloop's ``ml_use`` split.

    Vertex wants all three filters when any is set; a split known to be empty gets ``-``. The test
    split may not be empty: the gate reads the evaluation Vertex computes on it.
    """
    unknown = set(empty) - set(manifest.ML_USES)
    if unknown:
        raise VertexDataError(f"unknown split(s) {sorted(unknown)}; choose from {manifest.ML_USES}")
    for needed in ("training", "test"):
        if needed in empty:
            raise VertexDataError(
                f"the {needed} split is empty; AutoML needs {needed} items (ml_use={needed}) to "
                f"{'train' if needed == 'training' else 'write the evaluation the gate reads'}"
            )
    return {
        f"{ml_use}_filter_split": MATCH_NOTHING if ml_use in empty else ml_use_filter(ml_use)
        for ml_use in manifest.ML_USES
    }


def tabular_split_inputs(*, column: str = tabular.ML_USE_COLUMN) -> dict[str, str]:
    """AutoML tabular training inputs: the predefined split column (values training/validation/test)."""
    if not column:
        raise VertexDataError("the predefined split column name is empty; labelloop writes 'ml_use'")
    return {"predefined_split_column_name": column}


def empty_splits(counts: Mapping[str, int]) -> list[str]:
    """The ml_use values with no items in ``counts`` (e.g. ``manifest`` counts by ``ml_use_of``)."""
    return [ml_use for ml_use in manifest.ML_USES if not counts.get(ml_use)]


def import_file_uri(artifact_uri: str) -> str:
    """Where to write the import file: Vertex reads JSONL import files by their ``.jsonl`` name."""
    if not artifact_uri.startswith("gs://"):
        raise VertexDataError(f"{artifact_uri!r}: Vertex imports only from gs:// URIs")
    return artifact_uri if artifact_uri.endswith(".jsonl") else f"{artifact_uri.rstrip('/')}.jsonl"


def dataset_metadata_schema(data_type: str) -> str:
    try:
        return DATASET_METADATA_SCHEMAS[data_type]
    except KeyError:
        raise VertexDataError(
            f"no managed dataset type for data type {data_type!r}; choose one of {sorted(DATASET_METADATA_SCHEMAS)}"
        ) from None


def choose_dataset(
    datasets: Sequence[DatasetInfo], *, display_name: str, metadata_schema_uri: str
) -> DatasetInfo | None:
    """The dataset to reuse: same display name and type, oldest first; another type with the name is an error."""
    named = [d for d in datasets if d.display_name == display_name]
    same_type = [d for d in named if d.metadata_schema_uri == metadata_schema_uri]
    if named and not same_type:
        raise VertexDataError(
            f"a dataset named {display_name!r} exists with schema {named[0].metadata_schema_uri}, not "
            f"{metadata_schema_uri}; choose another dataset_display_name"
        )
    return min(same_type, key=lambda d: (d.create_time, d.name)) if same_type else None
