"""A labeling step run as its own process, killed with SIGKILL at a chosen point (see test_labeling_faults).

Usage: python rounds_child.py STORE_URI RUN_ID KILL_POINT NTH

It labels ITEMS with a labeler that delivers one annotation per poll (so a round stores several
parts), through the real rounds loop and annotation store, and SIGKILLs itself the NTH time it
reaches KILL_POINT (``none`` runs to the end).
"""

import json
import os
import signal
import sys

from labelloop.components.core import annotation_store as st
from labelloop.components.core import labeling_rounds as lb
from labelloop.components.core.labeling_job import parse_job_spec

ITEMS = [f"item{n}" for n in range(5)]
PRICE_USD = 0.035
JOB = {
    "displayName": "kill",
    "labelerCount": 3,
    "instructionUri": "https://example.test/guide.pdf",
    "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
    "inputs": {"annotationSpecs": ["pos", "neg"]},
    "labelloop": {"pricePerLabelUsd": PRICE_USD, "pollIntervalSeconds": 1},
}


class DripLabeler:
    """Delivers one more annotation each time it is polled, as slow human labelers do."""

    name = "drip"

    def __init__(self):
        self.targets: dict[str, int] = {}
        self.shown = 0

    def request(self, tasks):
        for task in tasks:
            self.targets[task.item_id] = max(self.targets.get(task.item_id, 0), task.target_labels)

    def delivered(self):
        every = [
            lb.Delivered(item, f"labeler{n}", "pos" if n % 2 else "neg")
            for item, target in self.targets.items()
            for n in range(target)
        ]
        self.shown = min(len(every), self.shown + 1)
        return every[: self.shown]


def main(store_uri: str, run_id: str, kill_point: str, nth: int) -> None:
    seen: dict[str, int] = {}

    def reach(point: str) -> None:
        seen[point] = seen.get(point, 0) + 1
        if point == kill_point and seen[point] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    real_replace = os.replace

    def replace(src, dst):  # the atomic writer publishes a local part file with os.replace
        folder = "annotations" if "/annotations/" in str(dst) else "ledger" if "/ledger/" in str(dst) else "other"
        reach(f"{folder}_before_publish")
        real_replace(src, dst)
        reach(f"{folder}_after_publish")

    os.replace = replace
    real_ledger = st.AnnotationStore.append_ledger

    def append_ledger(self, entry):
        reach("ledger_before_write")
        real_ledger(self, entry)

    st.AnnotationStore.append_ledger = append_ledger
    items = [(i, {"textContent": i, "dataItemResourceLabels": {"labelloop_id": i}}) for i in ITEMS]
    config = lb.RoundsConfig(run_id, sleep=lambda seconds: None)
    result = lb.run_rounds(items, parse_job_spec(json.dumps(JOB)), DripLabeler(), st.AnnotationStore(store_uri), config)
    print(json.dumps({"bought": len(result.bought), "rounds": len(result.ledger)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
