"""Human labeling behind one small interface, a simulated crowd, and the rounds that drive them.

A :class:`Labeler` is asked for labels (``request``: per item, how many distinct labelers should
have answered in total) and reports what labelers delivered so far (``delivered``). Two
implementations: :class:`SimulatedCrowdLabeler` (answers at once from a hidden ground-truth file)
and ``label_studio.LabelStudioLabeler`` (real people in Label Studio).

:func:`run_rounds` is the loop both share: plan a round within the budget (adaptive or fixed
redundancy), request it, wait for deliveries, persist every delivered annotation to the
append-only store at once, and repeat until nothing more is wanted, the budget is spent or the
timeout passes. A re-run reads the store first, so labels are never bought twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..core import adaptive, consensus, manifest
from ..core import labeling_job as lj
from ..core import simulated_crowd as crowd
from ..core.annotation_store import AnnotationStore, LedgerEntry, StoredAnnotation, utc_now
from ..core.labeling_job import LabelingJobSpec, TaskType


@dataclass(frozen=True)
class LabelTask:
    """Ask for ``target_labels`` distinct labelers' answers on one item."""

    item_id: str
    record: Mapping[str, Any]
    target_labels: int
    prediction: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Delivered:
    """An annotation a labeler delivered: ``value`` in the store's format (see ``StoredAnnotation``)."""

    item_id: str
    labeler_id: str
    value: Any
    backend_ref: str | None = None


class Labeler(Protocol):
    """A source of human labels."""

    name: str

    def request(self, tasks: Sequence[LabelTask]) -> None:
        """Make sure each task's item is being labeled until ``target_labels`` labelers answered."""

    def delivered(self) -> list[Delivered]:
        """Every annotation labelers have delivered for this job so far (cancelled/skipped ones excluded)."""


# ---------------------------------------------------------------------------------------------
# The simulated crowd


class SimulatedCrowdLabeler:
    """Labels from simulated labelers answering from ground truth only this backend reads."""

    name = "simulated"

    def __init__(self, spec: LabelingJobSpec, ground_truth: Mapping[str, Any], config: crowd.CrowdConfig):
        if spec.task_type not in (
            TaskType.IMAGE_CLASSIFICATION,
            TaskType.TEXT_CLASSIFICATION,
            TaskType.IMAGE_MULTI_LABEL,
            TaskType.TEXT_MULTI_LABEL,
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


# ---------------------------------------------------------------------------------------------
# The rounds


@dataclass(frozen=True)
class RoundsResult:
    """What a labeling session did: the annotations it knows of and what this run bought."""

    annotations: tuple[StoredAnnotation, ...]  # every stored annotation for the given items
    bought: tuple[StoredAnnotation, ...]  # delivered and stored by this run
    ledger: tuple[LedgerEntry, ...]  # this run's rounds
    held_back_by_budget: tuple[str, ...]
    waiting: tuple[str, ...]  # items still short of the labels they wanted when the run stopped
    timed_out: bool
    spent_before_usd: float

    @property
    def bought_usd(self) -> float:
        return float(sum(a.cost_usd for a in self.bought))


@dataclass(frozen=True)
class RoundsConfig:
    """Knobs of :func:`run_rounds` beyond the spec: the run's id and how to wait."""

    run_id: str
    max_items: int | None = None
    max_rounds: int = 20
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)


def run_rounds(
    items: Sequence[tuple[str, Mapping[str, Any]]],
    spec: LabelingJobSpec,
    labeler: Labeler,
    store: AnnotationStore,
    config: RoundsConfig,
    predictions: Mapping[str, Mapping[str, float]] | None = None,
) -> RoundsResult:
    """Label ``items`` (``(item_id, record)`` in priority order) until settled, out of budget or out of time."""
    predictions = predictions or {}
    records = dict(items)
    order = list(records)
    policy = _policy(spec)
    budget = spec.budget.tightened(config.max_items)
    stored = {a.key: a for a in store.load_annotations()}
    spent_before = float(sum(a.cost_usd for a in stored.values()))
    deadline = config.clock() + spec.timeout_s
    bought: list[StoredAnnotation] = []
    ledger: list[LedgerEntry] = []
    held: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    timed_out = False
    for round_number in range(1, config.max_rounds + 1):
        answers = _answers_by_item(stored.values(), records)
        wants = [
            (i, len(answers.get(i, ())), _wanted(spec, policy, answers.get(i, ()), predictions.get(i))) for i in order
        ]
        spent = float(sum(a.cost_usd for a in stored.values()))
        plan = adaptive.plan_round(
            wants,
            price_per_label_usd=spec.price_per_label_usd,
            started=set(answers),
            budget=_budget_left(budget, answers, spent),
        )
        held = plan.held_back
        if not plan.targets:
            break
        labeler.request([LabelTask(i, records[i], n, predictions.get(i)) for i, n in plan.targets])
        new, waiting, timed_out = _collect_round(
            labeler, store, stored, dict(plan.targets), spec, config, round_number, deadline
        )
        bought.extend(new)
        entry = LedgerEntry(
            config.run_id,
            round_number,
            plan.new_labels,
            len(new),
            float(sum(a.cost_usd for a in new)),
            plan.items,
            utc_now(),
        )
        store.append_ledger(entry)
        ledger.append(entry)
        if timed_out:
            break
    ours = tuple(a for a in stored.values() if a.item_id in records)
    return RoundsResult(ours, tuple(bought), tuple(ledger), held, waiting, timed_out, spent_before)


def _collect_round(labeler, store, stored, targets, spec, config, round_number, deadline):
    """Poll the labeler until every target is met or the deadline passes; persist deliveries at once."""
    new: list[StoredAnnotation] = []
    while True:
        fresh = [
            StoredAnnotation(
                d.item_id,
                d.labeler_id,
                _canonical(d.value),
                spec.price_per_label_usd,
                round_number,
                config.run_id,
                labeler.name,
                d.backend_ref,
                utc_now(),
            )
            for d in labeler.delivered()
            if (d.item_id, d.labeler_id) not in stored
        ]
        for annotation in store.append_annotations(fresh):
            stored[annotation.key] = annotation
            new.append(annotation)
        have = _answers_by_item(stored.values(), targets)
        waiting = tuple(i for i, n in targets.items() if len(have.get(i, ())) < n)
        if not waiting:
            return new, (), False
        if config.clock() >= deadline:
            return new, waiting, True
        config.sleep(min(spec.poll_interval_s, max(0.0, deadline - config.clock())))


def _policy(spec: LabelingJobSpec) -> adaptive.RedundancyPolicy:
    adaptive_ok = spec.adaptive.enabled and spec.task_type not in (
        TaskType.IMAGE_BOUNDING_BOX,
        TaskType.TEXT_ENTITY_SPANS,
    )
    return adaptive.RedundancyPolicy(
        spec.labeler_count,
        adaptive_ok,
        spec.adaptive.required_margin,
        spec.adaptive.confident_probability,
        stop_probability=spec.adaptive.stop_probability,
        labeler_accuracy=spec.adaptive.labeler_accuracy,
    )


def _wanted(spec: LabelingJobSpec, policy: adaptive.RedundancyPolicy, answers, probabilities) -> int:
    """Labels an item should end with: the posterior rule when ``stopProbability`` is set (single-label), else votes."""
    if policy.stop_probability is not None and spec.task_type.is_single_label:
        return adaptive.labels_wanted_posterior(answers, policy, spec.annotation_specs, probabilities)
    return adaptive.labels_wanted(answers, policy, _model_vote(spec, probabilities, policy))


def _model_vote(spec: LabelingJobSpec, probabilities, policy):
    return adaptive.model_vote(probabilities, policy) if spec.task_type.is_single_label else None


def _budget_left(budget, answers, spent_usd) -> adaptive.BudgetLeft:
    items = None if budget.max_items is None else max(0, budget.max_items - len(answers))
    usd = None if budget.max_spend_usd is None else max(0.0, budget.max_spend_usd - spent_usd)
    return adaptive.BudgetLeft(items, usd)


def _answers_by_item(annotations, wanted_items) -> dict[str, list]:
    out: dict[str, list] = {}
    for annotation in annotations:
        if annotation.item_id in wanted_items:
            out.setdefault(annotation.item_id, []).append(_comparable(annotation.value))
    return out


def _canonical(value: Any) -> Any:
    """Stored form of an answer: multi-label lists sorted, everything else as given."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return sorted(value)
    return value


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _comparable(v)) for k, v in value.items()))
    return value


# ---------------------------------------------------------------------------------------------
# Items in, labeled items out

REJECT_STEP = "label_items"


@dataclass(frozen=True)
class Rejected:
    """An input line that cannot be labeled, with a code and a sentence a person can act on."""

    line: int
    record: Any
    reason_code: str
    reason: str


def check_items(lines: Sequence[Any], spec: LabelingJobSpec) -> tuple[list[tuple[str, dict]], list[Rejected]]:
    """Split manifest lines into labelable ``(item_id, record)`` pairs and rejects.

    An item is rejected when it has no ``labelloop_id`` or no content this task type can show.
    Items that repeat an id are kept (they are the same content and get the same label).
    """
    modality_fields = ("imageGcsUri",) if spec.task_type.modality == "image" else ("textContent", "textGcsUri")
    items, rejects = [], []
    for line in lines:
        record = line.record
        labels = record.get("dataItemResourceLabels")
        item_id = labels.get(manifest.ID_KEY) if isinstance(labels, dict) else None
        if not isinstance(item_id, str) or not item_id:
            rejects.append(
                Rejected(
                    line.number,
                    record,
                    "no_id",
                    "item has no dataItemResourceLabels.labelloop_id; run it through import_dataset first",
                )
            )
        elif not any(isinstance(record.get(f), str) and record.get(f) for f in modality_fields):
            rejects.append(
                Rejected(
                    line.number,
                    record,
                    "wrong_content",
                    f"a {spec.task_type.value} job needs {' or '.join(modality_fields)}; this item has none",
                )
            )
        else:
            items.append((item_id, record))
    return items, rejects


def read_predictions(path: str, classes: Sequence[str]) -> tuple[dict[str, dict[str, float]], str]:
    """Read ``{"id", "probabilities": {label: p}}`` lines; returns them by id and the model version seen.

    Raises:
        ValueError: naming file and line for a missing id, probabilities that are not numbers in
            [0, 1], a label outside the label set, or an id given twice.
    """
    out: dict[str, dict[str, float]] = {}
    version = ""
    for line in manifest.read_lines(path):
        where = f"{path}:{line.number}"
        item_id, probabilities = line.record.get("id"), line.record.get("probabilities")
        if not isinstance(item_id, str) or not isinstance(probabilities, dict):
            raise ValueError(f'{where}: expected {{"id": str, "probabilities": {{label: p}}}}')
        unknown = sorted(set(probabilities) - set(classes))
        if unknown:
            raise ValueError(
                f"{where}: item {item_id} has probabilities for {unknown}, not in the label set {list(classes)}"
            )
        if not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) and 0.0 <= p <= 1.0 for p in probabilities.values()
        ):
            raise ValueError(f"{where}: item {item_id} has probabilities outside [0, 1]: {probabilities}")
        if item_id in out:
            raise ValueError(f"{where}: item {item_id} appears twice; keep one prediction per item")
        out[item_id] = {k: float(v) for k, v in probabilities.items()}
        version = str(line.record.get("model_version") or version)
    return out, version


def labeled_record(record: dict, result: Any, spec: LabelingJobSpec) -> dict:
    """``record`` with the consensus of its labelers (a :class:`consensus.ItemResult`) in Vertex import form."""
    facts = {"human_labels": result.labels, "needs_review": result.needs_review}
    kind = spec.task_type
    if kind.is_single_label or kind.is_multi_label:
        value = result.value if kind.is_single_label else list(result.value)
        out = manifest.with_label(record, value, source="human", confidence=round(result.confidence, 6))
    elif kind is TaskType.IMAGE_BOUNDING_BOX:
        out = {
            **record,
            "boundingBoxAnnotations": [
                {
                    "displayName": c.box.label,
                    "xMin": c.box.x_min,
                    "yMin": c.box.y_min,
                    "xMax": c.box.x_max,
                    "yMax": c.box.y_max,
                    "annotationResourceLabels": {manifest.SOURCE_KEY: "human"},
                }
                for c in result.value
            ],
        }
        out = manifest.with_extra(out, label_source="human", label_confidence=round(result.confidence, 6))
    else:
        out = {
            **record,
            "textSegmentAnnotations": [
                {
                    "displayName": s.label,
                    "startOffset": s.start,
                    "endOffset": s.end,
                    "annotationResourceLabels": {manifest.SOURCE_KEY: "human"},
                }
                for s in result.value
            ],
        }
        out = manifest.with_extra(out, label_source="human", label_confidence=round(result.confidence, 6))
    if spec.annotation_labels:
        out = _with_annotation_labels(out, spec.annotation_labels)
    return manifest.with_extra(out, **facts)


def _with_annotation_labels(record: dict, labels: Mapping[str, str]) -> dict:
    out = dict(record)
    for key in ("classificationAnnotation",):
        if key in out:
            out[key] = {**out[key], "annotationResourceLabels": {**labels, **out[key]["annotationResourceLabels"]}}
    for key in ("classificationAnnotations", "boundingBoxAnnotations", "textSegmentAnnotations"):
        if key in out:
            out[key] = [
                {**a, "annotationResourceLabels": {**labels, **a["annotationResourceLabels"]}} for a in out[key]
            ]
    return out


def task_kind(task_type: TaskType) -> str:
    """The consensus module's name for how a task type's answers are aggregated."""
    if task_type.is_single_label:
        return "single_label"
    if task_type.is_multi_label:
        return "multi_label"
    return "boxes" if task_type is TaskType.IMAGE_BOUNDING_BOX else "spans"


@dataclass(frozen=True)
class JobOutcome:
    """Everything ``label_items`` writes: labeled items, rejects, raw annotations, metrics, job resource, report."""

    labeled: list[dict]
    rejects: list[Rejected]
    raw_annotations: list[dict]
    metrics: dict[str, float]
    resource: dict
    report_html: str


def run_job(
    lines: Sequence[Any],
    spec: LabelingJobSpec,
    labeler: Labeler,
    store: AnnotationStore,
    config: RoundsConfig,
    predictions: Mapping[str, Mapping[str, float]] | None = None,
) -> JobOutcome:
    """Label the manifest ``lines`` (``manifest.Line``) and compute consensus, quality and spend.

    Every input line ends up in ``labeled`` (labeled, or unlabeled with ``labelloop.labeling_status``
    saying why) or in ``rejects``.
    """
    create_time = utc_now()
    items, rejects = check_items(lines, spec)
    unique = list(dict(items).items())
    rounds = run_rounds(unique, spec, labeler, store, config, predictions)
    summary = consensus.summarize(
        task_kind(spec.task_type),
        [(a.item_id, a.labeler_id, a.value) for a in rounds.annotations],
        spec.annotation_specs,
        method=spec.consensus_method,
        review_threshold=spec.review_threshold,
        model_answers=model_answers(spec, predictions),
    )
    labeled = [_output_record(record, item_id, summary, rounds, spec) for item_id, record in items]
    status = _status(unique, summary, rounds)
    resource = lj.job_resource(spec, status, create_time=create_time, update_time=utc_now())
    metrics = _metrics(unique, summary, rounds, status)
    report = lj.render_report_html(
        f"Labeling report: {spec.display_name}", _report_sections(spec, summary, rounds, metrics, resource)
    )
    return JobOutcome(labeled, rejects, [_raw(a) for a in rounds.annotations], metrics, resource, report)


def model_answers(spec: LabelingJobSpec, predictions) -> dict[str, str] | None:
    """The model's top class per item, for consensus when ``modelInConsensus`` is on (single-label only)."""
    if not (spec.adaptive.model_in_consensus and predictions and spec.task_type.is_single_label):
        return None
    return {item_id: max(p.items(), key=lambda kv: (kv[1], kv[0]))[0] for item_id, p in predictions.items() if p}


def _output_record(record, item_id, summary, rounds, spec) -> dict:
    result = summary.items.get(item_id)
    if result is not None:
        out = labeled_record(record, result, spec)
        return manifest.with_extra(out, labeling_status="waiting" if item_id in rounds.waiting else "labeled")
    status = "over_budget" if item_id in rounds.held_back_by_budget else "waiting"
    return manifest.with_extra(record, labeling_status=status)


def _status(items, summary, rounds):
    finished = sum(1 for item_id, _ in items if item_id in summary.items and item_id not in rounds.waiting)
    complete = finished == len(items) and not rounds.held_back_by_budget
    state = lj.JobState.SUCCEEDED if complete else lj.JobState.PARTIALLY_SUCCEEDED
    return lj.JobStatus(
        state,
        lj.labeling_progress(finished, len(items)),
        rounds.spent_before_usd + rounds.bought_usd,
        len(items),
        finished,
    )


def _metrics(items, summary, rounds, status) -> dict[str, float]:
    labeled = [r for r in summary.items.values()]
    figures = {
        "labeling_progress": status.labeling_progress,
        "current_spend_usd": round(status.current_spend_usd, 6),
        "spend_this_run_usd": round(rounds.bought_usd, 6),
        "labels_bought_this_run": len(rounds.bought),
        "labels_total": len(rounds.annotations),
        "rounds_this_run": len(rounds.ledger),
        "items_total": len(items),
        "items_labeled": len(labeled),
        "items_unlabeled_over_budget": sum(1 for i in rounds.held_back_by_budget if i not in summary.items),
        "items_short_of_labels_over_budget": sum(1 for i in rounds.held_back_by_budget if i in summary.items),
        "items_waiting": len(rounds.waiting),
        "items_needing_review": len(summary.items_needing_review),
        "mean_labels_per_item": (sum(r.labels for r in labeled) / len(labeled)) if labeled else 0.0,
        "mean_confidence": (sum(r.confidence for r in labeled) / len(labeled)) if labeled else float("nan"),
        "percent_agreement": summary.percent_agreement,
        "fleiss_kappa": summary.fleiss_kappa,
        "krippendorff_alpha": summary.krippendorff_alpha,
    }
    return {k: float(v) for k, v in figures.items() if v == v}  # NaN (undefined) figures are left out


def _raw(annotation: StoredAnnotation) -> dict:
    return asdict(annotation)


def _report_sections(spec, summary, rounds, metrics, resource):
    sections = [
        lj.ReportSection(
            "Job",
            f"{resource['state']}: {resource['labelingProgress']}% of items finished, "
            f"${metrics['current_spend_usd']:.2f} spent in all (${metrics['spend_this_run_usd']:.2f} this run). "
            f"Consensus by {summary.method}; {spec.labeler_count} labelers per item at most.",
        ),
        lj.ReportSection("Figures", header=("figure", "value"), rows=tuple(sorted(metrics.items()))),
        lj.ReportSection(
            "Rounds this run",
            header=("round", "items", "labels requested", "labels delivered", "cost (USD)"),
            rows=tuple(
                (e.round, e.items_requested, e.labels_requested, e.labels_delivered, e.cost_usd) for e in rounds.ledger
            ),
        ),
    ]
    if summary.labelers:
        sections.append(
            lj.ReportSection(
                "Labelers",
                header=("labeler", "labels", "agreement with consensus", "estimated accuracy"),
                rows=tuple(
                    (
                        q.labeler_id,
                        q.labels,
                        q.agreement_with_consensus,
                        float("nan") if q.estimated_accuracy is None else q.estimated_accuracy,
                    )
                    for q in summary.labelers
                ),
            )
        )
    if summary.confusion is not None:
        sections.append(
            lj.ReportSection(
                "Labelers' answers vs consensus",
                "Rows: consensus label; columns: the label a labeler gave.",
                header=("consensus \\ labeler", *summary.classes),
                rows=tuple((name, *map(int, row)) for name, row in zip(summary.classes, summary.confusion)),
            )
        )
    review = summary.items_needing_review
    if review:
        sections.append(
            lj.ReportSection(
                f"Items needing review ({len(review)})",
                header=("item", "consensus", "confidence", "labels"),
                rows=tuple(
                    (i, _short(summary.items[i].value), summary.items[i].confidence, summary.items[i].labels)
                    for i in review[:200]
                ),
            )
        )
    return sections


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
