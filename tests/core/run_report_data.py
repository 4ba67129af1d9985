"""A small but real run for the run-report tests: every input computed by the core steps themselves.

scikit-learn's digits written as PNG files with planted copies, blurred images and corrupt files
(``demo_data``), imported and prefiltered for real; a simulated crowd labels the human share; a
logistic regression learns the digits with margin sampling and with random sampling (two seeds
each); it scores the test split, machine-labels the confident pool items, and a gate threshold
decides. Nothing in the report's inputs is typed in by hand.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import numpy as np
from labelloop.components.core import (
    active_learning,
    demo_data,
    gate,
    import_data,
    machine_labels,
    prefilter,
    sample_data,
    sampling,
    simulated_crowd,
)
from labelloop.components.core import manifest as mf
from labelloop.components.core import metrics as met
from labelloop.components.core.annotation_store import LedgerEntry, StoredAnnotation
from labelloop.components.core.run_report import LearningRun, ReportInputs
from PIL import Image

CLASSES = tuple(str(d) for d in range(10))
COST_PER_LABEL = 0.08


@dataclass(frozen=True)
class Scenario:
    inputs: ReportInputs
    folder: str
    exact_copy_id: str


def _features(uri: str) -> np.ndarray:
    with Image.open(uri) as image:
        return np.asarray(image.convert("L").resize((8, 8), Image.BOX), np.float64).ravel() / 255.0


def _model(seed: int = 0):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=400, C=0.5, random_state=seed)


def learning_runs(*, seeds=(0, 1), start: int = 20, batch: int = 20, rounds: int = 8) -> list[LearningRun]:
    """Margin sampling and random sampling on the digits, several seeds, the same test split."""
    digits = sample_data.load_digits_images()
    x = digits.images.reshape(len(digits.images), -1) / 255.0
    y = np.array(digits.labels)
    test = np.arange(len(x))[-400:]
    pool_all = np.arange(len(x) - 400)
    runs = []
    for strategy in ("margin", "random"):
        for seed in seeds:
            rng = np.random.default_rng(seed)
            chosen = list(rng.choice(pool_all, start, replace=False))
            records: list[active_learning.RoundRecord] = []
            for index in range(rounds):
                model = _model(seed).fit(x[chosen], y[chosen])
                accuracy = float((model.predict(x[test]) == y[test]).mean())
                bought = start if index == 0 else batch
                total = len(chosen)
                records.append(
                    active_learning.RoundRecord(
                        index,
                        "cold_start" if index == 0 else strategy,
                        bought,
                        total,
                        bought * COST_PER_LABEL,
                        total * COST_PER_LABEL,
                        "accuracy",
                        accuracy,
                    )
                )
                pool = np.setdiff1d(pool_all, chosen)
                if strategy == "random":
                    picked = pool[sampling.random_sample(len(pool), batch, seed=seed * 100 + index).indices]
                else:
                    picked = pool[sampling.top_k_uncertain(model.predict_proba(x[pool]), batch, "margin").indices]
                chosen += [int(i) for i in picked]
            runs.append(LearningRun(strategy, tuple(records), seed))
    return runs


def build_scenario(folder: str, *, digits: int = 150) -> Scenario:
    raw = os.path.join(folder, "raw")
    data = demo_data.make_demo_data(raw, limit=digits, near_duplicates=16, blurred=10)
    shutil.copy(os.path.join(data.images_dir, "digit-0007.png"), os.path.join(data.images_dir, "zz-exact-copy.png"))
    exact_copy_id = mf.content_id(open(os.path.join(data.images_dir, "digit-0007.png"), "rb").read())
    truth = {r["id"]: r["label"] for r in mf.read_jsonl(data.ground_truth)}

    items, import_rejects = os.path.join(folder, "items.jsonl"), os.path.join(folder, "import_rejects.jsonl")
    options = import_data.options_from(
        data.images_dir, "image", allowed_uri_schemes=("gs", "file"), max_reject_rate=0.5
    )
    imported = import_data.import_items(options, items, import_rejects, step="import_dataset")
    kept, rejects = os.path.join(folder, "kept.jsonl"), os.path.join(folder, "rejects.jsonl")
    filtered = prefilter.prefilter_manifest(
        items, kept, rejects, prefilter.PrefilterSettings(workers=1), step="prefilter_images"
    )
    prefilter_metrics = {**filtered.summary(), **{k: v for k, v in filtered.thresholds.items() if k != "checks"}}

    records = list(mf.read_jsonl(kept))
    uses = sample_data.assign_ml_uses(len(records), (0.6, 0.2, 0.2), seed=0)
    features = np.stack([_features(r["imageGcsUri"]) for r in records])
    labels = np.array([truth[mf.item_id(r)] for r in records])
    uses = np.array(uses)
    human_train = np.flatnonzero(uses == "training")[:40]
    human = np.concatenate([human_train, np.flatnonzero(uses != "training")])

    crowd = simulated_crowd.make_crowd(CLASSES, simulated_crowd.CrowdConfig(n_labelers=4, accuracy=0.8, n_spammers=1))
    annotations, ledger = [], []
    for round_index, chunk in enumerate(np.array_split(human, 3)):
        delivered = 0
        for row in chunk:
            item_id = mf.item_id(records[row])
            for labeler in simulated_crowd.assignment_order(crowd, item_id, 0)[:3]:
                answer = simulated_crowd.answer_single(labeler, CLASSES.index(labels[row]), item_id, 0)
                annotations.append(
                    StoredAnnotation(
                        item_id, labeler.labeler_id, CLASSES[answer], COST_PER_LABEL, round_index, "r1", "simulated"
                    )
                )
                delivered += 1
        ledger.append(
            LedgerEntry("r1", round_index, delivered, delivered, round(delivered * COST_PER_LABEL, 6), len(chunk), "")
        )

    model = _model().fit(features[human_train], labels[human_train])
    proba = model.predict_proba(features)
    model_classes = [str(c) for c in model.classes_]
    proba = met.align_scores(proba, model_classes, CLASSES)
    top, confidence = proba.argmax(axis=1), proba.max(axis=1)
    correct = np.array([CLASSES[t] for t in top]) == labels
    validation, test = uses == "validation", uses == "test"
    choice = machine_labels.choose_threshold(confidence[validation], correct[validation], target_precision=0.9)
    threshold = choice.threshold if np.isfinite(choice.threshold) else float(np.quantile(confidence, 0.7))
    check = machine_labels.measure_precision(confidence[test], correct[test], threshold)
    pool = np.setdiff1d(np.flatnonzero(uses == "training"), human_train)
    machine = pool[confidence[pool] >= threshold]

    final = []
    for row, record in enumerate(records):
        out = mf.with_ml_use(record, str(uses[row]))
        if row in set(human.tolist()):
            out = mf.with_label(out, str(labels[row]), source="human")
        elif row in set(machine.tolist()):
            out = mf.with_label(out, CLASSES[top[row]], source="machine", confidence=round(float(confidence[row]), 4))
        final.append(out)
    dataset = os.path.join(folder, "dataset.jsonl")
    mf.write_jsonl(dataset, final)

    y_test = np.array([CLASSES.index(v) for v in labels[test]])
    evaluation = met.evaluate_classifier(y_test, proba[test], CLASSES, task="image_classification")
    evaluation_metrics = {k: v for k, v in evaluation.scalars.items() if v == v}
    for label, values in evaluation.per_label.items():
        for name in ("precision", "recall", "f1"):
            evaluation_metrics[f"{label}/{name}"] = values[name]
    evaluation_metrics["test_items"] = evaluation.count
    classification = {
        "confusionMatrix": {
            "annotationSpecs": [{"displayName": c} for c in evaluation.labels],
            "rows": [{"row": list(r)} for r in evaluation.confusion_matrix],
        },
        "confidenceMetrics": [
            {"confidenceThreshold": t, "recall": r, "falsePositiveRate": f}
            for f, r, t in zip(evaluation.roc["fpr"], evaluation.roc["tpr"], evaluation.roc["thresholds"])
        ],
    }
    checks = [
        gate.check_value(gate.ValueThreshold("accuracy", lower_bound=0.8), evaluation.scalars["accuracy"]),
        gate.check_value(gate.ValueThreshold("macro_f1", lower_bound=0.5), evaluation.scalars["macro_f1"]),
    ]
    reasons = [f"{'PASS' if c.passed else 'FAIL'} {c.kind} {c.metric}: {c.reason}" for c in checks]
    inputs = ReportInputs(
        title="labelloop run report: digits",
        import_metrics=import_data.metrics_of(imported),
        import_rejects=import_rejects,
        prefilter_metrics=prefilter_metrics,
        prefilter_kept=kept,
        prefilter_rejects=rejects,
        dataset=dataset,
        annotations=tuple(annotations),
        classes=CLASSES,
        ledger=tuple(ledger),
        learning_runs=tuple(learning_runs()),
        machine_label_metrics={
            "threshold": threshold,
            "validation_precision": choice.validation_precision,
            "validation_precision_lower_bound": choice.precision_lower_bound,
            "machine_labeled_items": len(machine),
            "still_unlabeled_items": len(pool) - len(machine),
            "test_precision": check.precision,
            "test_precision_lower_bound": check.lower_bound,
            "test_items_above_threshold": check.accepted,
        },
        evaluation=evaluation_metrics,
        classification_metrics=classification,
        blessed=all(c.passed for c in checks),
        gate_reasons=tuple(reasons),
        champion_version="1",
    )
    return Scenario(inputs, folder, exact_copy_id)


def build_text_scenario(folder: str, *, documents: int = 240) -> Scenario:
    """BBC News texts: import rejects, a split dataset with human and machine labels, a crowd's annotations."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    os.makedirs(folder, exist_ok=True)
    news = sample_data.load_bbc_news()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(news.texts), documents, replace=False)
    texts, labels = [news.texts[i] for i in rows], [news.labels[i] for i in rows]
    classes = tuple(sorted(set(news.labels)))
    raw = os.path.join(folder, "raw.jsonl")
    bad = [{"textContent": ""}, {"textContent": 42}, {"note": "no content at all"}]
    mf.write_jsonl(raw, [{"textContent": t} for t in texts] + bad)
    items, import_rejects = os.path.join(folder, "items.jsonl"), os.path.join(folder, "import_rejects.jsonl")
    options = import_data.options_from(raw, "text", max_reject_rate=0.5)
    imported = import_data.import_items(options, items, import_rejects, step="import_dataset")
    records = list(mf.read_jsonl(items))
    truth = dict(zip(texts, labels))
    y = np.array([truth[r["textContent"]] for r in records])
    uses = np.array(sample_data.assign_ml_uses(len(records), (0.6, 0.2, 0.2), seed=0))
    human = np.concatenate([np.flatnonzero(uses == "training")[:30], np.flatnonzero(uses != "training")])
    vectors = TfidfVectorizer(max_features=3000).fit_transform([r["textContent"] for r in records])
    model = LogisticRegression(max_iter=300).fit(vectors[human], y[human])
    proba = met.align_scores(model.predict_proba(vectors), [str(c) for c in model.classes_], classes)
    crowd = simulated_crowd.make_crowd(classes, simulated_crowd.CrowdConfig(n_labelers=3, accuracy=0.75))
    annotations = [
        (mf.item_id(records[row]), labeler.labeler_id, classes[answer])
        for row in human
        for labeler in crowd
        for answer in [simulated_crowd.answer_single(labeler, classes.index(y[row]), mf.item_id(records[row]), 0)]
    ]
    final = []
    for row, record in enumerate(records):
        out = mf.with_ml_use(record, str(uses[row]))
        if row in set(human.tolist()):
            out = mf.with_label(out, str(y[row]), source="human")
        elif proba[row].max() >= 0.5:
            out = mf.with_label(out, classes[proba[row].argmax()], source="machine", confidence=float(proba[row].max()))
        final.append(out)
    dataset = os.path.join(folder, "dataset.jsonl")
    mf.write_jsonl(dataset, final)
    inputs = ReportInputs(
        title="labelloop run report: BBC News",
        import_metrics=import_data.metrics_of(imported),
        import_rejects=import_rejects,
        dataset=dataset,
        annotations=tuple(annotations),
        classes=classes,
    )
    return Scenario(inputs, folder, "")
