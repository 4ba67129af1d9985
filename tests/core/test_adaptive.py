"""The estimated stop rule: labeler confusions and the model's calibration learned from the job's answers."""

import dataclasses
import json
import tempfile

import numpy as np
import pytest
from labelloop.components.backends import labeler as lb
from labelloop.components.core import adaptive
from labelloop.components.core import labeling_output as output
from labelloop.components.core import labeling_rounds as rounds
from labelloop.components.core import simulated_crowd as sc
from labelloop.components.core.annotation_store import AnnotationStore, StoredAnnotation
from labelloop.components.core.labeling_job import parse_job_spec

CLASSES = ["a", "b", "c", "d", "e"]
POLICY = adaptive.RedundancyPolicy(max_labels=3, stop_probability=0.98, labeler_accuracy=0.75, model_trust=0.97)


def _truth(n, seed=0):
    rng = np.random.default_rng(seed)
    return {f"i{k}": CLASSES[rng.integers(len(CLASSES))] for k in range(n)}, rng


def test_estimated_rule_trusts_the_labeler_who_agrees_with_the_others_and_not_the_spammer():
    truth, rng = _truth(300)
    answers = {}
    for item, label in truth.items():
        answers[item] = [
            ("good1", label if rng.random() < 0.95 else CLASSES[rng.integers(5)]),
            ("good2", label if rng.random() < 0.95 else CLASSES[rng.integers(5)]),
            ("spammer", CLASSES[rng.integers(5)]),
        ]
    answers["only_good"] = [("good1", "c")]
    answers["only_spammer"] = [("spammer", "c")]
    estimate = adaptive.estimated_posteriors(answers, CLASSES, POLICY)
    accuracy = {name: float(np.mean(np.diagonal(estimate.confusions[i]))) for i, name in enumerate(estimate.labelers)}
    assert accuracy["good1"] > 0.9 and accuracy["spammer"] < 0.35
    assert estimate.top("only_good") > 0.9 > 0.4 > estimate.top("only_spammer")
    # the fixed-accuracy posterior cannot tell them apart
    fixed = [max(adaptive.answer_posterior(["c"], CLASSES, POLICY).values()) for _ in range(2)]
    assert fixed[0] == fixed[1]


@pytest.mark.parametrize(("right_share", "claimed", "hotter"), [(0.6, 0.99, True), (1.0, 0.4, False)])
def test_the_model_is_calibrated_against_the_labelers(right_share, claimed, hotter):
    truth, rng = _truth(400, seed=1)
    answers, predictions = {}, {}
    for item, label in truth.items():
        answers[item] = [(f"l{j}", label) for j in range(3)]  # three labelers who agree: the truth is clear
        said = label if rng.random() < right_share else CLASSES[(CLASSES.index(label) + 1) % 5]
        predictions[item] = {c: claimed if c == said else (1 - claimed) / 4 for c in CLASSES}
    estimate = adaptive.estimated_posteriors(answers, CLASSES, POLICY, predictions)
    assert (estimate.temperature > 1.5) if hotter else (estimate.temperature < 0.7)


def test_estimated_rule_settles_on_one_label_only_where_a_calibrated_model_agrees():
    truth, rng = _truth(400, seed=2)
    answers, predictions = {}, {}
    for item, label in truth.items():
        answers[item] = [("l0", label if rng.random() < 0.8 else CLASSES[rng.integers(5)])]
        predictions[item] = {c: 0.96 if c == label else 0.01 for c in CLASSES}  # right and sure: calibrated
    estimate = adaptive.estimated_posteriors(answers, CLASSES, POLICY, predictions)
    agree = [i for i in truth if answers[i][0][1] == truth[i]]
    disagree = [i for i in truth if answers[i][0][1] != truth[i]]
    assert all(adaptive.labels_wanted_estimated(1, estimate.top(i), POLICY) == 1 for i in agree)
    assert all(adaptive.labels_wanted_estimated(1, estimate.top(i), POLICY) == 2 for i in disagree)
    alone = adaptive.estimated_posteriors({i: answers[i] for i in agree}, CLASSES, POLICY)  # no model
    assert all(adaptive.labels_wanted_estimated(1, alone.top(i), POLICY) == 2 for i in agree)
    assert adaptive.labels_wanted_estimated(0, 0.0, POLICY) == 1
    assert adaptive.labels_wanted_estimated(3, 0.5, POLICY) == 3  # labelerCount caps it
    with pytest.raises(ValueError, match="stop_probability"):
        adaptive.labels_wanted_estimated(1, 0.5, adaptive.RedundancyPolicy(max_labels=3))


def _gain_by_enumeration(p, confusion, more):
    """E[top posterior after ``more`` answers] - top posterior now, summing over every answer sequence."""
    k = len(p)
    expected = 0.0
    for answers in np.ndindex(*(k,) * more):
        joint = p * np.prod([confusion[:, j] for j in answers], axis=0)
        expected += joint.max()
    return expected - p.max()


def test_expected_gain_per_label_is_the_better_of_one_and_two_more_answers():
    rng = np.random.default_rng(5)
    posteriors = rng.dirichlet(np.ones(4) * 0.7, size=6)
    confusion = rng.dirichlet(np.ones(4), size=4) + 2 * np.eye(4)
    confusion /= confusion.sum(axis=1, keepdims=True)
    left = np.array([0, 1, 2, 2, 3, 1])
    gains = adaptive.expected_gain_per_label(posteriors, confusion, left)
    for p, n, gain in zip(posteriors, left, gains):
        exact = 0.0 if n == 0 else _gain_by_enumeration(p, confusion, 1)
        if n >= 2:
            exact = max(exact, _gain_by_enumeration(p, confusion, 2) / 2)
        assert gain == pytest.approx(exact, abs=1e-12)


def test_expected_gain_sees_what_two_answers_can_change_and_one_cannot():
    confusion = np.array([[0.8, 0.2], [0.2, 0.8]])
    # one "b" leaves a on top (0.9 x 0.2 > 0.1 x 0.8): the next label alone can change nothing
    fairly_sure = np.array([[0.9, 0.1]])
    assert adaptive.expected_gain_per_label(fairly_sure, confusion, [1])[0] == pytest.approx(0.0, abs=1e-12)
    assert adaptive.expected_gain_per_label(fairly_sure, confusion, [2])[0] > 0.005  # "b", "b" would
    split = adaptive.expected_gain_per_label(np.array([[0.5, 0.5]]), confusion, [1])[0]
    certain = adaptive.expected_gain_per_label(np.array([[1.0, 0.0]]), confusion, [2])[0]
    assert split == pytest.approx(0.3) and certain == pytest.approx(0.0, abs=1e-12)


def test_expected_gain_looks_at_the_likeliest_classes_and_one_label_only_when_there_are_many():
    rng = np.random.default_rng(6)
    k = adaptive.LOOKAHEAD_CLASSES + 8
    posteriors = rng.dirichlet(np.ones(k) * 0.05, size=3)
    confusion = np.full((k, k), 0.3 / (k - 1)) + np.eye(k) * (0.7 - 0.3 / (k - 1))
    gains = adaptive.expected_gain_per_label(posteriors, confusion, [2, 2, 2])
    for p, gain in zip(posteriors, gains):
        exact = max(_gain_by_enumeration(p, confusion, 1), _gain_by_enumeration(p, confusion, 2) / 2)
        assert gain == pytest.approx(exact, abs=1e-3)
    # past TWO_LABEL_MAX_CLASSES classes only the next label is looked at
    k = adaptive.TWO_LABEL_MAX_CLASSES + 8
    posteriors = rng.dirichlet(np.ones(k) * 0.05, size=3)
    confusion = np.full((k, k), 0.3 / (k - 1)) + np.eye(k) * (0.7 - 0.3 / (k - 1))
    gains = adaptive.expected_gain_per_label(posteriors, confusion, [2, 2, 2])
    for p, gain in zip(posteriors, gains):
        assert gain == pytest.approx(_gain_by_enumeration(p, confusion, 1), abs=1e-3)


def test_estimated_rule_stops_where_more_labels_would_change_too_little():
    policy = dataclasses.replace(POLICY, min_gain_per_label=0.01)
    assert adaptive.labels_wanted_estimated(1, 0.9, policy, gain_per_label=0.005) == 1  # unsure, but no label helps
    assert adaptive.labels_wanted_estimated(1, 0.9, policy, gain_per_label=0.02) == 2
    assert adaptive.labels_wanted_estimated(1, 0.9, POLICY, gain_per_label=0.0) == 2  # min_gain_per_label 0: off
    with pytest.raises(ValueError, match="min_gain_per_label"):
        dataclasses.replace(POLICY, min_gain_per_label=1.0)


def _job(adaptive_settings):
    return parse_job_spec(
        json.dumps(
            {
                "displayName": "t",
                "labelerCount": 3,
                "instructionUri": "https://example.test/g.pdf",
                "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
                "inputs": {"annotationSpecs": CLASSES},
                "labelloop": {"adaptive": adaptive_settings},
            }
        )
    )


def _paid_and_accuracy(adaptive_settings, truth, crowd, predictions):
    """Run a labeling job on the simulated crowd: dollars paid (ledger) and its consensus's accuracy."""
    spec = _job(adaptive_settings)
    with tempfile.TemporaryDirectory() as folder:
        result = rounds.run_rounds(
            [(i, {"textContent": i}) for i in truth],
            spec,
            lb.SimulatedCrowdLabeler(spec, truth, crowd),
            AnnotationStore(folder),
            rounds.RoundsConfig(spec.display_name),
            predictions=predictions,
        )
    summary = output.job_consensus(spec, result.annotations, predictions)
    return sum(entry.cost_usd for entry in result.ledger), np.mean(
        [summary.items[i].value == label for i, label in truth.items()]
    )


def test_default_rule_pays_less_than_the_old_vote_rule_and_is_more_accurate():
    truth, rng = _truth(600, seed=3)
    predictions = {}
    for item, label in truth.items():
        said = label if rng.random() < 0.9 else CLASSES[rng.integers(5)]
        predictions[item] = {c: 0.9 if c == said else 0.025 for c in CLASSES}
    crowd = sc.CrowdConfig(n_labelers=5, accuracy=0.75, noise="uniform", seed=4)
    old_paid, old_right = _paid_and_accuracy({"rule": "votes"}, truth, crowd, predictions)
    new_paid, new_right = _paid_and_accuracy({}, truth, crowd, predictions)
    assert new_paid < old_paid
    assert new_right > old_right + 0.01


def test_expected_gain_stop_pays_less_for_about_the_same_accuracy():
    # a mediocre model (right 75 %, sure 0.4-0.95) and 70 % labelers: the posterior stop alone buys
    # labels for items that more labels would barely change
    truth, rng = _truth(600, seed=0)
    predictions = {}
    for item, label in truth.items():
        said = label if rng.random() < 0.75 else CLASSES[rng.integers(5)]
        sure = rng.uniform(0.4, 0.95)
        predictions[item] = {c: sure if c == said else (1 - sure) / 4 for c in CLASSES}
    crowd = sc.CrowdConfig(n_labelers=5, accuracy=0.7, noise="uniform", seed=0)
    alone_paid, alone_right = _paid_and_accuracy({"minGainPerLabel": 0}, truth, crowd, predictions)
    paid, right = _paid_and_accuracy({}, truth, crowd, predictions)
    assert paid < 0.9 * alone_paid  # seen: $11.39 vs $13.92
    assert right >= alone_right - 0.01  # seen: 0.915 vs 0.910


def _answers(*triples):
    return [StoredAnnotation(item, labeler, value, 0.05, 1, "run", "simulated") for item, labeler, value in triples]


def test_job_consensus_lets_the_models_second_choice_break_a_human_split():
    # Two labelers split b / c on item x. As one more vote, the model's top class (a) only makes a
    # three-way tie; as the prior, its probabilities rank b (0.40) above c (0.15), and b is the
    # answer a labeler gave: the posterior picks b.
    spec = _job({})
    annotations = _answers(("x", "h1", "b"), ("x", "h2", "c"))
    predictions = {"x": {"a": 0.45, "b": 0.40, "c": 0.15, "d": 0.0, "e": 0.0}}
    summary = output.job_consensus(spec, annotations, predictions)
    assert summary.items["x"].value == "b"
    posterior = adaptive.estimated_posteriors(
        {"x": [("h1", "b"), ("h2", "c")]}, CLASSES, rounds.redundancy_policy(spec), predictions
    )
    assert summary.items["x"].confidence == pytest.approx(posterior.posteriors[0].max())
    humans_only = output.job_consensus(spec, annotations)
    assert humans_only.items["x"].confidence < summary.items["x"].confidence


def test_job_consensus_keeps_the_model_out_when_the_spec_says_so_and_votes_it_in_majority_vote():
    annotations = _answers(("x", "h1", "b"), ("x", "h2", "c"), ("y", "h1", "a"))
    predictions = {"x": {"a": 0.05, "b": 0.05, "c": 0.9, "d": 0.0, "e": 0.0}}
    spec = _job({"modelInConsensus": False})
    off, humans = output.job_consensus(spec, annotations, predictions), output.job_consensus(spec, annotations)
    assert off.items["x"].confidence == humans.items["x"].confidence < 0.6  # two humans split, no model
    majority = dataclasses.replace(_job({}), consensus_method="majority_vote")
    assert output.job_consensus(majority, annotations, predictions).items["x"].value == "c"  # model's vote breaks it
    assert [q.labeler_id for q in output.job_consensus(majority, annotations, predictions).labelers] == ["h1", "h2"]
