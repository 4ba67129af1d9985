"""The simulated crowd: confusion matrices with the asked-for accuracy, determinism, ground-truth I/O."""

import numpy as np
import pytest
from labelloop.components.core import simulated_crowd as sc

CLASSES = ("cat", "dog", "bird", "fish")


def test_uniform_crowd_has_the_asked_accuracy_and_even_errors():
    crowd = sc.make_crowd(CLASSES, sc.CrowdConfig(n_labelers=3, accuracy=0.8, noise="uniform"))
    for labeler in crowd:
        np.testing.assert_allclose(np.diag(labeler.confusion), 0.8)
        np.testing.assert_allclose(labeler.confusion.sum(axis=1), 1.0)
        assert labeler.confusion[0, 1] == pytest.approx(0.2 / 3)


def test_class_dependent_crowd_averages_the_accuracy_and_concentrates_errors():
    crowd = sc.make_crowd(CLASSES, sc.CrowdConfig(n_labelers=3, accuracy=0.75, confusion_concentration=0.8, seed=4))
    for labeler in crowd:
        assert labeler.accuracy == pytest.approx(0.75)
        assert np.ptp(np.diag(labeler.confusion)) > 0.1  # some classes are harder than others
        off = labeler.confusion - np.diag(np.diag(labeler.confusion))
        errors = off.sum(axis=1)
        np.testing.assert_allclose(off.max(axis=1), 0.8 * errors)


def test_spammers_answer_uniformly():
    crowd = sc.make_crowd(CLASSES, sc.CrowdConfig(n_labelers=4, n_spammers=1))
    assert [labeler.is_spammer for labeler in crowd] == [False, False, False, True]
    np.testing.assert_allclose(crowd[-1].confusion, 0.25)


def test_answers_are_deterministic_and_follow_the_confusion_matrix():
    labeler = sc.make_crowd(CLASSES, sc.CrowdConfig(n_labelers=1, accuracy=0.7, noise="uniform"))[0]
    first = [sc.answer_single(labeler, 1, f"i{k}", seed=0) for k in range(4000)]
    again = [sc.answer_single(labeler, 1, f"i{k}", seed=0) for k in range(4000)]
    assert first == again
    assert np.mean(np.array(first) == 1) == pytest.approx(0.7, abs=0.03)
    other_seed = [sc.answer_single(labeler, 1, f"i{k}", seed=1) for k in range(4000)]
    assert first != other_seed


def test_assignment_order_gives_distinct_labelers_per_item():
    crowd = sc.make_crowd(CLASSES, sc.CrowdConfig(n_labelers=5))
    order = sc.assignment_order(crowd, "i1", seed=0)
    assert sorted(a.labeler_id for a in order) == sorted(b.labeler_id for b in crowd)
    assert order == sc.assignment_order(crowd, "i1", seed=0)


def test_ground_truth_round_trip_and_errors(tmp_path):
    path = str(tmp_path / "gt.jsonl")
    sc.write_ground_truth(path, {"a": "cat", "b": ["dog", "fish"]})
    assert sc.read_ground_truth(path, CLASSES) == {"a": "cat", "b": ["dog", "fish"]}
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "label": "cat"}\n{"id": "a", "label": "dog"}\n')
    with pytest.raises(sc.GroundTruthError, match=r"bad.jsonl:2: item a appears twice"):
        sc.read_ground_truth(str(tmp_path / "bad.jsonl"), CLASSES)
    (tmp_path / "bad2.jsonl").write_text('{"id": "a", "label": "horse"}\n')
    with pytest.raises(sc.GroundTruthError, match=r"bad2.jsonl:1: item a has labels \['horse'\] outside"):
        sc.read_ground_truth(str(tmp_path / "bad2.jsonl"), CLASSES)
    (tmp_path / "bad3.jsonl").write_text('{"label": "cat"}\n')
    with pytest.raises(sc.GroundTruthError, match="needs a string"):
        sc.read_ground_truth(str(tmp_path / "bad3.jsonl"), CLASSES)


def test_config_validation():
    with pytest.raises(ValueError, match="noise must be one of"):
        sc.CrowdConfig(noise="gaussian")
    with pytest.raises(ValueError, match="unknown simulated crowd settings"):
        sc.CrowdConfig.from_dict({"labelers": 3})
    assert sc.CrowdConfig.from_dict({"nLabelers": 7, "nSpammers": 2}).n_spammers == 2


def test_reviewers_are_a_crowd_of_their_own_in_the_same_settings():
    settings = {"nLabelers": 5, "seed": 7, "reviewers": {"nLabelers": 1, "accuracy": 0.97, "seed": 8}}
    assert sc.crowd_config(settings) == sc.CrowdConfig(n_labelers=5, seed=7)
    assert sc.crowd_config(settings, reviewers=True) == sc.CrowdConfig(n_labelers=1, accuracy=0.97, seed=8)
    with pytest.raises(ValueError, match='"reviewers" object'):
        sc.crowd_config({"nLabelers": 5}, reviewers=True)
