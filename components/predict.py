"""KFP component: batch predictions with class probabilities over a manifest, streamed in chunks."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def predict(
    model: dsl.Input[dsl.Model],
    items: dsl.Input[dsl.Dataset],
    predictions: dsl.Output[dsl.Dataset],
    scores: dsl.Output[dsl.Artifact],
    rejects: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    chunk_size: int = 512,
):
    """Scores every item of a manifest (e.g. the unlabeled pool for active learning).

    Args:
        model: A model folder written by ``train_model``.
        items: Manifest (JSONL) or, for tabular models, a CSV/Parquet table.
        chunk_size: Items featurized and scored at a time; bounds memory on large pools.

    Returns:
        predictions: JSONL, one ``{"id", "probabilities", "label", "confidence"}`` per item
            (regression: ``{"id", "value"}``), in manifest order.
        scores: Folder with ``scores.npy`` (float32, one row per predicted item, columns in label
            order), ``ids.txt`` (one id per row) and ``labels.json``.
        rejects: Items that could not be read, each with its line and reason.
        metrics: Counts of predicted and rejected items.
    """
    import json
    import os

    from labelloop.components.core import manifest, model_io, train

    loaded = model_io.load_model(model.path)
    os.makedirs(scores.path, exist_ok=True)
    with manifest.RejectsWriter(rejects.path, step="predict") as rejected:
        summary = train.predict_manifest(
            loaded.model,
            items.path,
            predictions.path,
            os.path.join(scores.path, "scores.npy"),
            os.path.join(scores.path, "ids.txt"),
            rejected,
            chunk_size=chunk_size,
        )
    with open(os.path.join(scores.path, "labels.json"), "w") as handle:
        json.dump(list(summary.labels), handle)
    metrics.log_metric("predicted_items", summary.predicted)
    metrics.log_metric("rejected_items", summary.rejected)
    predictions.metadata.update(
        {"labels": list(summary.labels), "model_uri": model.uri, "item_count": summary.predicted}
    )
    rejects.metadata.update({"item_count": summary.rejected})
