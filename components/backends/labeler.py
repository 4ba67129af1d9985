"""The simulated crowd: a :class:`labeling_rounds.Labeler` that answers at once from a hidden
ground-truth file (the other backend, ``label_studio.LabelStudioLabeler``, asks real people).

The interface (``Labeler``, ``LabelTask``, ``Delivered``) and the rounds that drive a labeler live
in ``core.labeling_rounds``; the job around them in ``core.labeling_output``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core import simulated_crowd as crowd
from ..core.labeling_job import LabelingJobSpec, TaskType
from ..core.labeling_rounds import Delivered, LabelTask


class SimulatedCrowdLabeler:
    """Labels from simulated labelers answering from ground truth only this backend reads."""

    name = "simulated"

    def __init__(self, spec: LabelingJobSpec, ground_truth: Mapping[str, Any], config: crowd.CrowdConfig):
        if spec.task_type not in (
            TaskType.IMAGE_CLASSIFICATION,
            TaskType.TEXT_CLASSIFICATION,
            TaskType.IMAGE_MULTI_LABEL,
            TaskType.TEXT_MULTI_LABEL,
            TaskType.TABLE_CLASSIFICATION,
        ):
            raise ValueError(
                f"the simulated crowd labels classification tasks; {spec.task_type.value} needs Label Studio"
            )
        if config.n_labelers < spec.labeler_count:
            raise ValueError(
                f"the simulated crowd has {config.n_labelers} labelers but labelerCount is {spec.labeler_count}; "
                "make the crowd at least as large"
            )
        self.spec = spec
        self.classes = spec.annotation_specs
        self.truth = ground_truth
        self.config = config
        self.labelers = crowd.make_crowd(self.classes, config)
        self._targets: dict[str, int] = {}

    @classmethod
    def from_files(
        cls, spec: LabelingJobSpec, ground_truth_uri: str, config: crowd.CrowdConfig
    ) -> SimulatedCrowdLabeler:
        if not ground_truth_uri:
            raise ValueError('backend \'simulated\' needs ground_truth_uri: a JSONL file of {"id", "label"} lines')
        return cls(spec, crowd.read_ground_truth(ground_truth_uri, spec.annotation_specs), config)

    def request(self, tasks: Sequence[LabelTask]) -> None:
        missing = [t.item_id for t in tasks if t.item_id not in self.truth]
        if missing:
            raise KeyError(
                f"{len(missing)} item(s) have no ground truth (first: {missing[0]}); the simulated crowd can only "
                "label items listed in the ground-truth file"
            )
        for task in tasks:
            self._targets[task.item_id] = max(
                self._targets.get(task.item_id, 0), min(task.target_labels, len(self.labelers))
            )

    def delivered(self) -> list[Delivered]:
        out = []
        for item_id, target in self._targets.items():
            for labeler in crowd.assignment_order(self.labelers, item_id, self.config.seed)[:target]:
                out.append(Delivered(item_id, labeler.labeler_id, self._answer(labeler, item_id)))
        return out

    def _answer(self, labeler: crowd.SimulatedLabeler, item_id: str) -> Any:
        truth = self.truth[item_id]
        if self.spec.task_type.is_multi_label:
            labels = truth if isinstance(truth, list) else [truth]
            return crowd.answer_multi(labeler, labels, self.classes, item_id, self.config.seed)
        if isinstance(truth, list):
            raise ValueError(f"item {item_id}: ground truth is multi-label {truth} but the job is single-label")
        return self.classes[crowd.answer_single(labeler, self.classes.index(truth), item_id, self.config.seed)]
