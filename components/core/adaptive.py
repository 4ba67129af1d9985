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

The job's default rule, ``estimated`` (:func:`estimated_posteriors`, :func:`labels_wanted_estimated`),
learns what the posterior rule assumes: each labeler's confusion matrix (Dawid–Skene, smoothed
towards ``labeler_accuracy``) and how far to trust the model's probabilities (one temperature,
fitted against the labelers), from every answer bought so far; an item is settled once the
leading class's posterior reaches ``stop_probability``, or once the labels it may still get are
expected to raise its chance of a right label by less than ``min_gain_per_label`` each
(:func:`expected_gain_per_label`: an item the next labels cannot sway is not worth paying for,
however unsure it is). ``benchmarks/consensus.py`` measures the three rules against fixed-N labeling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


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
    prior_strength: float = 10.0
    min_gain_per_label: float = 0.0

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
        if not 0 <= self.min_gain_per_label < 1:
            raise ValueError(f"min_gain_per_label must be in [0, 1), got {self.min_gain_per_label}")


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


def _rule_free_count(have: int, policy: RedundancyPolicy) -> int | None:
    """The labels an item ends with whatever its answers say (not adaptive, at the cap, or no
    answer yet), or None when the stop rule decides."""
    if not policy.adaptive:
        return max(have, policy.max_labels)
    if have >= policy.max_labels:
        return have
    if have == 0:
        return 1
    return None


def labels_wanted(answers: Sequence[Hashable], policy: RedundancyPolicy, model: ModelVote | None = None) -> int:
    """How many labels the item should have in total, given the answers it has so far.

    ``answers`` are comparable forms of each labeler's answer (a label, or a sorted tuple of
    labels for multi-label items). The result is at least ``len(answers)``.
    """
    have = len(answers)
    decided = _rule_free_count(have, policy)
    if decided is not None:
        return decided
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
    decided = _rule_free_count(have, policy)
    if decided is not None:
        return decided
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


# ---------------------------------------------------------------------------------------------
# The estimated rule: labeler confusions and the model's calibration learned from the job itself

#: Temperatures tried when calibrating the model's probabilities against the labelers.
TEMPERATURES = tuple(float(t) for t in np.geomspace(0.25, 4.0, 25))


@dataclass(frozen=True)
class EstimatedPosteriors:
    """Per item, P(true class | every answer so far), with what the job learned to compute it.

    ``confusions[l, k, j]`` is labeler ``labelers[l]``'s estimated P(says j | true k);
    ``temperature`` scales the model's log-probabilities (``None`` without a model): above 1 the
    model was over-confident against the labelers, below 1 under-confident.
    """

    item_ids: tuple[str, ...]
    classes: tuple[Hashable, ...]
    posteriors: np.ndarray  # (items, classes)
    labelers: tuple[str, ...]
    confusions: np.ndarray
    temperature: float | None

    def top(self, item_id: str) -> float:
        return float(self.posteriors[self.item_ids.index(item_id)].max())

    def labeler_confusion(self) -> np.ndarray:
        """P(says j | true k) of the next answer, whoever gives it: the labelers' average confusion."""
        return self.confusions.mean(axis=0)


def answers_by_item(annotations: Iterable) -> dict[str, list[tuple[str, Hashable]]]:
    """:func:`estimated_posteriors`' ``answers`` from annotations (``item_id``, ``labeler_id``, ``value`` each)."""
    answers: dict[str, list[tuple[str, Hashable]]] = {}
    for annotation in annotations:
        answers.setdefault(annotation.item_id, []).append((annotation.labeler_id, annotation.value))
    return answers


def estimated_posteriors(
    answers: Mapping[str, Sequence[tuple[str, Hashable]]],
    classes: Sequence[Hashable],
    policy: RedundancyPolicy,
    model_probabilities: Mapping[str, Mapping[str, float]] | None = None,
    *,
    iterations: int = 30,
) -> EstimatedPosteriors:
    """Dawid–Skene on the answers so far, the model's calibrated probabilities as each item's prior.

    ``answers`` maps item id to its ``(labeler_id, answer)`` pairs. EM alternates the posteriors
    with (a) each labeler's confusion matrix, smoothed towards ``labeler_accuracy`` with
    ``prior_strength`` pseudo-answers per true class, so a labeler seen on few items keeps the
    assumed accuracy and one seen on many gets its own, and (b) one temperature for the model's
    probabilities, the one under which the labelers' answers are most likely: a model that is
    right less often than it claims is flattened, an under-confident one sharpened. A share
    ``1 - model_trust`` of each prior is spread evenly, so no model probability is a veto.
    """
    item_ids = tuple(answers)
    k = len(classes)
    if k < 2:
        raise ValueError("the posterior needs at least two classes")
    index = {c: i for i, c in enumerate(classes)}
    labelers = tuple(dict.fromkeys(labeler for pairs in answers.values() for labeler, _ in pairs))
    column = {labeler: i for i, labeler in enumerate(labelers)}
    onehot = np.zeros((len(item_ids), len(labelers), k))
    for row, item_id in enumerate(item_ids):
        for labeler, answer in answers[item_id]:
            if answer not in index:
                raise ValueError(f"item {item_id}: labeler {labeler} answered {answer!r}, not in {list(classes)}")
            onehot[row, column[labeler], index[answer]] = 1.0
    log_model = _model_log_probabilities(item_ids, classes, model_probabilities)
    wrong = (1 - policy.labeler_accuracy) / (k - 1)
    pseudo = policy.prior_strength * np.where(np.eye(k, dtype=bool), policy.labeler_accuracy, wrong)
    confusions = np.broadcast_to(pseudo / pseudo.sum(axis=1, keepdims=True), (len(labelers), k, k))
    temperature = 1.0 if log_model is not None else None
    posteriors = np.full((len(item_ids), k), 1.0 / k)
    for _ in range(iterations):
        log_prior = _log_prior(log_model, temperature, policy.model_trust, len(item_ids), k)
        updated = _posteriors(log_prior, confusions, onehot)
        confusions = np.einsum("ik,ilj->lkj", updated, onehot) + pseudo
        confusions /= confusions.sum(axis=2, keepdims=True)
        if log_model is not None:
            temperature = _best_temperature(log_model, updated, policy.model_trust)
        done = not len(item_ids) or np.max(np.abs(updated - posteriors)) < 1e-5
        posteriors = updated
        if done:
            break
    posteriors = _posteriors(
        _log_prior(log_model, temperature, policy.model_trust, len(item_ids), k), confusions, onehot
    )
    return EstimatedPosteriors(item_ids, tuple(classes), posteriors, labelers, np.asarray(confusions), temperature)


def _model_log_probabilities(item_ids, classes, model_probabilities) -> np.ndarray | None:
    if not model_probabilities or not any(model_probabilities.get(i) for i in item_ids):
        return None
    k = len(classes)
    log_model = np.full((len(item_ids), k), -np.log(k))  # no prediction for an item: an even prior
    for row, item_id in enumerate(item_ids):
        probabilities = model_probabilities.get(item_id)
        if probabilities:
            values = np.array([float(probabilities.get(c, 0.0)) for c in classes])
            log_model[row] = np.log(np.clip(values / max(values.sum(), 1e-12), 1e-6, None))
    return log_model


def _log_prior(log_model, temperature, trust, n, k) -> np.ndarray:
    if log_model is None:
        return np.full((n, k), -np.log(k))
    scaled = log_model / temperature
    scaled = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    scaled /= scaled.sum(axis=1, keepdims=True)
    return np.log(trust * scaled + (1 - trust) / k)


def _posteriors(log_prior, confusions, onehot) -> np.ndarray:
    log_weight = log_prior + np.einsum("ilj,lkj->ik", onehot, np.log(confusions))
    log_weight -= log_weight.max(axis=1, keepdims=True)
    weight = np.exp(log_weight)
    return weight / weight.sum(axis=1, keepdims=True)


def _best_temperature(log_model, posteriors, trust) -> float:
    """The temperature whose prior best predicts the current posteriors (the EM step for it)."""
    n, k = posteriors.shape
    scores = [float(np.sum(posteriors * _log_prior(log_model, t, trust, n, k))) for t in TEMPERATURES]
    return TEMPERATURES[int(np.argmax(scores))]


def labels_wanted_estimated(
    have: int, top_posterior: float, policy: RedundancyPolicy, gain_per_label: float = float("inf")
) -> int:
    """Labels an item should end with under the estimated rule: settled once its top class's
    posterior (:func:`estimated_posteriors`) reaches ``stop_probability``, or once the labels it may
    still get are expected to raise its chance of a right label by less than
    ``policy.min_gain_per_label`` each (``gain_per_label``, :func:`expected_gain_per_label`);
    capped at ``max_labels``."""
    if policy.stop_probability is None:
        raise ValueError("labels_wanted_estimated needs a policy with stop_probability set")
    decided = _rule_free_count(have, policy)
    if decided is not None:
        return decided
    settled = top_posterior >= policy.stop_probability or gain_per_label < policy.min_gain_per_label
    return have if settled else have + 1


#: Classes, by posterior, that the look-ahead treats as possibly true; the rest hold too little
#: probability to matter (exact up to this many classes, an underestimate by at most their mass above).
LOOKAHEAD_CLASSES = 16
#: Up to this many classes the look-ahead also tries two more labels (its work grows with classes²).
TWO_LABEL_MAX_CLASSES = 32


def expected_gain_per_label(posteriors: np.ndarray, confusion: np.ndarray, labels_left: np.ndarray) -> np.ndarray:
    """Per item, how much buying more labels is expected to raise its chance of a right label, per label.

    ``posteriors`` (items, classes) are the current consensus posteriors, ``confusion[k, j]`` a
    labeler's P(says j | true k) (the next labeler is not known: the job's average), and
    ``labels_left`` how many more labels each item may get. The chance of a right label is the top
    posterior; after one more answer j it is max_k P(k | answers, j), and its expectation over j
    is sum_j max_k p_k C[k, j]. Looking one label ahead misses items whose next answer alone cannot
    change their top class but two can, so with two or more labels left (and at most
    ``TWO_LABEL_MAX_CLASSES`` classes) the gain of two more, halved, counts too; the better of the
    two is the item's gain per label. 0 where none are left.
    """
    posteriors = np.asarray(posteriors, dtype=float)
    labels_left = np.asarray(labels_left)
    n, k = posteriors.shape
    likely = np.argsort(-posteriors, axis=1)[:, : min(k, LOOKAHEAD_CLASSES)]
    p = np.take_along_axis(posteriors, likely, axis=1)  # (items, likely classes)
    top = posteriors.max(axis=1)
    gain = np.zeros(n)
    one_left = np.flatnonzero(labels_left >= 1)
    for rows in _chunks(one_left, likely.shape[1] * k):
        joint = p[rows, :, None] * confusion[likely[rows]]  # (b, likely, j)
        gain[rows] = joint.max(axis=1).sum(axis=1) - top[rows]
    if k <= TWO_LABEL_MAX_CLASSES:
        for rows in _chunks(np.flatnonzero(labels_left >= 2), likely.shape[1] * k * k):
            c = confusion[likely[rows]]  # (b, likely, j)
            joint = p[rows, :, None, None] * c[:, :, :, None] * c[:, :, None, :]  # (b, likely, j1, j2)
            two = joint.max(axis=1).sum(axis=(1, 2)) - top[rows]
            gain[rows] = np.maximum(gain[rows], two / 2)
    return np.maximum(gain, 0.0)


def _chunks(rows: np.ndarray, cells_per_row: int, max_cells: int = 4_000_000):
    """``rows`` in slices of at most ``max_cells`` array cells of work each (bounded memory)."""
    step = max(1, max_cells // max(cells_per_row, 1))
    for start in range(0, len(rows), step):
        yield rows[start : start + step]
