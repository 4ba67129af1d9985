"""Threshold choice with a lower confidence bound, machine labels in the manifest, test precision."""

import math

import numpy as np
import pytest
from labelloop.components.core import machine_labels as ml
from labelloop.components.core import manifest


def test_wilson_bound_is_below_the_observed_rate_and_tightens_with_n():
    assert ml.wilson_lower_bound(20, 20) == pytest.approx(0.8389, abs=1e-3)
    assert ml.wilson_lower_bound(2000, 2000) > 0.998
    assert ml.wilson_lower_bound(0, 0) == 0.0


def test_threshold_is_the_smallest_whose_lower_bound_reaches_the_target():
    # 300 correct at confidence 0.99, then 300 at 0.9 with 30 wrong, then 100 at 0.6 with 50 wrong
    confidence = np.r_[np.full(300, 0.99), np.full(300, 0.9), np.full(100, 0.6)]
    correct = np.r_[np.ones(300), np.arange(300) >= 30, np.arange(100) >= 50].astype(bool)
    choice = ml.choose_threshold(confidence, correct, target_precision=0.92)
    assert choice.threshold == 0.9 and choice.validation_accepted == 600
    assert 0.92 <= choice.precision_lower_bound < 0.95 == choice.validation_precision
    strict = ml.choose_threshold(confidence, correct, target_precision=0.98)
    assert strict.threshold == 0.99 and strict.validation_accepted == 300


def test_a_small_perfect_validation_set_does_not_claim_98_percent():
    choice = ml.choose_threshold(np.full(20, 0.99), np.ones(20, bool), target_precision=0.98)
    assert not choice.found and "label more validation items" in choice.reason


def test_bad_arguments():
    with pytest.raises(ValueError, match="target_precision"):
        ml.choose_threshold(np.ones(3), np.ones(3, bool), target_precision=1.0)
    with pytest.raises(ValueError, match="equal-length"):
        ml.choose_threshold(np.ones(3), np.ones(2, bool))


def item(i, label=None, ml_use=None):
    record = {"textContent": f"t{i}", "dataItemResourceLabels": {manifest.ID_KEY: f"id{i}"}}
    if ml_use:
        record = manifest.with_ml_use(record, ml_use)
    return manifest.with_label(record, label, source="human") if label else record


def test_machine_labels_are_marked_and_the_rest_stay_for_humans():
    classes = ("cat", "dog")
    probabilities = {"id0": np.array([0.995, 0.005]), "id1": np.array([0.6, 0.4]), "id2": np.array([0.01, 0.99])}
    out = list(
        ml.machine_label([item(0), item(1), item(2)], probabilities, classes, threshold=0.99, model_version="m3")
    )
    assert [done for done, _ in out] == [True, False, True]
    labeled = out[0][1]
    assert manifest.label_of(labeled) == "cat" and manifest.label_source_of(labeled) == "machine"
    assert (
        manifest.extra_of(labeled)["model_version"] == "m3" and manifest.extra_of(labeled)["label_confidence"] == 0.995
    )
    assert out[1][1] == item(1)
    assert manifest.label_of(out[2][1]) == "dog"


def test_pool_items_without_predictions_or_with_labels_are_errors():
    with pytest.raises(KeyError, match="pool item id0 .* has no prediction"):
        list(ml.machine_label([item(0)], {}, ("a", "b"), threshold=0.5, model_version="m"))
    with pytest.raises(ValueError, match="already has a label"):
        list(
            ml.machine_label(
                [item(0, "a")], {"id0": np.array([1.0, 0.0])}, ("a", "b"), threshold=0.5, model_version="m"
            )
        )


def test_held_out_scores_and_precision_on_test():
    records = [item(0, "cat", "test"), item(1, "dog", "test"), item(2, "cat", "validation"), item(3)]
    probabilities = {f"id{i}": np.array(p) for i, p in enumerate([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])}
    test = ml.held_out_scores(records, "test", probabilities, ("cat", "dog"))
    assert test.confidence.tolist() == [0.9, 0.8] and test.correct.tolist() == [True, False]
    check = ml.measure_precision(test.confidence, test.correct, 0.85)
    assert (check.accepted, check.precision) == (1, 1.0) and check.lower_bound < 1.0
    assert ml.measure_precision(test.confidence, test.correct, math.inf).accepted == 0


def test_clopper_pearson_bound_is_exact_one_sided():
    # 0 errors in n items: the one-sided 95% bound is 0.05 ** (1 / n)
    assert ml.clopper_pearson_lower_bound(149, 149) == pytest.approx(0.05 ** (1 / 149))
    assert ml.clopper_pearson_lower_bound(0, 10) == 0.0
    assert ml.clopper_pearson_lower_bound(95, 100) < 0.95


def test_per_class_thresholds_refuse_an_overconfident_class_and_keep_the_others():
    rng = np.random.default_rng(0)
    # classes a, b: right whenever confident; class c: 30% wrong even at confidence 0.99
    predicted = np.repeat(np.array(["a", "b", "c"]), 300)
    confidence = np.concatenate([rng.uniform(0.9, 1.0, 600), rng.uniform(0.98, 1.0, 300)])
    correct = np.concatenate([np.ones(600, bool), rng.random(300) > 0.3])
    per_class = ml.choose_class_thresholds(confidence, predicted, correct, target_precision=0.98)
    single = ml.choose_threshold(confidence, correct, target_precision=0.98)
    assert per_class.found and per_class.precision_lower_bound >= 0.98
    assert ((predicted == "c") & (confidence >= per_class.threshold_of("c"))).sum() < 45  # a lucky top at most
    assert per_class.threshold_of("a") <= 0.91 and per_class.threshold_of("b") <= 0.91
    assert per_class.validation_accepted >= 590
    assert per_class.validation_accepted > single.validation_accepted  # one threshold must shut out b or a too
    check = ml.measure_precision_of(confidence, predicted, correct, per_class)
    assert check.precision >= 0.98 and check.coverage == pytest.approx(per_class.validation_coverage)


def test_per_class_thresholds_do_not_overclaim_on_few_items():
    choice = ml.choose_class_thresholds(np.full(30, 0.99), ["a"] * 15 + ["b"] * 15, np.ones(30, bool))
    assert not choice.found and "validation items" in choice.reason


def test_error_free_items_needed_is_where_the_bound_of_all_correct_reaches_the_target():
    needed = ml.error_free_items_needed(0.98)
    assert needed == 149
    bound = ml.clopper_pearson_lower_bound
    assert bound(needed, needed) >= 0.98 > bound(needed - 1, needed - 1)


def test_a_refusal_counts_the_human_labels_the_model_disputes():
    # 160 right at 0.9, then 4 confident disagreements: too many errors for 0.98 at this size
    confidence = np.r_[np.full(160, 0.9), [0.8, 0.7, 0.6, 0.3]]
    correct = np.r_[np.ones(160), np.zeros(4)].astype(bool)
    predicted = ["a"] * 80 + ["b"] * 84
    correct[[0, 1, 80]] = False  # three errors among the confident ones
    choice = ml.choose_class_thresholds(confidence, predicted, correct, target_precision=0.98)
    assert not choice.found
    assert "needs at least 149 accepted items and no error" in choice.reason
    assert "the model disputes 7 human labels, 6 at confidence >= 0.5" in choice.reason
    assert "verify the disputed ones" in choice.reason


def test_machine_label_applies_each_class_its_own_threshold():
    choice = ml.ClassThresholds({"cat": 0.9, "dog": math.inf}, 0.98, 1.0, 0.99, 200, 200, "")
    records = [item(1), item(2), item(3)]
    probabilities = {"id1": np.array([0.95, 0.05]), "id2": np.array([0.02, 0.98]), "id3": np.array([0.85, 0.15])}
    out = list(ml.machine_label(records, probabilities, ["cat", "dog"], threshold=choice, model_version="m"))
    assert [labeled for labeled, _ in out] == [True, False, False]


def test_calibration_uses_held_out_predictions_of_validation_items_only():
    records = [
        item(0, "cat", "validation"),
        item(1, "dog", "training"),
        item(2, "cat", "test"),
        item(3),
        item(4, "dog", "validation"),
    ]
    heldout = {f"id{i}": np.array([0.8, 0.2]) for i in range(4)}  # id4 has none: not used
    scores = ml.calibration_scores(records, heldout, ("cat", "dog"))  # id1 is a training item (picked, not random)
    assert scores.predicted == ("cat",) and scores.correct.tolist() == [True]


def test_thresholds_the_test_split_contradicts_label_nothing(tmp_path):
    _pool_and_labeled(tmp_path)
    sure_and_right = {f"id{i}": np.array([0.99, 0.01]) if i % 2 == 0 else np.array([0.01, 0.99]) for i in range(400)}
    paths = [str(tmp_path / n) for n in ("pool", "labeled", "pred", "machine", "rest")]
    options = dict(target_precision=0.98, confidence_level=0.95, model_version="m", heldout_fitted_on="folds")
    agreed = ml.apply_to_manifests(*paths, **options, heldout_by_id=sure_and_right)
    assert agreed.choice.found and agreed.test.precision == 1.0 and agreed.machine_labeled == 400
    labeled = list(manifest.read_jsonl(str(tmp_path / "labeled")))
    flipped = {"cat": "dog", "dog": "cat"}
    for k in range(400, 420):  # 20 of 400 test labels disagree with the model: precision 0.95
        labeled[k] = manifest.with_label(labeled[k], flipped[manifest.label_of(labeled[k])], source="human")
    manifest.write_jsonl(str(tmp_path / "labeled"), labeled)
    refused = ml.apply_to_manifests(*paths, **options, heldout_by_id=sure_and_right)
    assert refused.test.precision == 0.95 and not refused.choice.found and refused.machine_labeled == 0
    assert "not applied: on the test split" in refused.choice.reason and refused.still_unlabeled == 400


def _pool_and_labeled(tmp_path, n=400):
    """Validation items (n) whose model predictions are all right in-sample, a test split and a pool."""
    classes = ("cat", "dog")
    labeled = [item(i, classes[i % 2], "validation") for i in range(n)]
    labeled += [item(n + i, classes[i % 2], "test") for i in range(n)]
    pool = [item(2 * n + i) for i in range(n)]
    manifest.write_jsonl(str(tmp_path / "labeled"), labeled)
    manifest.write_jsonl(str(tmp_path / "pool"), pool)
    folder = tmp_path / "pred"
    folder.mkdir()
    ids = [f"id{i}" for i in range(3 * n)]
    p = np.array([[0.99, 0.01] if i % 2 == 0 else [0.01, 0.99] for i in range(3 * n)])
    np.save(folder / "probabilities.npy", p)
    (folder / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (folder / "classes.txt").write_text("cat\ndog\n")
    return {f"id{i}": np.array([0.99, 0.01]) for i in range(n)}  # held out: always "cat", half wrong


def test_thresholds_follow_held_out_predictions_not_in_sample_ones(tmp_path):
    heldout = _pool_and_labeled(tmp_path)
    paths = [str(tmp_path / n) for n in ("pool", "labeled", "pred", "machine", "rest")]
    options = dict(target_precision=0.98, confidence_level=0.95, model_version="m")
    in_sample = ml.apply_to_manifests(*paths, **options)
    assert in_sample.machine_labeled == 400 and "in-sample" in in_sample.calibration
    calibrated = ml.apply_to_manifests(*paths, **options, heldout_by_id=heldout, heldout_fitted_on="training split")
    assert calibrated.choice.threshold_of("cat") == math.inf and calibrated.machine_labeled == 0
    assert calibrated.calibration == "400 held-out predictions of validation items (fits on training split)"
    with pytest.raises(ValueError, match="columns"):
        ml.apply_to_manifests(*paths, **options, heldout_by_id={"id0": np.ones(3) / 3})


def test_a_class_with_few_validation_items_gets_no_machine_labels():
    """Classes a and b (200 perfect items each) certify the overall bound; class c's 6 perfect
    items would ride along on it, but 6 items say little about c's precision in the pool."""
    predicted = np.array(["a"] * 200 + ["b"] * 200 + ["c"] * 6)
    confidence, correct = np.full(406, 0.99), np.ones(406, bool)
    choice = ml.choose_class_thresholds(confidence, predicted, correct, target_precision=0.98)
    assert choice.threshold_of("a") == 0.99 and choice.threshold_of("b") == 0.99
    assert choice.threshold_of("c") == math.inf and choice.validation_accepted == 400
    lenient = ml.choose_class_thresholds(confidence, predicted, correct, target_precision=0.98, min_class_items=1)
    assert lenient.threshold_of("c") == 0.99
