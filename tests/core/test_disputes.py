"""Disputed evaluation labels: which items are disputed, by which prediction, and what is written for review."""

import numpy as np
import pytest
from labelloop.components.core import disputes as d
from labelloop.components.core import manifest as m

CLASSES = ("cat", "dog")


def item(name, label, split, source="human"):
    record = {"imageGcsUri": f"gs://b/{name}.png", "dataItemResourceLabels": {"labelloop_id": name}}
    record = m.with_ml_use(record, split)
    return m.with_label(record, label, source=source) if label else record


def p(cat):
    return np.array([cat, 1 - cat])


def test_validation_is_judged_by_held_out_predictions_and_test_by_the_model():
    records = [item("v1", "cat", "validation"), item("t1", "cat", "test")]
    predictions = {"v1": p(0.99), "t1": p(0.2)}  # the model saw v1: it agrees in-sample
    heldout = {"v1": p(0.1)}  # a fit that did not see v1 says dog
    found, checked, unjudged = d.find_disputes(records, predictions, CLASSES, min_confidence=0.5, heldout_by_id=heldout)
    assert [(x.item_id, x.split, x.given_label, x.suggested_label) for x, _ in found] == [
        ("v1", "validation", "cat", "dog"),
        ("t1", "test", "cat", "dog"),
    ]
    assert found[0][0].confidence == pytest.approx(0.9) and (checked, unjudged) == (2, 0)
    without = d.find_disputes(records, predictions, CLASSES, min_confidence=0.5)[0]
    assert [x.item_id for x, _ in without] == ["t1"]


def test_only_confident_disagreements_on_human_evaluation_labels_count():
    records = [
        item("t1", "cat", "test"),  # agrees
        item("t2", "cat", "test"),  # disagrees at 0.6 < 0.7
        item("t3", "cat", "test"),  # disagrees at 0.8
        item("tr", "cat", "training"),  # not an evaluation split
        item("mc", "cat", "test", source="machine"),  # a machine label is no human label to review
        item("un", None, "test"),  # nothing to dispute
        item("v9", "dog", "validation"),  # no held-out prediction for it
    ]
    predictions = {"t1": p(0.9), "t2": p(0.4), "t3": p(0.2), "tr": p(0.0), "mc": p(0.0), "un": p(0.0), "v9": p(1.0)}
    found, checked, unjudged = d.find_disputes(
        records, predictions, CLASSES, min_confidence=0.7, heldout_by_id={"other": p(0.5)}
    )
    assert [x.item_id for x, _ in found] == ["t3"] and (checked, unjudged) == (3, 1)
    with pytest.raises(ValueError, match="min_confidence"):
        d.find_disputes(records, predictions, CLASSES, min_confidence=1.5)


def test_disputes_are_written_most_confident_first_without_their_label(tmp_path):
    records = [item(f"t{k}", "cat", "test") for k in range(4)]
    predictions = {f"t{k}": p(c) for k, c in enumerate([0.3, 0.05, 0.9, 0.2])}
    out = str(tmp_path / "disputes.jsonl")
    summary = d.write_disputes(records, out, predictions, CLASSES, min_confidence=0.5, max_items=2)
    written = list(m.read_jsonl(out))
    assert [m.item_id(r) for r in written] == ["t1", "t3"] and summary.sent == 2 and len(summary.disputes) == 3
    assert all(m.label_of(r) is None for r in written)
    facts = m.extra_of(written[0])
    assert (facts["given_label"], facts["suggested_label"], facts["review_rank"]) == ("cat", "dog", 0)
    assert facts["dispute_confidence"] == pytest.approx(0.95)
    assert summary.metrics() == {
        "evaluation_items_checked": 4,
        "evaluation_items_unjudged": 0,
        "disputed_items": 3,
        "disputed_validation_items": 0,
        "disputed_test_items": 3,
        "sent_for_review": 2,
    }
