"""Consensus accuracy and labeling cost on simulated crowds.

Prints, side by side and measured in the same run:
1. accuracy of a single labeler, majority vote, Dawid–Skene (and cleanlab's multi-annotator
   consensus as the anchor, when cleanlab is installed) for 3 labelers of 75% accuracy with
   class-dependent confusion, over several seeds;
2. cost and consensus accuracy of adaptive redundancy vs fixed-N labeling (N = labelerCount = 3);
3. the same on digits with the round model's predictions passed to the job (as ``label_items``
   does in the active-learning pipeline): cost from the ledger and Dawid–Skene accuracy, per seed.

Usage: python benchmarks/consensus.py [--items 2000] [--classes 5] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile

import numpy as np
from labelloop.components.backends import labeler as lb
from labelloop.components.core import consensus as c
from labelloop.components.core import labeling_rounds as rounds
from labelloop.components.core import simulated_crowd as sc
from labelloop.components.core.annotation_store import AnnotationStore
from labelloop.components.core.labeling_job import parse_job_spec


def crowd_matrix(n_items: int, classes: list[str], seed: int) -> tuple[c.AnnotationMatrix, np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    truth = {f"i{k}": classes[rng.integers(len(classes))] for k in range(n_items)}
    crowd = sc.make_crowd(classes, sc.CrowdConfig(n_labelers=3, accuracy=0.75, noise="class_dependent", seed=seed))
    annotations = [
        (item, labeler.labeler_id, classes[sc.answer_single(labeler, classes.index(label), item, seed)])
        for item, label in truth.items()
        for labeler in crowd
    ]
    matrix = c.build_matrix(annotations, classes)
    return matrix, np.array([classes.index(truth[i]) for i in matrix.item_ids])


def cleanlab_accuracy(matrix: c.AnnotationMatrix, gold: np.ndarray) -> float | None:
    try:
        import pandas as pd
        from cleanlab.multiannotator import get_label_quality_multiannotator, get_majority_vote_label
    except ImportError:
        return None
    labels = pd.DataFrame(np.where(matrix.codes >= 0, matrix.codes, np.nan))
    majority = get_majority_vote_label(labels)
    # cleanlab needs a classifier's out-of-sample probabilities; with none, use the one-hot majority vote
    pred_probs = np.full((len(gold), matrix.n_classes), 1e-3)
    pred_probs[np.arange(len(gold)), majority] = 1.0
    pred_probs /= pred_probs.sum(axis=1, keepdims=True)
    result = get_label_quality_multiannotator(labels, pred_probs, verbose=False)
    return float(np.mean(result["label_quality"]["consensus_label"].to_numpy() == gold))


def consensus_table(n_items: int, n_classes: int, seeds: int) -> None:
    classes = [f"c{k}" for k in range(n_classes)]
    print(
        "## Consensus accuracy: 3 labelers × 75% accuracy, "
        f"class-dependent confusion, {n_items} items, {n_classes} classes"
    )
    print(f"{'seed':>4} {'single':>8} {'majority':>9} {'dawid_skene':>12} {'cleanlab':>9}")
    rows = []
    for seed in range(seeds):
        matrix, gold = crowd_matrix(n_items, classes, seed)
        single = float(np.mean(matrix.codes[:, 0] == gold))
        majority = float(np.mean(c.majority_vote(matrix).codes == gold))
        ds = float(np.mean(c.dawid_skene(matrix).codes == gold))
        anchor = cleanlab_accuracy(matrix, gold)
        rows.append((single, majority, ds, anchor))
        print(
            f"{seed:>4} {single:>8.3f} {majority:>9.3f} {ds:>12.3f} {'n/a' if anchor is None else f'{anchor:.3f}':>9}"
        )
    mean = np.mean([r[:3] for r in rows], axis=0)
    print(f"mean {mean[0]:>8.3f} {mean[1]:>9.3f} {mean[2]:>12.3f}")
    print(f"Dawid–Skene vs majority vote: {mean[2] - mean[1]:+.3f}; vs single labeler: {mean[2] - mean[0]:+.3f}")


def adaptive_vs_fixed(n_items: int, n_classes: int) -> None:
    classes = [f"c{k}" for k in range(n_classes)]
    rng = np.random.default_rng(7)
    truth = {f"i{k}": classes[rng.integers(n_classes)] for k in range(n_items)}
    items = [(i, {"textContent": i, "dataItemResourceLabels": {"labelloop_id": i}}) for i in truth]
    crowd = sc.CrowdConfig(n_labelers=5, accuracy=0.75, noise="class_dependent", seed=3)
    print(f"\n## Adaptive vs fixed-N labeling: labelerCount 3, crowd of 5 × 75%, {n_items} items, $0.01/label")
    print(f"{'strategy':<24} {'labels':>7} {'cost USD':>9} {'per item':>9} {'majority acc':>13} {'DS acc':>7}")
    baseline_cost = None
    for name, adaptive_on in (("fixed-N (baseline)", False), ("adaptive", True)):
        spec = parse_job_spec(
            json.dumps(
                {
                    "displayName": name,
                    "labelerCount": 3,
                    "instructionUri": "https://example.test/g.pdf",
                    "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
                    "inputs": {"annotationSpecs": classes},
                    "labelloop": {"adaptive": {"enabled": adaptive_on}},
                }
            )
        )
        with tempfile.TemporaryDirectory() as folder:
            result = rounds.run_rounds(
                items,
                spec,
                lb.SimulatedCrowdLabeler(spec, truth, crowd),
                AnnotationStore(folder),
                rounds.RoundsConfig(name),
            )
        triples = [(a.item_id, a.labeler_id, a.value) for a in result.annotations]
        matrix = c.build_matrix(triples, classes)
        gold = np.array([classes.index(truth[i]) for i in matrix.item_ids])
        majority = float(np.mean(c.majority_vote(matrix).codes == gold))
        ds = float(np.mean(c.dawid_skene(matrix).codes == gold))
        baseline_cost = baseline_cost or result.bought_usd
        print(
            f"{name:<24} {len(result.bought):>7} {result.bought_usd:>9.2f} "
            f"{len(result.bought) / n_items:>9.2f} {majority:>13.3f} {ds:>7.3f}"
        )
    print(f"adaptive cost / fixed-N cost: {result.bought_usd / baseline_cost:.2f}")


def digits_with_model(seed: int, model_labels: int = 300):
    """Digits to label, their truth, and a model's probabilities for them (trained on other digits).

    The model is what the active-learning round has when it sends items to humans; ``label_items``
    passes its predictions to the backend, where a confident prediction counts as a vote.
    """
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    bunch = load_digits()
    order = np.random.default_rng(seed).permutation(len(bunch.target))
    train, rest = order[:model_labels], order[model_labels:]
    model = LogisticRegression(C=0.1, max_iter=3000).fit(bunch.data[train] / 16.0, bunch.target[train])
    probabilities = model.predict_proba(bunch.data[rest] / 16.0)
    classes = [f"d{k}" for k in range(10)]
    ids = [f"i{k}" for k in rest]
    truth = {i: classes[t] for i, t in zip(ids, bunch.target[rest])}
    predictions = {i: {classes[k]: float(p[k]) for k in range(10)} for i, p in zip(ids, probabilities)}
    accuracy = float(np.mean(probabilities.argmax(axis=1) == bunch.target[rest]))
    return ids, truth, predictions, classes, accuracy


def run_job(name, classes, items, truth, crowd, *, adaptive_on, predictions=None, extra=None):
    """One labeling job on the simulated crowd; the annotations bought and the dollars paid (from the ledger)."""
    spec = parse_job_spec(
        json.dumps(
            {
                "displayName": name,
                "labelerCount": 3,
                "instructionUri": "https://example.test/g.pdf",
                "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/text_classification_1.0.0.yaml",
                "inputs": {"annotationSpecs": classes},
                "labelloop": {"adaptive": {"enabled": adaptive_on, **(extra or {})}},
            }
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        result = lb.run_rounds(
            items,
            spec,
            lb.SimulatedCrowdLabeler(spec, truth, crowd),
            AnnotationStore(folder),
            lb.RoundsConfig(name),
            predictions=predictions,
        )
        paid = float(sum(entry.cost_usd for entry in result.ledger))
    return result, paid


POSTERIOR = {"stopProbability": 0.94, "modelInConsensus": True}


def consensus_accuracy(result, classes, truth, predictions=None) -> float:
    """Dawid–Skene accuracy of a job's annotations, with the model as one more labeler when given."""
    answers = None
    if predictions is not None:
        answers = {i: max(p.items(), key=lambda kv: (kv[1], kv[0]))[0] for i, p in predictions.items()}
    summary = c.summarize(
        "single_label",
        [(a.item_id, a.labeler_id, a.value) for a in result.annotations],
        classes,
        method="dawid_skene",
        model_answers=answers,
    )
    return float(np.mean([item.value == truth[i] for i, item in summary.items.items()]))


def adaptive_with_model(seeds: int) -> None:
    """Fixed-3 vs adaptive on digits, where the round model's predictions are passed to the job."""
    print(
        "\n## Adaptive vs fixed-3 with the round model's predictions (digits; model: logistic regression on 300 "
        "other digits; crowd of 5 x 75%, class-dependent confusion; cost = what the ledger says was paid)"
    )
    print(
        f"{'seed':>4} {'model':>6} | {'fixed-3':>8} {'DS':>7} {'DS+model':>9} | {'votes':>6} {'ratio':>6} {'DS':>7} "
        f"| {'posterior':>9} {'ratio':>6} {'DS+model':>9}"
    )
    rows = []
    for seed in range(seeds):
        ids, truth, predictions, classes, model_accuracy = digits_with_model(seed)
        items = [(i, {"textContent": i, "dataItemResourceLabels": {"labelloop_id": i}}) for i in ids]
        crowd = sc.CrowdConfig(n_labelers=5, accuracy=0.75, noise="class_dependent", seed=seed)
        fixed, fixed_usd = run_job(f"fixed-{seed}", classes, items, truth, crowd, adaptive_on=False)
        votes, votes_usd = run_job(
            f"votes-{seed}", classes, items, truth, crowd, adaptive_on=True, predictions=predictions
        )
        post, post_usd = run_job(
            f"posterior-{seed}",
            classes,
            items,
            truth,
            crowd,
            adaptive_on=True,
            predictions=predictions,
            extra=POSTERIOR,
        )
        row = (
            consensus_accuracy(fixed, classes, truth),
            consensus_accuracy(fixed, classes, truth, predictions),
            votes_usd / fixed_usd,
            consensus_accuracy(votes, classes, truth),
            post_usd / fixed_usd,
            consensus_accuracy(post, classes, truth, predictions),
        )
        rows.append(row)
        print(
            f"{seed:>4} {model_accuracy:>6.3f} | {fixed_usd:>8.2f} {row[0]:>7.4f} {row[1]:>9.4f} | "
            f"{votes_usd:>6.2f} {row[2]:>6.2f} {row[3]:>7.4f} | {post_usd:>9.2f} {row[4]:>6.2f} {row[5]:>9.4f}"
        )
    m = np.mean(rows, axis=0)
    print(
        f"mean: votes (the default rule) {m[2]:.2f}x fixed-3's cost at {100 * (m[3] - m[0]):+.2f} points; "
        f"posterior rule + model in consensus ({POSTERIOR}) {m[4]:.3f}x at {100 * (m[5] - m[0]):+.2f} points vs "
        f"fixed-3 (humans only), {100 * (m[5] - m[1]):+.2f} vs fixed-3 with the model in its consensus too "
        "(target: <= 0.60x within 0.5 points)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    consensus_table(args.items, args.classes, args.seeds)
    adaptive_vs_fixed(args.items, args.classes)
    adaptive_with_model(args.seeds)


if __name__ == "__main__":
    main()
