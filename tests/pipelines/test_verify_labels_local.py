"""``labelloop run verify-labels --local`` on digits with 10 % planted label noise and a simulated crowd.

Run 1 imports the noisy labeled manifest, finds suspects within 15 % of the items, buys verification
labels and versions the corrected dataset; run 2 verifies the stored version with a spend budget too
small for every suspect, so unanswered suspects must keep their labels. Both runs go through the
CLI exactly as a user types them.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from labelloop.components.core import manifest as mf
from labelloop.components.core import sample_data, sample_runs, versions
from labelloop.components.core.annotation_store import AnnotationStore
from labelloop.pipelines.cli import main

pytestmark = pytest.mark.slow

ITEMS, NOISE, FRACTION, PRICE = 300, 30, 0.15, 0.05


def labelloop(*argv: str, root: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--pipeline-root", str(root)], environ={}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def params(**values) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--param", f"{name}={value}")]


def step_metrics(run: Path, step: str, output: str = "metrics") -> dict:
    executor = json.loads((run / step / "executor_output.json").read_text())
    return executor["artifacts"][output]["artifacts"][0]["metadata"]


def job_spec(classes, *, max_spend_usd: float) -> str:
    spec = json.loads(sample_runs.job_spec("image", classes, "verify digit labels"))
    spec["labelloop"] = {"pricePerLabelUsd": PRICE, "budget": {"maxSpendUsd": max_spend_usd}}
    return json.dumps(spec)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """300 digit images (scaled to 32 px) as a labeled JSONL manifest, 30 of them mislabeled; the true labels."""
    folder = tmp_path_factory.mktemp("noisy-digits")
    digits = sample_data.load_digits_images()
    rng = np.random.default_rng(0)
    chosen = rng.permutation(len(digits.labels))[:ITEMS]
    images = [np.kron(digits.images[i], np.ones((4, 4), dtype=np.uint8)) for i in chosen]
    truth = [digits.labels[i] for i in chosen]
    classes = sorted(set(truth))
    given = list(truth)
    for i in rng.choice(ITEMS, NOISE, replace=False):
        given[i] = str(rng.choice([c for c in classes if c != truth[i]]))
    path = sample_data.write_image_manifest(images, given, str(folder))
    ids = [mf.item_id(r) for r in mf.read_jsonl(path)]
    truth_path = str(folder / "ground_truth.jsonl")
    mf.write_jsonl(truth_path, [{"id": i, "label": t} for i, t in zip(ids, truth)])
    planted = {i for i, g, t in zip(ids, given, truth) if g != t}
    return {
        "manifest": path,
        "truth_uri": truth_path,
        "truth": dict(zip(ids, truth)),
        "given": dict(zip(ids, given)),
        "planted": planted,
        "classes": classes,
        "folder": folder,
    }


@pytest.fixture(scope="module")
def verified(noisy, tmp_path_factory):
    """Run 1: import the noisy manifest and verify it."""
    state = tmp_path_factory.mktemp("state")
    code, out, err = labelloop(
        "run",
        "verify-labels",
        "--local",
        *params(
            source_uri=noisy["manifest"],
            store_uri=state / "versions",
            annotation_store_uri=state / "verification-annotations",
            dataset_name="digits",
            labeling_job_spec=job_spec(noisy["classes"], max_spend_usd=100),
            labeling_backend="simulated",
            ground_truth_uri=noisy["truth_uri"],
            simulated_crowd=json.dumps(sample_runs.CROWD),
            max_relabel_fraction=FRACTION,
        ),
        root=state / "root",
    )
    assert code == 0, err
    return {"run": Path(re.search(r"run folder: (\S+)", out).group(1)), "state": state}


def _version(store: Path, version_id: str = "latest") -> tuple[str, list[dict]]:
    version = versions.get_version(str(store), "digits", version_id)
    return version.version_id, list(mf.read_jsonl(version.manifest_uri))


def test_suspects_are_within_the_budget_and_mostly_planted_errors(noisy, verified):
    run = verified["run"]
    found = step_metrics(run, "find-label-issues")
    suspects = list(mf.read_jsonl(str(run / "find-label-issues" / "suspects")))
    assert found["relabel_budget"] == int(FRACTION * ITEMS) == 45
    assert 0 < len(suspects) == found["suspects"] <= 45
    flagged = {mf.item_id(r) for r in suspects}
    assert all(mf.label_of(r) is None for r in suspects)  # people label afresh, unbiased by the old answer
    assert {mf.extra_of(r)["given_label"] for r in suspects} <= set(noisy["classes"])
    caught = flagged & noisy["planted"]
    assert len(caught) >= 0.8 * len(noisy["planted"]), (len(caught), len(noisy["planted"]))
    assert len(caught) >= 0.5 * len(flagged)


def test_planted_errors_among_the_suspects_are_corrected_in_the_new_version(noisy, verified):
    run, store = verified["run"], verified["state"] / "versions"
    version_id, records = _version(store)
    report = step_metrics(run, "report-verification")
    assert version_id == step_metrics(run, "version-dataset-2", "versioned")["version_id"]
    by_id = {mf.item_id(r): r for r in records}
    flagged = {mf.item_id(r) for r in mf.read_jsonl(str(run / "find-label-issues" / "suspects"))}
    caught = flagged & noisy["planted"]
    fixed = {i for i in caught if mf.label_of(by_id[i]) == noisy["truth"][i]}
    assert len(fixed) >= 0.75 * len(caught), (len(fixed), len(caught))  # the crowd errs too (one spammer)
    disputed = 0
    for item in flagged:
        record, facts = by_id[item], mf.extra_of(by_id[item])
        if facts.get("needs_review"):  # the labelers disagreed: the label stays, their answer beside it
            disputed += 1
            assert mf.label_of(record) == noisy["given"][item] and mf.label_source_of(record) == "import"
            assert facts["disputed_label"]["source"] == "human"
        else:
            assert mf.label_source_of(record) == "human"
            assert facts["label_history"][-1] == {"label": noisy["given"][item], "source": "import"}  # not lost
    for item in set(by_id) - flagged:  # nobody's label changed without a person verifying it
        assert mf.label_of(by_id[item]) == noisy["given"][item] and mf.label_source_of(by_id[item]) == "import"
    corrected = sum(1 for i in flagged if mf.label_of(by_id[i]) != noisy["given"][i])
    assert (report["corrected"], report["disputed"]) == (corrected, disputed)
    assert report["confirmed"] + corrected + disputed + report["unverified"] == len(flagged)
    wrong_before = sum(1 for i, r in by_id.items() if noisy["given"][i] != noisy["truth"][i])
    wrong_after = sum(1 for i, r in by_id.items() if mf.label_of(r) != noisy["truth"][i])
    assert (report["wrong_labels_before"], report["wrong_labels_after"]) == (wrong_before, wrong_after)
    assert wrong_after <= 0.5 * wrong_before


def test_every_item_in_is_in_the_new_version_and_the_old_one_is_kept(noisy, verified):
    store, run = verified["state"] / "versions", verified["run"]
    first = step_metrics(run, "version-dataset", "versioned")["version_id"]  # the imported labels
    second = step_metrics(run, "version-dataset-2", "versioned")["version_id"]  # the verified ones
    assert versions.get_version(str(store), "digits", second).parent == first != second
    _, imported = _version(store, first)
    _, corrected = _version(store, second)
    assert [mf.item_id(r) for r in imported] == [mf.item_id(r) for r in corrected] and len(corrected) == ITEMS
    assert {mf.item_id(r): mf.label_of(r) for r in imported} == noisy["given"]
    report = step_metrics(verified["run"], "report-verification")
    assert report["items_in"] == report["items_out"] == ITEMS


def test_spend_is_what_the_ledger_says(verified):
    report = step_metrics(verified["run"], "report-verification")
    labeling = step_metrics(verified["run"], "label-items")
    ledger = AnnotationStore(str(verified["state"] / "verification-annotations")).load_ledger()
    paid = sum(entry.cost_usd for entry in ledger)
    delivered = sum(entry.labels_delivered for entry in ledger)
    assert paid > 0 and report["spend_usd"] == pytest.approx(paid) == pytest.approx(report["ledger_spend_usd"])
    assert report["labels_bought"] == delivered == labeling["labels_bought_this_run"]
    assert paid == pytest.approx(delivered * PRICE) and report["labels_reused"] == 0
    assert report["suspects"] <= delivered <= 3 * report["suspects"]  # at most labelerCount labels per suspect


def test_a_stored_version_verified_over_budget_keeps_the_unanswered_labels(noisy, verified, tmp_path):
    store = verified["state"] / "versions"
    before_id, before = _version(store)
    code, out, err = labelloop(
        "run",
        "verify-labels",
        "--local",
        *params(
            store_uri=store,
            annotation_store_uri=tmp_path / "second-annotations",
            dataset_name="digits",
            labeling_job_spec=job_spec(noisy["classes"], max_spend_usd=0.25),  # 5 labels
            labeling_backend="simulated",
            ground_truth_uri=noisy["truth_uri"],
            simulated_crowd=json.dumps(sample_runs.CROWD),
            max_suspects=20,
        ),
        root=tmp_path / "root",
    )
    assert code == 0, err
    run = Path(re.search(r"run folder: (\S+)", out).group(1))
    assert json.loads((run / "checkout-dataset" / "executor_output.json").read_text())  # the stored-version path ran
    report = step_metrics(run, "report-verification")
    assert report["unverified"] > 0 and report["spend_usd"] <= 0.25 + 1e-9
    assert report["items_in"] == report["items_out"] == ITEMS
    _, after = _version(store)
    old = {mf.item_id(r): r for r in before}
    answers = list(mf.read_jsonl(str(run / "label-items" / "labeled")))
    kept = {mf.item_id(r) for r in answers if mf.label_of(r) is None or mf.extra_of(r)["needs_review"]}
    unanswered = [r for r in after if mf.item_id(r) in kept and mf.extra_of(r)["labeling_status"] == "over_budget"]
    disputed = [r for r in after if mf.item_id(r) in kept and mf.extra_of(r)["labeling_status"] != "over_budget"]
    assert (len(unanswered), len(disputed)) == (report["unverified"], report["disputed"])
    for record in unanswered + disputed:
        assert mf.label_of(record) == mf.label_of(old[mf.item_id(record)]) is not None
        assert mf.label_source_of(record) == mf.label_source_of(old[mf.item_id(record)])
    assert sum(1 for r in after if mf.label_of(r) is None) == 0
    assert versions.get_version(str(store), "digits").parent == before_id
