"""A labeling job end to end: manifest lines in; labeled items, rejects, metrics and a report out.

:func:`run_job` checks the items, runs the labeling rounds (:mod:`labeling_rounds`) with a
labeler, computes consensus, quality and spend, and renders the HTML report; also the readers and
writers around it (model predictions in, labeled records in the Vertex import schema out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import adaptive, consensus, manifest
from . import labeling_job as lj
from .annotation_store import AnnotationStore, StoredAnnotation, utc_now
from .labeling_job import LabelingJobSpec, TaskType
from .labeling_rounds import Labeler, RoundsConfig, redundancy_policy, run_rounds


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
    modality_fields = {"image": ("imageGcsUri",), "table": ("tableRow",)}.get(
        spec.task_type.modality, ("textContent", "textGcsUri")
    )
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
        elif not any(isinstance(record.get(f), (str, dict)) and record.get(f) for f in modality_fields):
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
    """Everything a labeling job produces: labeled items, rejects, raw annotations, metrics, job resource, report."""

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
    summary = job_consensus(spec, rounds.annotations, predictions)
    labeled = [_output_record(record, item_id, summary, rounds, spec) for item_id, record in items]
    if spec.task_type.is_single_label:
        labeled = _with_votes(labeled, rounds.annotations)
    status = _status(unique, summary, rounds)
    resource = lj.job_resource(spec, status, create_time=create_time, update_time=utc_now())
    metrics = _metrics(unique, summary, rounds, status)
    report = lj.render_report_html(
        f"Labeling report: {spec.display_name}", _report_sections(spec, summary, rounds, metrics, resource)
    )
    return JobOutcome(labeled, rejects, [_raw(a) for a in rounds.annotations], metrics, resource, report)


def job_consensus(
    spec: LabelingJobSpec,
    annotations: Sequence[StoredAnnotation],
    predictions: Mapping[str, Mapping[str, float]] | None = None,
) -> consensus.QualitySummary:
    """The job's consensus and quality figures over its annotations.

    With ``modelInConsensus`` on and the model's predictions given (single-label), Dawid–Skene
    takes the model's calibrated probabilities as each item's prior: the posterior the adaptive
    stop rule settles items on (:func:`adaptive.estimated_posteriors`), so the label reported is the
    one whose confidence stopped the buying, and the model's second choice counts where the
    labelers split. Majority vote counts the model's top class as one more vote.
    """
    model = {}
    if spec.adaptive.model_in_consensus and predictions and spec.task_type.is_single_label:
        if spec.consensus_method == "dawid_skene":
            model["item_posteriors"] = _model_prior_posteriors(spec, annotations, predictions)
        else:
            model["model_answers"] = top_classes(predictions)
    return consensus.summarize(
        task_kind(spec.task_type),
        [(a.item_id, a.labeler_id, a.value) for a in annotations],
        spec.annotation_specs,
        method=spec.consensus_method,
        review_threshold=spec.review_threshold,
        **model,
    )


def top_classes(predictions: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
    """The model's top class per item (ties: the name that sorts last), for a consensus that counts it as a vote."""
    return {item_id: max(p.items(), key=lambda kv: (kv[1], kv[0]))[0] for item_id, p in predictions.items() if p}


def _model_prior_posteriors(spec, annotations, predictions) -> dict[str, np.ndarray]:
    answers = adaptive.answers_by_item(annotations)
    estimate = adaptive.estimated_posteriors(answers, spec.annotation_specs, redundancy_policy(spec), predictions)
    return dict(zip(estimate.item_ids, estimate.posteriors))


def _output_record(record, item_id, summary, rounds, spec) -> dict:
    result = summary.items.get(item_id)
    if result is not None:
        out = labeled_record(record, result, spec)
        return manifest.with_extra(out, labeling_status="waiting" if item_id in rounds.waiting else "labeled")
    status = "over_budget" if item_id in rounds.held_back_by_budget else "waiting"
    return manifest.with_extra(record, labeling_status=status)


def _with_votes(labeled: list[dict], annotations) -> list[dict]:
    """Single-label items get ``labelloop.human_votes`` ({label: answers}), so a later merge can weigh a
    disputed consensus against the label the item already had."""
    votes: dict[str, dict[str, int]] = {}
    for a in annotations:
        tally = votes.setdefault(a.item_id, {})
        tally[str(a.value)] = tally.get(str(a.value), 0) + 1
    out = []
    for record in labeled:
        tally = votes.get(manifest.item_id(record))
        out.append(manifest.with_extra(record, human_votes=dict(sorted(tally.items()))) if tally else record)
    return out


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
