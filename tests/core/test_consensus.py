"""Consensus and agreement on hand-made annotation matrices with known answers, plus simulated crowds."""

import math

import numpy as np
import pytest
from labelloop.components.core import consensus as c
from labelloop.components.core import simulated_crowd as sc

CLASSES = ("cat", "dog", "bird")


def triples(rows):
    """{item: {labeler: label}} → (item, labeler, label) triples."""
    return [(item, labeler, label) for item, answers in rows.items() for labeler, label in answers.items()]


def test_majority_vote_labels_and_vote_share():
    matrix = c.build_matrix(
        triples(
            {
                "i1": {"a": "cat", "b": "cat", "c": "dog"},
                "i2": {"a": "bird", "b": "bird", "c": "bird"},
                "i3": {"a": "dog"},
            }
        ),
        CLASSES,
    )
    result = c.majority_vote(matrix)
    assert result.labels == ("cat", "bird", "dog")
    np.testing.assert_allclose(result.confidence, [2 / 3, 1.0, 1.0])


def test_majority_vote_tie_goes_to_the_earlier_class_in_the_label_set():
    matrix = c.build_matrix(triples({"i1": {"a": "dog", "b": "cat"}}), CLASSES)
    assert c.majority_vote(matrix).labels == ("cat",)


def test_build_matrix_rejects_unknown_label_and_conflicting_answers():
    with pytest.raises(c.ConsensusError, match=r"item i1: labeler a gave 'horse'.*not in the label set"):
        c.build_matrix([("i1", "a", "horse")], CLASSES)
    with pytest.raises(c.ConsensusError, match="item i1: labeler a gave two labels"):
        c.build_matrix([("i1", "a", "cat"), ("i1", "a", "dog")], CLASSES)


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as reproduced on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa = 0.210
    rows = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    annotations = []
    for item, counts in enumerate(rows):
        rater = 0
        for category, count in enumerate(counts):
            for _ in range(count):
                annotations.append((f"s{item}", f"r{rater}", str(category + 1)))
                rater += 1
    matrix = c.build_matrix(annotations, ("1", "2", "3", "4", "5"))
    assert c.fleiss_kappa(matrix) == pytest.approx(0.210, abs=5e-4)
    assert c.percent_agreement(matrix) == pytest.approx(0.378, abs=5e-4)


def test_krippendorff_alpha_matches_krippendorffs_worked_example_with_missing_values():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": nominal alpha = 0.743
    data = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    annotations = [(f"u{u}", o, str(v)) for o, values in data.items() for u, v in enumerate(values) if v is not None]
    matrix = c.build_matrix(annotations, ("1", "2", "3", "4", "5"))
    assert c.krippendorff_alpha_nominal(matrix) == pytest.approx(0.743, abs=5e-4)


def test_perfect_agreement_gives_kappa_one_and_single_labels_give_nan():
    matrix = c.build_matrix(triples({"i1": {"a": "cat", "b": "cat"}, "i2": {"a": "dog", "b": "dog"}}), CLASSES)
    assert c.fleiss_kappa(matrix) == pytest.approx(1.0)
    assert c.krippendorff_alpha_nominal(matrix) == pytest.approx(1.0)
    lone = c.build_matrix([("i1", "a", "cat"), ("i2", "a", "dog")], CLASSES)
    assert math.isnan(c.fleiss_kappa(lone)) and math.isnan(c.percent_agreement(lone))


def test_item_agreement_is_the_share_of_agreeing_pairs():
    matrix = c.build_matrix(triples({"i1": {"a": "cat", "b": "cat", "c": "dog"}, "i2": {"a": "cat"}}), CLASSES)
    agreement = c.item_agreement(matrix)
    assert agreement[0] == pytest.approx(1 / 3)
    assert math.isnan(agreement[1])


def test_dawid_skene_discounts_a_labeler_who_is_always_wrong_in_one_direction():
    # b says "dog" for every cat; a and c are right. On i9 only b and c answer and disagree:
    # majority vote cannot break the tie, Dawid–Skene knows b's "dog" means nothing.
    rows = {f"i{k}": {"a": "cat", "b": "dog", "c": "cat"} for k in range(8)}
    rows.update({f"j{k}": {"a": "dog", "b": "dog", "c": "dog"} for k in range(8)})
    rows["i9"] = {"b": "dog", "c": "cat"}
    matrix = c.build_matrix(triples(rows), ("dog", "cat"))
    assert c.majority_vote(matrix).label_of("i9") == "dog"  # tie → earlier class
    result = c.dawid_skene(matrix)
    assert result.label_of("i9") == "cat"
    assert result.converged
    quality = {q.labeler_id: q for q in c.labeler_quality(matrix, result)}
    assert quality["b"].estimated_accuracy < 0.7 < quality["a"].estimated_accuracy


def test_dawid_skene_beats_majority_vote_and_a_single_labeler_on_a_class_dependent_crowd():
    classes = [f"c{k}" for k in range(5)]
    rng = np.random.default_rng(7)
    truth = {f"i{k}": classes[rng.integers(len(classes))] for k in range(1500)}
    crowd = sc.make_crowd(classes, sc.CrowdConfig(n_labelers=3, accuracy=0.75, noise="class_dependent", seed=3))
    assert all(labeler.accuracy == pytest.approx(0.75) for labeler in crowd)
    annotations = [
        (item, labeler.labeler_id, classes[sc.answer_single(labeler, classes.index(label), item, seed=3)])
        for item, label in truth.items()
        for labeler in crowd
    ]
    matrix = c.build_matrix(annotations, classes)
    gold = np.array([classes.index(truth[i]) for i in matrix.item_ids])
    single = np.mean(matrix.codes[:, 0] == gold)
    mv = np.mean(c.majority_vote(matrix).codes == gold)
    ds = np.mean(c.dawid_skene(matrix).codes == gold)
    assert single == pytest.approx(0.75, abs=0.03)
    assert mv > single + 0.05
    assert ds > mv + 0.03


def test_review_flags_items_whose_disagreement_exceeds_the_threshold():
    matrix = c.build_matrix(
        triples(
            {
                "i1": {"a": "cat", "b": "cat", "c": "cat"},
                "i2": {"a": "cat", "b": "cat", "c": "dog"},
                "i3": {"a": "cat", "b": "dog", "c": "bird"},
            }
        ),
        CLASSES,
    )
    result = c.majority_vote(matrix)
    assert [f.item_id for f in c.items_needing_review(matrix, result, max_disagreement=0.5)] == ["i3"]
    flags = c.items_needing_review(matrix, result, max_disagreement=0.3)
    assert [f.item_id for f in flags] == ["i2", "i3"]
    assert flags[0].votes == {"cat": 2, "dog": 1}


def test_confusion_vs_consensus_counts_every_annotation():
    matrix = c.build_matrix(
        triples({"i1": {"a": "cat", "b": "cat", "c": "dog"}, "i2": {"a": "dog", "b": "dog"}}), CLASSES
    )
    table = c.confusion_vs_consensus(matrix, c.majority_vote(matrix))
    assert table.tolist() == [[2, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_per_label_vote_keeps_labels_chosen_by_a_strict_majority():
    vote = c.per_label_vote("i1", {"a": ["cat", "dog"], "b": ["cat"], "c": ["cat", "dog", "bird"], "d": []})
    assert vote.labels == ("cat",)  # dog: 2 of 4 is not a strict majority
    assert vote.shares == {"bird": 0.25, "cat": 0.75, "dog": 0.5}
    assert vote.confidence == pytest.approx((0.75 + 0.75 + 0.5) / 3)


def test_boxes_cluster_by_iou_and_drop_boxes_few_labelers_drew():
    boxes = {
        "a": [c.Box("car", 0.10, 0.10, 0.50, 0.50), c.Box("car", 0.60, 0.60, 0.90, 0.90)],
        "b": [c.Box("car", 0.12, 0.10, 0.52, 0.50)],
        "c": [c.Box("car", 0.10, 0.12, 0.50, 0.52), c.Box("person", 0.60, 0.60, 0.90, 0.90)],
    }
    kept = c.aggregate_boxes(boxes)
    assert len(kept) == 1
    consensus = kept[0]
    assert consensus.labelers == ("a", "b", "c") and consensus.support == 1.0
    assert consensus.box.x_min == pytest.approx((0.10 + 0.12 + 0.10) / 3)
    assert consensus.box.y_max == pytest.approx((0.50 + 0.50 + 0.52) / 3)
    assert c.iou(c.Box("x", 0, 0, 0.5, 0.5), c.Box("x", 0.25, 0, 0.75, 0.5)) == pytest.approx(1 / 3)


def test_box_outside_the_unit_square_is_an_error():
    with pytest.raises(c.ConsensusError, match="not a normalized box"):
        c.Box("car", 0.5, 0.1, 1.5, 0.4)


def test_spans_vote_on_exact_offsets():
    spans, agreement = c.aggregate_spans(
        "t1",
        {
            "a": [c.Span("ORG", 0, 6), c.Span("PER", 10, 15)],
            "b": [c.Span("ORG", 0, 6)],
            "c": [c.Span("ORG", 0, 6), c.Span("PER", 10, 14)],
        },
    )
    assert spans == (c.Span("ORG", 0, 6),)
    assert 0 < agreement < 1


def test_summarize_single_label_reports_review_items_and_quality():
    annotations = triples({"i1": {"a": "cat", "b": "cat", "c": "cat"}, "i2": {"a": "cat", "b": "dog", "c": "bird"}})
    summary = c.summarize("single_label", annotations, CLASSES, method="majority_vote", review_threshold=0.5)
    assert summary.items["i1"].value == "cat" and summary.items["i1"].labels == 3
    assert summary.items_needing_review == ("i2",)
    assert summary.confusion.sum() == 6


def test_summarize_multi_label_measures_agreement_on_binary_decisions():
    annotations = [("i1", "a", ["cat", "dog"]), ("i1", "b", ["cat"]), ("i1", "c", ["cat", "dog"])]
    summary = c.summarize("multi_label", annotations, CLASSES)
    assert summary.items["i1"].value == ("cat", "dog")
    assert summary.percent_agreement == pytest.approx((1.0 + 1 / 3) / 2)
    with pytest.raises(c.ConsensusError, match="'horse'"):
        c.summarize("multi_label", [("i1", "a", ["horse"])], CLASSES)


def test_posterior_rule_settles_with_a_sure_model_and_buys_more_when_unsure():
    from labelloop.components.core import adaptive

    policy = adaptive.RedundancyPolicy(max_labels=3, stop_probability=0.95, labeler_accuracy=0.75)
    classes = ["a", "b", "c", "d", "e"]
    sure = {"a": 0.9, "b": 0.025, "c": 0.025, "d": 0.025, "e": 0.025}
    flat = dict.fromkeys(classes, 0.2)
    assert adaptive.labels_wanted_posterior([], policy, classes, sure) == 1
    assert adaptive.labels_wanted_posterior(["a"], policy, classes, sure) == 1  # labeler agrees with a sure model
    assert adaptive.labels_wanted_posterior(["b"], policy, classes, sure) == 2  # disagrees: ask again
    assert adaptive.labels_wanted_posterior(["a"], policy, classes, flat) == 2  # one labeler alone is not enough
    assert adaptive.labels_wanted_posterior(["a", "a"], policy, classes, flat) == 2  # two agree: settled
    assert adaptive.labels_wanted_posterior(["a", "b"], policy, classes, None) == 3
    assert adaptive.labels_wanted_posterior(["a", "b", "c"], policy, classes, None) == 3  # labelerCount caps it
    posterior = adaptive.answer_posterior(["a"], classes, policy, sure)
    assert sum(posterior.values()) == pytest.approx(1) and max(posterior, key=posterior.get) == "a"
    with pytest.raises(ValueError, match="stop_probability"):
        adaptive.labels_wanted_posterior(["a"], adaptive.RedundancyPolicy(max_labels=3), classes)


def test_model_answers_join_the_consensus_but_not_the_human_quality_figures():
    classes = ["a", "b"]
    # one human says b on item x; a model that is right on every other item says a
    annotations = [("x", "h1", "b")] + [(f"i{k}", "h1", "a" if k % 2 else "b") for k in range(40)]
    annotations += [(f"i{k}", "h2", "a" if k % 2 else "b") for k in range(40)]
    model = {f"i{k}": "a" if k % 2 else "b" for k in range(40)} | {"x": "a", "not-labeled": "a"}
    humans = c.summarize("single_label", annotations, classes)
    joint = c.summarize("single_label", annotations, classes, model_answers=model)
    assert humans.items["x"].value == "b"
    assert joint.items["x"].value == "a"  # a reliable model outvotes one human
    assert "not-labeled" not in joint.items
    assert [q.labeler_id for q in joint.labelers] == ["h1", "h2"]
    assert joint.items["x"].labels == 1 and joint.percent_agreement == humans.percent_agreement


def test_item_posteriors_decide_their_items_and_a_malformed_one_names_the_item():
    annotations = [("x", "h1", "a"), ("x", "h2", "b"), ("y", "h1", "a"), ("y", "h2", "a")]
    summary = c.summarize("single_label", annotations, ["a", "b"], item_posteriors={"x": np.array([0.2, 0.8])})
    assert (summary.items["x"].value, summary.items["x"].confidence) == ("b", pytest.approx(0.8))
    assert summary.items["y"].value == "a"  # not listed: the humans' consensus
    assert [q.labeler_id for q in summary.labelers] == ["h1", "h2"]
    with pytest.raises(c.ConsensusError, match="item x: its posterior must be 2 probabilities"):
        c.summarize("single_label", annotations, ["a", "b"], item_posteriors={"x": np.array([0.2, 0.3])})
