"""Label verification: the confident joint, the ranking, out-of-fold probabilities, the manifest writer."""

import numpy as np
import pytest
from labelloop.components.core import label_issues as li
from labelloop.components.core import manifest, sample_data
from sklearn.datasets import load_digits


def noisy_digits(fraction=0.1, seed=0):
    bunch = load_digits()
    x, y = bunch.data[:900].astype(float), bunch.target[:900]
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(y), dtype=bool)
    flipped[rng.choice(len(y), size=int(fraction * len(y)), replace=False)] = True
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 10, size=flipped.sum())) % 10
    return x, y, noisy, flipped


def test_label_quality_is_the_normalized_margin_of_the_given_label():
    p = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert li.label_quality(np.array([0, 1, 2]), p) == pytest.approx([0.5, -0.5, 0.7])


def test_confident_joint_counts_items_above_their_class_threshold():
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.85, 0.15], [0.2, 0.8]])
    labels = np.array([0, 0, 0, 1, 1])
    joint, thresholds, guess = li.confident_joint(labels, p)
    assert thresholds == pytest.approx([2 / 3, 0.475])
    # item 3 is labeled 1 but confidently 0 (0.85 >= 2/3; 0.15 < 0.475)
    assert guess.tolist() == [0, 0, 1, 0, 1]
    assert joint.tolist() == [[2, 1], [1, 1]]


def test_planted_flips_are_found_with_high_precision_and_recall():
    x, _, noisy, flipped = noisy_digits()
    p = li.out_of_fold_probabilities(x, noisy, seed=0)
    issues = li.find_label_issues(noisy, p)
    hits = flipped[issues.indices].sum()
    assert hits / len(issues.indices) > 0.75  # precision
    assert hits / flipped.sum() > 0.8  # recall
    assert abs(issues.estimated_issues - flipped.sum()) < 0.4 * flipped.sum()
    assert np.all(np.diff(issues.quality) >= 0)  # most suspect first


def test_clean_labels_give_few_suspects_and_the_cap_is_kept():
    x, y, _, _ = noisy_digits()
    p = li.out_of_fold_probabilities(x, y, seed=0)
    assert len(li.find_label_issues(y, p).indices) < 0.05 * len(y)
    assert len(li.find_label_issues(y, p, max_issues=3).indices) <= 3


def test_out_of_fold_rows_never_come_from_a_model_that_saw_them():
    # a memorising model (1-NN) scores its own training rows perfectly; out of fold it cannot
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = rng.integers(0, 2, size=200)  # labels carry no signal
    p = li.out_of_fold_probabilities(x, y, make_model=lambda seed: KNeighborsClassifier(1))
    assert 0.3 < np.mean(p.argmax(axis=1) == y) < 0.7
    assert np.allclose(p.sum(axis=1), 1)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="one label per row"):
        li.find_label_issues(np.array([0, 1]), np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="class 2 has one labeled item"):
        li.out_of_fold_probabilities(np.zeros((5, 2)), np.array([0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match="method"):
        li.find_label_issues(np.array([0, 1]), np.full((2, 2), 0.5), method="vote")


def test_relabel_budget_takes_the_smaller_cap():
    assert li.relabel_budget(1000, max_suspects=0, max_fraction=0.15) == 150
    assert li.relabel_budget(1000, max_suspects=40, max_fraction=0.15) == 40


def test_manifest_suspects_are_unlabeled_ranked_and_carry_the_given_label(tmp_path):
    data = sample_data.load_digits_images()
    n = 400
    labels = list(data.labels[:n])
    wrong = {5, 17, 33, 71, 123, 250}
    for i in wrong:
        labels[i] = "7" if labels[i] != "7" else "1"
    items = sample_data.write_image_manifest(data.images[:n], labels, str(tmp_path / "data"))
    summary = li.suspects_from_manifest(items, str(tmp_path / "suspects.jsonl"), kind="image", folds=3)
    out = list(manifest.read_jsonl(str(tmp_path / "suspects.jsonl")))
    assert summary.labeled == n and summary.suspects == len(out) <= summary.budget == 60
    assert all(manifest.labels_of(r) == [] for r in out)
    assert [manifest.extra_of(r)["verification_rank"] for r in out] == list(range(len(out)))
    ids = [manifest.item_id(r) for r in manifest.read_jsonl(items)]
    found = {ids.index(manifest.item_id(r)) for r in out}
    assert len(found & wrong) >= 4
    first = out[0]
    assert manifest.extra_of(first)["given_label"] == labels[ids.index(manifest.item_id(first))]
    assert "Label verification" in li.report_html(summary)
