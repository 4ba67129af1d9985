"""Prediction and scoring: the search's objective, a model's scores on inputs, streaming
predictions over a manifest or table, and several models' scores on one split side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import features as feats
from .. import manifest
from .examples import Split, read_table, row_ids, text_of
from .models import TrainedModel
from .tasks import TrainingError, encode_targets, is_multilabel, is_regression, label_set


def validation_score(model: TrainedModel, split: Split) -> float:
    """Higher is better: accuracy (minus a tiny log-loss tie-breaker), micro AP, or R²."""
    y = encode_targets(split.targets, model.labels, model.task)
    predicted = scores_for(model, split.inputs)
    return score_of(model.task, len(model.labels), y, predicted, split.weights)


def score_of(task: str, n_labels: int, y: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> float:
    """The search's objective for predictions ``predicted`` (probabilities or values) of targets ``y``."""
    from sklearn.metrics import average_precision_score, r2_score

    if is_regression(task):
        return float(r2_score(y, predicted, sample_weight=weights))
    if is_multilabel(task):
        return float(average_precision_score(y, predicted, average="micro"))
    accuracy = float(np.average(predicted.argmax(axis=1) == y, weights=weights))
    clipped = np.clip(predicted, 1e-7, 1.0)
    truth = clipped[np.arange(len(y)), y] / clipped.sum(axis=1)
    return accuracy - 1e-3 * float(np.average(-np.log(truth), weights=weights))


def scores_for(model: TrainedModel, inputs) -> np.ndarray:
    """Class probabilities (classification) or predicted values (regression)."""
    return model.predict_values(inputs) if is_regression(model.task) else model.predict_proba(inputs)


@dataclass(frozen=True)
class PredictionSummary:
    predicted: int
    rejected: int
    labels: tuple[str, ...]


def _prediction_line(item: str, model: TrainedModel, row: np.ndarray) -> dict:
    if is_regression(model.task):
        return {"id": item, "value": float(row)}
    top = int(np.argmax(row))
    return {
        "id": item,
        "probabilities": {name: float(p) for name, p in zip(model.labels, row)},
        "label": model.labels[top],
        "confidence": float(row[top]),
    }


def predict_manifest(
    model: TrainedModel, path: str, out_jsonl: str, out_npy: str, out_ids: str, rejects, *, chunk_size: int = 512
) -> PredictionSummary:
    """Stream predictions for every item of a manifest (or table rows) in chunks.

    Writes one JSONL line per item (``{"id", "probabilities", "label", "confidence"}``), a float32
    ``.npy`` of scores in manifest order and the ids, one per line. Items that cannot be featurized
    go to ``rejects`` (a :class:`manifest.RejectsWriter`) with the reason.
    """
    rows: list[np.ndarray] = []
    ids: list[str] = []
    with manifest.atomic_writer(out_jsonl) as lines:
        for chunk in _input_chunks(model, path, rejects, chunk_size):
            scores = scores_for(model, chunk[1])
            for item, row in zip(chunk[0], scores):
                lines.write(manifest.dumps(_prediction_line(item, model, row)))
            rows.append(np.asarray(scores, dtype=np.float32))
            ids.extend(chunk[0])
    width = () if is_regression(model.task) else (len(model.labels),)
    matrix = np.concatenate(rows) if rows else np.zeros((0, *width), dtype=np.float32)
    with manifest.atomic_writer(out_npy) as handle:
        np.save(handle, matrix)
    with manifest.atomic_writer(out_ids) as handle:
        handle.write("".join(f"{i}\n" for i in ids).encode("utf-8"))
    return PredictionSummary(len(ids), rejects.total, model.labels)


def _input_chunks(model: TrainedModel, path: str, rejects, chunk_size: int):
    """``(ids, inputs)`` chunks; unreadable items are rejected one by one, not the whole chunk."""
    if model.spec.kind == "tabular":
        frame = read_table(path)
        ids = row_ids(frame)
        for start in range(0, len(frame), chunk_size):
            part = frame.iloc[start : start + chunk_size].reset_index(drop=True)
            yield ids[start : start + chunk_size], feats.tabular_inputs(part, model.spec)
        return
    batch: list[tuple[str, object]] = []
    for line in manifest.read_lines(path):
        try:
            item = manifest.item_id(line.record)
            raw = (
                feats.read_image(manifest.content_of(line.record)[1], model.spec)
                if model.spec.kind == "image"
                else text_of(line.record)
            )
        except (KeyError, feats.FeatureError, TrainingError, OSError) as err:
            rejects.reject(line.record, "unreadable", f"{path}:{line.number}: {err}", line=line.number)
            continue
        batch.append((item, raw))
        if len(batch) >= chunk_size:
            yield _featurized(batch, model.spec)
            batch = []
    if batch:
        yield _featurized(batch, model.spec)


def _featurized(batch, spec: feats.FeatureSpec):
    ids = [item for item, _ in batch]
    raws = [raw for _, raw in batch]
    if spec.kind == "image":
        return ids, feats.image_features(raws, spec)
    return ids, feats.text_inputs(raws, spec)


@dataclass(frozen=True)
class ScoredSplit:
    """Targets and each model's scores on one split, aligned to one label list."""

    y: np.ndarray
    scores: tuple[np.ndarray, ...]
    labels: tuple[str, ...]


def score_split(models: Sequence[TrainedModel], split: Split) -> ScoredSplit:
    """Score ``split`` with every model; probability columns are aligned to the union of the
    models' labels and the split's labels (a label a model lacks scores 0)."""
    from ..metrics import align_scores

    task = models[0].task
    if any(m.task != task for m in models):
        raise TrainingError(f"models solve different tasks {[m.task for m in models]}; compare like with like")
    if is_regression(task):
        return ScoredSplit(
            encode_targets(split.targets, (), task), tuple(m.predict_values(split.inputs) for m in models), ()
        )
    labels = label_set(split.targets, task, [name for m in models for name in m.labels])
    scores = tuple(align_scores(m.predict_proba(split.inputs), m.labels, labels) for m in models)
    return ScoredSplit(encode_targets(split.targets, labels, task), scores, labels)
