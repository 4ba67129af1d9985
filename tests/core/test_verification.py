"""Counting a verification run: confirmed, corrected, disputed, unverified; accounting; truth scores."""

import pytest
from labelloop.components.core import manifest as mf
from labelloop.components.core import verification
from labelloop.components.core.merge import merge_manifests


def write(path, records):
    mf.write_jsonl(str(path), records)
    return str(path)


def item(i, label):
    return mf.with_label(mf.with_id({"textContent": f"t{i}"}, f"id{i}"), label, source="import")


def answer(record, label, *, needs_review=False):
    out = mf.without_label(record) if label is None else mf.with_label(record, label, source="human")
    return mf.with_extra(out, needs_review=needs_review, labeling_status="over_budget" if label is None else "labeled")


@pytest.fixture
def run(tmp_path):
    base = [item(i, "a") for i in range(4)] + [item(4, "b"), item(5, "b")]
    suspects = [mf.with_extra(mf.without_label(r), given_label=mf.label_of(r)) for r in base[:4]]
    answers = [
        answer(suspects[0], "b"),  # corrected
        answer(suspects[1], "a"),  # confirmed
        answer(suspects[2], "b", needs_review=True),  # disputed: kept
        answer(suspects[3], None),  # over budget: kept
    ]
    paths = {
        "items": write(tmp_path / "items.jsonl", base),
        "suspects": write(tmp_path / "suspects.jsonl", suspects),
        "labeled": write(tmp_path / "labeled.jsonl", answers),
    }
    merge_manifests(paths["items"], [paths["labeled"]], str(tmp_path / "versioned.jsonl"))
    paths["versioned"] = str(tmp_path / "versioned.jsonl")
    return paths


def outcome(run, **options):
    return verification.verification_outcome(
        run["items"],
        run["suspects"],
        run["labeled"],
        run["versioned"],
        labeling_metrics={"labels_bought_this_run": 5, "labels_total": 7, "spend_this_run_usd": 0.25},
        ledger_spend_usd=0.35,
        version_id="v2",
        **options,
    )


def test_each_suspect_is_confirmed_corrected_disputed_or_unverified(run):
    result = outcome(run)
    assert (result.confirmed, result.corrected, result.disputed, result.unverified) == (1, 1, 1, 1)
    assert result.corrections == (("id0", "a", "b"),)
    figures = result.metrics()
    assert figures["items_in"] == figures["items_out"] == 6 and figures["suspects"] == 4
    assert figures["verified"] == 2 and figures["sent_fraction"] == pytest.approx(4 / 6)
    assert (figures["labels_bought"], figures["labels_reused"], figures["spend_usd"]) == (5, 2, 0.25)
    assert "suspect_precision" not in figures
    page = verification.report_html(result)
    assert "1 confirmed, 1 corrected" in page and "Labels reused" in page and "id0" in page


def test_scores_against_the_true_labels(run):
    truth = {"id0": "b", "id1": "a", "id2": "b", "id3": "b", "id4": "b", "id5": "a"}
    figures = outcome(run, truth=truth).metrics()
    # wrong before: id0, id2, id3, id5; flagged among them: id0, id2, id3; after: id2, id3, id5
    assert (figures["wrong_labels_before"], figures["wrong_labels_after"]) == (4, 3)
    assert figures["suspect_precision"] == 3 / 4 and figures["suspect_recall"] == 3 / 4
    assert (figures["wrong_labels_fixed"], figures["right_labels_broken"]) == (1, 0)


def test_a_version_missing_or_adding_an_item_is_refused(run, tmp_path):
    records = list(mf.read_jsonl(run["versioned"]))
    run["versioned"] = write(tmp_path / "short.jsonl", records[:-1])
    with pytest.raises(verification.AccountingError, match="not in the new version \\(first: id5\\)"):
        outcome(run)
    run["versioned"] = write(tmp_path / "long.jsonl", [*records, item(9, "a")])
    with pytest.raises(verification.AccountingError, match="were not in the dataset \\(first: id9\\)"):
        outcome(run)
    run["versioned"] = write(tmp_path / "twice.jsonl", [*records, records[0]])
    with pytest.raises(verification.AccountingError, match="6 lines but the new version 7"):
        outcome(run)
