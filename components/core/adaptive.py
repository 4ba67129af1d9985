"""Adaptive redundancy: buy a second or third label only where it changes the answer.

Each item starts with one label; a confident model prediction counts as one more vote, so a
labeler who agrees with a confident model settles the item alone. More labels are bought while
the leading answer's margin over the runner-up is below ``required_margin`` (labelers disagree,
or one labeler and no confident model), up to ``labelerCount``. Fixed-N labeling (the
DataLabelingJob default) asks every item for ``labelerCount`` labels at once.

:func:`plan_round` turns what each item still wants into one round of requests that fits the
budget (items and dollars), in the order the items were given (the selection's priority).

With ``stop_probability`` set, the stop rule is a posterior instead of a vote margin
(:func:`labels_wanted_posterior`): the model's full probabilities are the prior, so a fairly sure
model plus one agreeing labeler settles an item, and an unsure one asks for more labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RedundancyPolicy:
    """How many labels an item gets: at most ``max_labels``; adaptively or all at once."""

    max_labels: int
    adaptive: bool = True
    required_margin: int = 2
    confident_probability: float = 0.9
    stop_probability: float | None = None
    labeler_accuracy: float = 0.75
    model_trust: float = 0.9

    def __post_init__(self):
        if self.max_labels < 1:
            raise ValueError(f"max_labels (labelerCount) must be at least 1, got {self.max_labels}")
        if self.required_margin < 1:
            raise ValueError(f"required_margin must be at least 1, got {self.required_margin}")
        if self.stop_probability is not None and not 0 < self.stop_probability < 1:
            raise ValueError(f"stop_probability must be in (0, 1), got {self.stop_probability}")
        if not 0 < self.labeler_accuracy < 1 or not 0 <= self.model_trust < 1:
            raise ValueError(
                f"labeler_accuracy must be in (0, 1) and model_trust in [0, 1), "
                f"got {self.labeler_accuracy}, {self.model_trust}"
            )


@dataclass(frozen=True)
class ModelVote:
    """The current model's prediction for an item and whether it is confident enough to count."""

    answer: Hashable
    probability: float


def model_vote(probabilities: Mapping[str, float] | None, policy: RedundancyPolicy) -> ModelVote | None:
    """The model's top label as a vote when its probability reaches ``confident_probability``."""
    if not probabilities:
        return None
    label, probability = max(probabilities.items(), key=lambda kv: (kv[1], kv[0]))
    return ModelVote(label, float(probability)) if probability >= policy.confident_probability else None


def labels_wanted(answers: Sequence[Hashable], policy: RedundancyPolicy, model: ModelVote | None = None) -> int:
    """How many labels the item should have in total, given the answers it has so far.

    ``answers`` are comparable forms of each labeler's answer (a label, or a sorted tuple of
    labels for multi-label items). The result is at least ``len(answers)``.
    """
    have = len(answers)
    if not policy.adaptive:
        return max(have, policy.max_labels)
    if have >= policy.max_labels:
        return have
    if have == 0:
        return 1
    votes = Counter(answers)
    if model is not None:
        votes[model.answer] += 1
    ranked = sorted(votes.values(), reverse=True) + [0]
    settled = ranked[0] - ranked[1] >= policy.required_margin
    return have if settled else have + 1


def answer_posterior(
    answers: Sequence[Hashable],
    classes: Sequence[Hashable],
    policy: RedundancyPolicy,
    model_probabilities: Mapping[str, float] | None = None,
) -> dict:
    """P(true class | answers so far), the model's probabilities as the prior.

    Each answer is right with ``labeler_accuracy`` and otherwise any other class alike; the prior
    is ``model_trust`` times the model's probabilities plus the rest spread evenly (a wrong but sure
    model cannot veto the labelers), or even without a model.
    """
    k = len(classes)
    if k < 2:
        raise ValueError("the posterior needs at least two classes")
    if model_probabilities:
        prior = {
            c: policy.model_trust * float(model_probabilities.get(c, 0.0)) + (1 - policy.model_trust) / k
            for c in classes
        }
    else:
        prior = {c: 1.0 / k for c in classes}
    wrong = (1 - policy.labeler_accuracy) / (k - 1)
    votes = Counter(answers)
    weight = {c: prior[c] * policy.labeler_accuracy ** votes[c] * wrong ** (len(answers) - votes[c]) for c in classes}
    total = sum(weight.values())
    return {c: w / total for c, w in weight.items()}


def labels_wanted_posterior(
    answers: Sequence[Hashable],
    policy: RedundancyPolicy,
    classes: Sequence[Hashable],
    model_probabilities: Mapping[str, float] | None = None,
) -> int:
    """Like :func:`labels_wanted`, but an item is settled once its top class's posterior reaches
    ``stop_probability`` (:func:`answer_posterior`): one labeler agreeing with a fairly sure model
    settles it, two agreeing labelers usually do, a split buys the next label."""
    if policy.stop_probability is None:
        raise ValueError("labels_wanted_posterior needs a policy with stop_probability set")
    have = len(answers)
    if not policy.adaptive:
        return max(have, policy.max_labels)
    if have >= policy.max_labels:
        return have
    if have == 0:
        return 1
    posterior = answer_posterior(answers, classes, policy, model_probabilities)
    return have if max(posterior.values()) >= policy.stop_probability else have + 1


@dataclass(frozen=True)
class BudgetLeft:
    """What the budget still allows: new items to start and dollars to spend (None: unlimited)."""

    items: int | None
    usd: float | None


@dataclass(frozen=True)
class RoundPlan:
    """One round of label requests: per item the total number of labels it should end up with."""

    targets: tuple[tuple[str, int], ...]
    new_labels: int
    cost_usd: float
    held_back: tuple[str, ...]  # items that wanted labels the budget could not pay for

    @property
    def items(self) -> int:
        return len(self.targets)


def plan_round(
    wants: Sequence[tuple[str, int, int]], *, price_per_label_usd: float, budget: BudgetLeft, started: set[str]
) -> RoundPlan:
    """Plan a round from ``(item_id, labels_have, labels_wanted)`` in priority order.

    An item not in ``started`` (no labels yet) uses one of ``budget.items``; each new label costs
    ``price_per_label_usd`` from ``budget.usd``. An item gets as many of its wanted labels as the
    dollars left allow; items that get none are returned as ``held_back``.
    """
    items_left = budget.items
    usd_left = budget.usd
    targets, held = [], []
    new_labels = 0
    for item_id, have, want in wants:
        extra = want - have
        if extra <= 0:
            continue
        if item_id not in started and items_left is not None and items_left <= 0:
            held.append(item_id)
            continue
        affordable = _affordable(extra, price_per_label_usd, usd_left)
        if affordable == 0:
            held.append(item_id)
            continue
        if item_id not in started and items_left is not None:
            items_left -= 1
        if usd_left is not None:
            usd_left -= affordable * price_per_label_usd
        targets.append((item_id, have + affordable))
        new_labels += affordable
    return RoundPlan(tuple(targets), new_labels, new_labels * price_per_label_usd, tuple(held))


def _affordable(extra: int, price: float, usd_left: float | None) -> int:
    if usd_left is None or price <= 0:
        return extra
    # a hair of tolerance so $0.05 × 20 fits a $1.00 budget despite binary floating point
    return max(0, min(extra, int((usd_left + 1e-9) // price)))
