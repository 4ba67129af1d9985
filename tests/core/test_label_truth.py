"""Labels checked against a simulated crowd's answer key, and the run report's figures from it."""

from labelloop.components.core import label_truth as lt
from labelloop.components.core import manifest
from labelloop.components.core import run_report as rr


def record(i, label=None, use="training", source="human"):
    r = manifest.with_ml_use({"textContent": f"t{i}", "dataItemResourceLabels": {manifest.ID_KEY: f"id{i}"}}, use)
    return manifest.with_label(r, label, source=source) if label else r


def test_human_labels_per_split_and_machine_labels_are_checked_against_the_truth(tmp_path):
    records = [
        record(0, "a", "test"),
        record(1, "b", "test"),  # wrong
        record(2, "a", "validation"),
        record(3, "b", "training", source="machine"),
        record(4, "a", "training", source="machine"),  # wrong
        record(5),  # unlabeled: not checked
        record(6, "a", "test"),  # no truth: not checked
    ]
    manifest.write_jsonl(str(tmp_path / "items"), records)
    truth = {"id0": "a", "id1": "a", "id2": "a", "id3": "b", "id4": "b", "id5": "a"}
    (tmp_path / "truth").write_text("".join(f'{{"id": "{k}", "label": "{v}"}}\n' for k, v in truth.items()))
    checked = lt.label_truth(str(tmp_path / "items"), str(tmp_path / "truth"))
    assert checked.human == {"test": (1, 2), "validation": (1, 1)} and checked.machine == (1, 2)
    assert checked.human_accuracy("test") == 0.5 and checked.human_accuracy("training") is None
    figures = rr.truth_figures(checked)
    assert figures == {
        "machine-label precision (truth)": 0.5,
        "human test labels right (truth)": 0.5,
    }
    assert rr.truth_figures(lt.LabelTruth({}, (0, 0))) == {} and rr.truth_figures(None) == {}
    inputs = rr.inputs_from_run(ground_truth_uri=str(tmp_path / "truth"), dataset=str(tmp_path / "items"))
    assert inputs.label_truth == checked
    assert rr.inputs_from_run(dataset=str(tmp_path / "items")).label_truth is None
