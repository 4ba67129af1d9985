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


def test_default_rule_pays_less_than_the_old_vote_rule_and_is_more_accurate():
    truth, rng = _truth(600, seed=3)
    predictions = {}
    for item, label in truth.items():
        said = label if rng.random() < 0.9 else CLASSES[rng.integers(5)]
        predictions[item] = {c: 0.9 if c == said else 0.025 for c in CLASSES}
    items = [(i, {"textContent": i}) for i in truth]
    crowd = sc.CrowdConfig(n_labelers=5, accuracy=0.75, noise="uniform", seed=4)
    paid, right = {}, {}
    for name, settings in (("old", {"rule": "votes"}), ("new", {})):
        spec = _job(settings)
        with tempfile.TemporaryDirectory() as folder:
            result = rounds.run_rounds(
                items,
                spec,
                lb.SimulatedCrowdLabeler(spec, truth, crowd),
                AnnotationStore(folder),
                rounds.RoundsConfig(name),
                predictions=predictions,
            )
        paid[name] = sum(entry.cost_usd for entry in result.ledger)
        summary = output.job_consensus(spec, result.annotations, predictions)
        right[name] = np.mean([summary.items[i].value == label for i, label in truth.items()])
    assert paid["new"] < paid["old"]
    assert right["new"] > right["old"] + 0.01


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
