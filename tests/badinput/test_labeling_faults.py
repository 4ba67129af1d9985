"""Labeling faults: the labeling step killed (SIGKILL) at every stage of a round, then re-run; the
spend ledger must equal the cost of the stored annotations exactly, and no label is bought twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from labelloop.components.core import manifest
from labelloop.components.core.annotation_store import AnnotationStore, AnnotationStoreError, LedgerEntry

CHILD = Path(__file__).with_name("rounds_child.py")


def run_child(store: Path, run_id: str, kill_point: str = "none", nth: int = 1) -> int:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(store), run_id, kill_point, str(nth)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()[-2000:]
    return done.returncode


def stored_lines(store: Path) -> list[dict]:
    return [json.loads(line) for part in sorted((store / "annotations").glob("part-*.jsonl")) for line in part.open()]


def assert_spend_is_exact(store: Path) -> None:
    opened = AnnotationStore(str(store))
    lines = stored_lines(store)
    keys = [(a["item_id"], a["labeler_id"]) for a in lines]
    assert len(keys) == len(set(keys)), "a label was stored (bought) twice"
    ledger_total = sum(round(e.cost_usd * 1e9) for e in opened.load_ledger())
    assert ledger_total == sum(round(a["cost_usd"] * 1e9) for a in lines) == round(opened.spent_usd() * 1e9)
    assert sum(e.labels_delivered for e in opened.load_ledger()) == len(lines)


@pytest.mark.parametrize(
    "point, nth",
    [
        ("annotations_before_publish", 1),
        ("annotations_before_publish", 7),
        ("annotations_after_publish", 1),
        ("annotations_after_publish", 5),
        ("annotations_after_publish", 10),
        ("ledger_before_write", 1),
        ("ledger_before_write", 2),
        ("ledger_before_publish", 1),
        ("ledger_after_publish", 2),
    ],
)
def test_spend_equals_stored_cost_after_a_kill_and_a_rerun(tmp_path, point, nth):
    store = tmp_path / "store"
    assert run_child(store, "r1", point, nth) == -signal.SIGKILL  # the kill happened
    assert_spend_is_exact(store)
    assert run_child(store, "r2") == 0
    assert_spend_is_exact(store)
    assert run_child(store, "r3") == 0  # a further re-run buys nothing
    assert_spend_is_exact(store)
    assert {e.run_id for e in AnnotationStore(str(store)).load_ledger() if e.labels_delivered} <= {"r1", "r2"}


def test_an_uninterrupted_run_records_every_round(tmp_path):
    store = tmp_path / "store"
    assert run_child(store, "r1") == 0
    assert_spend_is_exact(store)
    ledger = AnnotationStore(str(store)).load_ledger()
    assert len(ledger) >= 2 and all(e.labels_requested >= e.labels_delivered for e in ledger)


def test_a_round_killed_before_its_ledger_line_is_still_charged(tmp_path):
    store = AnnotationStore(str(tmp_path))
    from labelloop.components.core.annotation_store import StoredAnnotation

    store.append_annotations(
        [
            StoredAnnotation("i1", "l1", "pos", 0.035, 1, "r1", "sim"),
            StoredAnnotation("i2", "l1", "neg", 0.035, 1, "r1", "sim"),
        ]
    )
    (entry,) = store.load_ledger()
    assert (entry.run_id, entry.round, entry.labels_delivered, entry.cost_usd) == ("r1", 1, 2, 0.07)
    store.append_ledger(LedgerEntry("r1", 1, 3, 2, 0.07, 3, "2026-01-01T00:00:00Z"))
    (entry,) = store.load_ledger()
    assert (entry.labels_requested, entry.items_requested, entry.cost_usd) == (3, 3, 0.07)


@pytest.mark.parametrize(
    "line, error",
    [
        (b"{broken\n", manifest.ManifestError),
        (b'{"item_id": "i1"}\n', AnnotationStoreError),
        (b"[]\n", manifest.ManifestError),
    ],
)
def test_a_corrupt_annotation_part_is_an_error_naming_file_and_line(tmp_path, line, error):
    store = AnnotationStore(str(tmp_path))
    (tmp_path / "annotations").mkdir()
    part = tmp_path / "annotations" / "part-0.jsonl"
    part.write_bytes(b'{"item_id": "i0", "labeler_id": "l", "value": "a", "cost_usd": 0.1}\n' + line)
    with pytest.raises(error, match=r"part-0\.jsonl:2"):
        store.load_annotations()
