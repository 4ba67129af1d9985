"""The labeling rounds: ask a :class:`Labeler` for labels round by round until settled.

A :class:`Labeler` is asked for labels (``request``: per item, how many distinct labelers should
have answered in total) and reports what labelers delivered so far (``delivered``). The backends
(``backends.labeler.SimulatedCrowdLabeler``, ``backends.label_studio.LabelStudioLabeler``)
implement it; this module only needs the protocol, so core never imports a backend.

:func:`run_rounds` is the loop they share: plan a round within the budget (adaptive or fixed
redundancy), request it, wait for deliveries, persist every delivered annotation to the
append-only store at once, and repeat until nothing more is wanted, the budget is spent or the
timeout passes. A re-run reads the store first, so labels are never bought twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import adaptive
from .annotation_store import AnnotationStore, LedgerEntry, StoredAnnotation, utc_now
from .labeling_job import LabelingJobSpec, TaskType
from .progress import Progress


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
    policy = redundancy_policy(spec)
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
        wants = _wants(spec, policy, order, answers, stored.values(), predictions)
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
    bar = Progress(f"items labeled (round {round_number})", len(targets))
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
        bar.update(len(targets) - len(waiting))
        if not waiting:
            return new, (), False
        if config.clock() >= deadline:
            return new, waiting, True
        config.sleep(min(spec.poll_interval_s, max(0.0, deadline - config.clock())))


def redundancy_policy(spec: LabelingJobSpec) -> adaptive.RedundancyPolicy:
    """The job spec's redundancy settings as the policy :mod:`adaptive` applies (fixed-N for boxes and spans)."""
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
        model_trust=spec.adaptive.model_trust,
        prior_strength=spec.adaptive.prior_strength,
        min_gain_per_label=spec.adaptive.min_gain_per_label,
    )


def _wants(spec, policy, order, answers, stored, predictions) -> list[tuple[str, int, int]]:
    """``(item_id, labels_have, labels_wanted)`` for every item, in priority order."""
    if spec.adaptive.rule == "estimated" and policy.adaptive and spec.task_type.is_single_label:
        return _wants_estimated(spec, policy, order, answers, stored, predictions)
    return [(i, len(answers.get(i, ())), _wanted(spec, policy, answers.get(i, ()), predictions.get(i))) for i in order]


def _wants_estimated(spec, policy, order, answers, stored, predictions) -> list[tuple[str, int, int]]:
    """The estimated rule's wants: each labeled item's posterior and expected gain per further label."""
    by_item = adaptive.answers_by_item(a for a in stored if a.item_id in answers)
    estimate = adaptive.estimated_posteriors(by_item, spec.annotation_specs, policy, predictions)
    have = {i: len(answers.get(i, ())) for i in order}
    top = dict(zip(estimate.item_ids, estimate.posteriors.max(axis=1)))
    gain = {}
    if estimate.item_ids and policy.min_gain_per_label > 0:  # a gain is never below 0: nothing to compute
        left = [max(0, policy.max_labels - have[i]) for i in estimate.item_ids]
        per_label = adaptive.expected_gain_per_label(estimate.posteriors, estimate.labeler_confusion(), left)
        gain = dict(zip(estimate.item_ids, per_label))
    return [
        (i, have[i], adaptive.labels_wanted_estimated(have[i], top.get(i, 0.0), policy, gain.get(i, float("inf"))))
        for i in order
    ]


def _wanted(spec: LabelingJobSpec, policy: adaptive.RedundancyPolicy, answers, probabilities) -> int:
    """Labels an item should end with: the posterior rule when ``stopProbability`` is set (single-label), else votes."""
    if spec.adaptive.rule == "posterior" and policy.stop_probability is not None and spec.task_type.is_single_label:
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
