"""KFP component: import raw data into labelloop's item format, validating every row."""

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def import_dataset(
    source_uri: str,
    source_format: str,
    data_type: str,
    items: dsl.Output[dsl.Dataset],
    rejects: dsl.Output[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    target_column: str = "",
    weight_column: str = "",
    allowed_labels: list = [],
    allowed_uri_schemes: list = ["gs"],
    max_reject_rate: float = 0.1,
    min_items_per_label: int = 10,
    label_count_severity: str = "warning",
    table_rows_as_items: bool = False,
):
    """Validates and imports a dataset so every later step can trust its items.

    Every input item is either written to ``items`` with a stable content id or to ``rejects`` with
    its line and reason. The step fails, after writing all outputs, only when nothing valid
    remains, the reject rate exceeds ``max_reject_rate``, or a dataset rule set to error is broken.

    Args:
        source_uri: A folder of images (class-per-subfolder or unlabeled), a Vertex JSONL import
            file (imageGcsUri / textContent / textGcsUri), or a CSV/Parquet table; local or gs://.
        source_format: "auto" (from the folder or file suffix), "image_folder", "jsonl", "csv" or "parquet".
        data_type: "image", "text" or "tabular".
        target_column: Tabular only: the column to predict; empty for rows not labeled yet.
        weight_column: Tabular only: an optional per-row weight column, values in [0, 10000].
        allowed_labels: Accepted class names; items with any other label are rejected. Empty accepts any.
        allowed_uri_schemes: URI schemes items may use: "gs" on Vertex; add "file" for local runs.
        max_reject_rate: The largest share of rejected items tolerated before the step fails.
        min_items_per_label: Vertex's minimum labeled items per class (10 for text classification).
        label_count_severity: "warning" reports labels under the minimum; "error" fails the step.
        table_rows_as_items: Tabular only: write each row as a JSONL item (``tableRow`` holds its
            columns, the target column becomes its classificationAnnotation) so labeling, versions
            and active-learning rounds can read it; false keeps the table in its source format.

    Returns:
        items: The valid items: JSONL in the Vertex import schema with dataItemResourceLabels.labelloop_id,
            or (tabular) the table in its source format with a labelloop_id column (with
            ``table_rows_as_items``: JSONL row items).
        rejects: JSONL, one line per rejected item: step, line, id, reason_code, reason, record.
        metrics: Counts: items_total/kept/rejected, reject_rate, label_<name>, split_<ml_use>, rejects_<code>.
        report: A readable HTML summary of the same, with dataset-level findings.
    """
    from labelloop.components.core import import_data, run_report

    options = import_data.options_from(
        source_uri,
        data_type,
        source_format,
        allowed_uri_schemes=allowed_uri_schemes,
        allowed_labels=allowed_labels,
        target_column=target_column,
        weight_column=weight_column,
        max_reject_rate=max_reject_rate,
        min_items_per_label=min_items_per_label,
        label_count_severity=label_count_severity,
        table_items=table_rows_as_items,
    )
    result = import_data.import_items(options, items.path, rejects.path, step="import_dataset")
    items.metadata.update({"format": result.output_format, "data_type": data_type, "item_count": result.kept})
    rejects.metadata.update({"format": "jsonl", "item_count": result.rejected})
    for name, value in import_data.metrics_of(result).items():
        metrics.log_metric(name, value)
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(run_report.markdown_page("Import", import_data.render_report(result, max_reject_rate)))
    failure = import_data.failure_summary(result, max_reject_rate)
    if failure:
        raise import_data.ImportFailed(failure)
