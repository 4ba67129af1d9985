"""The demo: the whole active-learning pipeline, locally, on real digit images and a simulated crowd.

``labelloop demo`` writes scikit-learn's handwritten digits as an unlabeled folder of images salted
with near-duplicates, blurred copies and corrupt files, runs the ``active-learning`` pipeline on it
with ``kfp.local``, and ends with a short summary and the path of the HTML run report.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIGITS = [str(d) for d in range(10)]
#: The simulated crowd, and the reviewer who settles the evaluation labels the final model disputes.
CROWD = {
    "nLabelers": 5,
    "accuracy": 0.85,
    "accuracySpread": 0.1,
    "noise": "class_dependent",
    "nSpammers": 1,
    "seed": 7,
    "reviewers": {"nLabelers": 1, "accuracy": 0.97, "accuracySpread": 0.02, "noise": "class_dependent", "seed": 8},
}
#: What a reviewer's label costs (an expert's, five times a crowd label).
REVIEW_PRICE_USD = 0.25


def labeling_job_spec(labels: list[str], *, labeler_count: int = 5, price_usd: float = 0.05) -> str:
    """A DataLabelingJob for image classification of ``labels``, with labelloop's budget settings.

    ``labelerCount`` is the most labels an item can get: adaptive redundancy buys a second and later
    label only while the consensus is unsure, so 5 buys 9 % more labels than 3 on the demo's crowd
    (1,910 vs 1,749, seed 0), and only with 5 are the evaluation labels good enough to certify
    machine labels against (with 3: 40 of them disputed and relabeled, none machine-labeled).
    """
    return json.dumps(
        {
            "displayName": "labelloop demo: handwritten digits",
            "labelerCount": labeler_count,
            "instructionUri": "gs://labelloop-demo/instructions.pdf",
            "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/image_classification_1.0.0.yaml",
            "inputs": {"annotationSpecs": [{"displayName": label} for label in labels]},
            "annotationLabels": {"team": "demo"},
            "labelloop": {
                "pricePerLabelUsd": price_usd,
                "budget": {"maxSpendUsd": 500},
                "disputeReview": {"labelerCount": 1, "pricePerLabelUsd": REVIEW_PRICE_USD, "maxItems": 40},
            },
        }
    )


#: A fifth of the items for validation: machine labels at 0.98 need at least 149 accepted validation
#: items without an error (a one-sided 95 % bound), which a tenth (177 items) reaches only when the
#: model is right on nearly all of them.
EVALUATION_SPLITS = {"training_fraction": 0.7, "validation_fraction": 0.2, "test_fraction": 0.1}

#: Labeling rounds of the demo (the cold start included): the graph's size and the config's max_rounds.
DEMO_ROUNDS = 5


def active_learning_config(strategy: str = "UNCERTAINTY", *, max_rounds: int = DEMO_ROUNDS) -> str:
    """The demo's ActiveLearningConfig: 12% of items for humans, in 2% + 2.5% batches."""
    return json.dumps(
        {
            "max_data_item_percentage": 12,
            "initial_batch_sample_percentage": 2,
            "following_batch_sample_percentage": 2.5,
            "sample_strategy": strategy,
            "max_rounds": max_rounds,
            "plateau_rounds": 0,
            "cost_per_label": 0.05,
        }
    )


#: Seeds of the demo's active-learning versus random-sampling comparison (the report's learning curves).
COMPARISON_SEEDS = 3


@dataclass(frozen=True)
class DemoRun:
    """Where a demo run left its outputs."""

    workdir: str
    report: str
    summary: dict


@dataclass(frozen=True)
class DemoPlan:
    """The demo's data written and its run prepared: call ``pipeline(**arguments)`` to run it."""

    workdir: str
    pipeline_root: str
    pipeline: Any
    arguments: dict


def plan_demo(
    workdir: str = "runs/demo",
    *,
    seed: int = 0,
    max_rounds: int = DEMO_ROUNDS,
    limit: int | None = None,
    round_budget_seconds: int = 6,
    final_budget_seconds: int = 30,
    comparison_seeds: int = COMPARISON_SEEDS,
) -> DemoPlan:
    """Write the demo data in ``workdir``, set kfp.local up, and build the run's pipeline and arguments."""
    from kfp import local

    from ..components.core.demo_data import make_demo_data
    from .active_learning import build_pipeline

    workdir = os.path.abspath(workdir)
    planted = {} if limit is None else {"near_duplicates": limit // 20, "blurred": limit // 40}
    data = make_demo_data(os.path.join(workdir, "data"), seed=seed, limit=limit, **planted)
    state = os.path.join(workdir, "state", time.strftime("%Y%m%d-%H%M%S"))
    root = os.path.join(workdir, "pipeline-root")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    arguments = dict(
        source_uri=data.images_dir,
        labeling_job_spec=labeling_job_spec(DIGITS),
        store_uri=os.path.join(state, "versions"),
        annotation_store_uri=os.path.join(state, "annotations"),
        registry_uri=os.path.join(workdir, "registry"),
        active_learning_config=active_learning_config(max_rounds=max_rounds),
        labeling_backend="simulated",
        ground_truth_uri=data.ground_truth,
        simulated_crowd=json.dumps(CROWD),
        dataset_name="digits",
        model_name="digits-classifier",
        round_budget_seconds=round_budget_seconds,
        final_budget_seconds=final_budget_seconds,
        hamming_threshold=4,  # 8x8 digits upscaled: distinct digits can sit 5-8 bits apart
        **EVALUATION_SPLITS,
        seed=seed,
        comparison_seeds=comparison_seeds,
    )
    return DemoPlan(workdir, root, build_pipeline("local", max_rounds=max_rounds), arguments)


def demo_result(plan: DemoPlan, outputs: Any) -> DemoRun:
    """The report path and headline figures of a finished demo run."""
    return DemoRun(plan.workdir, outputs.outputs["report"].path, dict(outputs.outputs["metrics"].metadata))


def run_demo(workdir: str = "runs/demo", **options: Any) -> DemoRun:
    """Make the demo data in ``workdir`` and run the active-learning pipeline on it locally.

    The run's report sets the default strategy against random sampling on the run's own final
    dataset over ``comparison_seeds`` seeds (same cold start per seed, the run's batch sizes, true
    labels), so the summary can say how many labels each needed for the same accuracy.
    ``limit`` uses only the first digits and fewer planted copies (for quick tests). ``max_rounds``
    sizes both the compiled graph and the config's ``max_rounds`` (the cold start included).
    Options are :func:`plan_demo`'s.
    """
    plan = plan_demo(workdir, **options)
    return demo_result(plan, plan.pipeline(**plan.arguments))


SUMMARY_ORDER = (
    "raw items",
    "rejected at import",
    "removed by prefilter",
    "items in final dataset",
    "human labels paid",
    "labeling spend (USD)",
    "machine-labeled items",
    "why no machine labels",
    "machine-label precision (test)",
    "machine-label precision (truth)",
    "human test labels right (truth)",
    "reviewed evaluation items",
    "relabeled evaluation items",
    "test accuracy",
    "test macro_f1",
    "test au_prc",
    "gate",
    "champion_version",
)
RENAMED = {"champion_version": "registered champion version", "labeling spend (USD)": "labeling spend (USD, ledger)"}
SAVING_PREFIX = "labels to reach it: "


def saving_sentence(summary: dict) -> str:
    """Labels active learning and random sampling needed for the same accuracy, in one sentence."""
    target = next((v for k, v in summary.items() if k.startswith("target ") and k.endswith("(random's final)")), None)
    strategies = {k.removeprefix(SAVING_PREFIX): v for k, v in summary.items() if k.startswith(SAVING_PREFIX)}
    random_labels = strategies.pop("random", None)
    if target is None or random_labels is None or not strategies:
        return ""
    name, labels = next(iter(strategies.items()))
    if labels is None:
        return f"active learning ({name}) did not reach random sampling's final accuracy {target:.3f}"
    saved = summary.get("labels saved vs random (%)")
    tail = f": {saved:.0f}% fewer labels" if isinstance(saved, (int, float)) and saved > 0 else ""
    return (
        f"active learning ({name}) needed {labels:.0f} labels, random sampling {random_labels:.0f}, "
        f"to reach accuracy {target:.3f}{tail}\n{'':<37}(on this run's items with true labels and a logistic "
        f"regression, mean of {COMPARISON_SEEDS} seeds; curves in the report)"
    )


def _figure(key: str, value: float) -> str:
    """A rate with four decimals (1.0 as 1.0000, not 1), anything else in four significant digits."""
    rate = any(word in key for word in ("precision", "right", "accuracy", "f1", "au_prc"))
    return f"{value:.4f}" if rate else f"{value:.4g}"


def format_summary(run: DemoRun) -> str:
    """The lines the demo prints at the end, headline figures first."""
    summary = dict(run.summary)
    if "blessed" in summary:
        summary["gate"] = "blessed" if summary.pop("blessed") else "refused"
    hidden = {k for k in summary if k.startswith((SAVING_PREFIX, "target ", "labels saved"))}
    keys = [k for k in SUMMARY_ORDER if k in summary]
    keys += sorted(k for k in summary if k not in SUMMARY_ORDER and k not in hidden)
    lines = ["", "labelloop demo — summary"]
    for key in keys:
        value = summary[key]
        if isinstance(value, float):
            value = f"{value:,.2f}" if key == "labeling spend (USD)" else _figure(key, value)
        value = textwrap.fill(str(value), width=100, subsequent_indent=" " * 37, break_on_hyphens=False)
        lines.append(f"  {RENAMED.get(key, key):<34} {value}")
    sentence = saving_sentence(run.summary)
    if sentence:
        lines.append(f"  {'label saving':<34} {sentence}")
    lines.append(f"  {'run report':<34} {Path(run.report).resolve()}")
    return "\n".join(lines)
