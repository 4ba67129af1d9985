"""report_verification through .python_func: figures from the manifests, spend from the store's ledger."""

from kfp import dsl
from labelloop.components.core import manifest as mf
from labelloop.components.core.annotation_store import AnnotationStore, LedgerEntry, StoredAnnotation
from labelloop.components.core.merge import merge_manifests
from labelloop.components.report_verification import report_verification


def dataset(path, records=None, cls=dsl.Dataset, metadata=None):
    if records is not None:
        mf.write_jsonl(str(path), records)
    return cls(name=path.name, uri=str(path), metadata=dict(metadata or {}))


def test_the_report_counts_the_run_and_reads_spend_from_the_ledger(tmp_path):
    base = [mf.with_label(mf.with_id({"textContent": f"t{i}"}, f"id{i}"), "a", source="import") for i in range(5)]
    suspects = [mf.with_extra(mf.without_label(r), given_label="a") for r in base[:2]]
    answers = [mf.with_label(suspects[0], "b", source="human"), mf.with_label(suspects[1], "a", source="human")]
    items, labeled = dataset(tmp_path / "items", base), dataset(tmp_path / "labeled", answers)
    merge_manifests(items.path, [labeled.path], str(tmp_path / "versioned"))
    store = AnnotationStore(str(tmp_path / "annotations"))
    store.append_ledger(LedgerEntry("run1", 1, 4, 4, 0.2, 2, "2026-01-01T00:00:00Z"))
    store.append_annotations(
        StoredAnnotation(f"id{i % 2}", f"labeler{i}", "a", 0.05, 1, "run1", "simulated") for i in range(4)
    )
    mf.write_jsonl(str(tmp_path / "truth.jsonl"), [{"id": f"id{i}", "label": "b" if i == 0 else "a"} for i in range(5)])
    metrics, report = dataset(tmp_path / "metrics", cls=dsl.Metrics), dataset(tmp_path / "report", cls=dsl.HTML)
    report_verification.python_func(
        items=items,
        suspects=dataset(tmp_path / "suspects", suspects),
        labeled=labeled,
        versioned=dataset(tmp_path / "versioned"),
        labeling_metrics=dataset(
            tmp_path / "labeling", cls=dsl.Metrics, metadata={"labels_bought_this_run": 4, "spend_this_run_usd": 0.2}
        ),
        annotation_store_uri=str(tmp_path / "annotations"),
        metrics=metrics,
        report=report,
        version_id="v2",
        ground_truth_uri=str(tmp_path / "truth.jsonl"),
    )
    figures = metrics.metadata
    assert (figures["confirmed"], figures["corrected"], figures["unverified"]) == (1, 1, 0)
    assert figures["items_in"] == figures["items_out"] == 5 and figures["labels_reused"] == 0
    assert figures["wrong_labels_before"] == 1 and figures["wrong_labels_after"] == 0
    assert figures["ledger_spend_usd"] == figures["spend_usd"] == 0.2  # the ledger's cost: the stored annotations'
    assert "v2" in open(report.path, encoding="utf-8").read()
