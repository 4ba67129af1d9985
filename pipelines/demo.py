"""The demo: the whole active-learning pipeline, locally, on real digit images and a simulated crowd.

``labelloop demo`` writes scikit-learn's handwritten digits as an unlabeled folder of images salted
with near-duplicates, blurred copies and corrupt files, runs the ``active-learning`` pipeline on it
with ``kfp.local``, and ends with a short summary and the path of the HTML run report.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

DIGITS = [str(d) for d in range(10)]
CROWD = {"nLabelers": 5, "accuracy": 0.85, "accuracySpread": 0.1, "noise": "class_dependent", "nSpammers": 1, "seed": 7}


def labeling_job_spec(labels: list[str], *, labeler_count: int = 3, price_usd: float = 0.05) -> str:
    """A DataLabelingJob for image classification of ``labels``, with labelloop's budget settings."""
    return json.dumps(
        {
            "displayName": "labelloop demo: handwritten digits",
            "labelerCount": labeler_count,
            "instructionUri": "gs://labelloop-demo/instructions.pdf",
            "inputsSchemaUri": "gs://google-cloud-aiplatform/schema/datalabelingjob/inputs/image_classification_1.0.0.yaml",
            "inputs": {"annotationSpecs": [{"displayName": label} for label in labels]},
            "annotationLabels": {"team": "demo"},
            "labelloop": {"pricePerLabelUsd": price_usd, "budget": {"maxSpendUsd": 500}},
        }
    )


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


@dataclass(frozen=True)
class DemoRun:
    """Where a demo run left its outputs."""

    workdir: str
    report: str
    summary: dict


def run_demo(
    workdir: str = "runs/demo",
    *,
    seed: int = 0,
    max_rounds: int = DEMO_ROUNDS,
    limit: int | None = None,
    round_budget_seconds: int = 6,
    final_budget_seconds: int = 30,
    compare_random: bool = True,
) -> DemoRun:
    """Make the demo data in ``workdir`` and run the active-learning pipeline on it locally.

    With ``compare_random`` the same pipeline runs a second time with random sampling (its own
    version store, annotations and registry), so the summary sets the default strategy's test
    accuracy beside random sampling's at the same label budget, measured in the same run.
    ``limit`` uses only the first digits and fewer planted copies (for quick tests). ``max_rounds``
    sizes both the compiled graph and the config's ``max_rounds`` (the cold start included).
    """
    from kfp import local

    from ..components.core.demo_data import make_demo_data
    from .active_learning import build_pipeline

    workdir = os.path.abspath(workdir)
    planted = {} if limit is None else {"near_duplicates": limit // 20, "blurred": limit // 40}
    data = make_demo_data(os.path.join(workdir, "data"), seed=seed, limit=limit, **planted)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=os.path.join(workdir, "pipeline-root"))
    pipeline = build_pipeline("local", max_rounds=max_rounds)

    def run(strategy: str, name: str):
        state = os.path.join(workdir, "state", stamp, name)
        return pipeline(
            source_uri=data.images_dir,
            labeling_job_spec=labeling_job_spec(DIGITS),
            store_uri=os.path.join(state, "versions"),
            annotation_store_uri=os.path.join(state, "annotations"),
            registry_uri=os.path.join(workdir, "registry" if name == "default" else f"registry-{name}"),
            active_learning_config=active_learning_config(strategy, max_rounds=max_rounds),
            labeling_backend="simulated",
            ground_truth_uri=data.ground_truth,
            simulated_crowd=json.dumps(CROWD),
            dataset_name="digits",
            model_name="digits-classifier",
            round_budget_seconds=round_budget_seconds,
            final_budget_seconds=final_budget_seconds,
            hamming_threshold=4,  # 8x8 digits upscaled: distinct digits can sit 5-8 bits apart
            seed=seed,
        )

    outputs = run("UNCERTAINTY", "default")
    summary = dict(outputs.outputs["metrics"].metadata)
    if compare_random:
        baseline = dict(run("random", "random").outputs["metrics"].metadata)
        summary["random sampling: human labels (pool)"] = baseline.get("human labels bought (pool)")
        summary["random sampling: test accuracy"] = baseline.get("test accuracy")
    return DemoRun(workdir, outputs.outputs["report"].path, summary)


SUMMARY_ORDER = (
    "raw items",
    "rejected at import",
    "removed by prefilter",
    "items in final dataset",
    "active-learning rounds",
    "human labels bought (pool)",
    "items labeled by human",
    "labeling spend (USD)",
    "machine-labeled items",
    "machine-label precision on test",
    "items left unlabeled",
    "test accuracy",
    "test macro_f1",
    "test au_prc",
    "random sampling: human labels (pool)",
    "random sampling: test accuracy",
    "test log_loss",
    "blessed",
    "champion_version",
)
RENAMED = {"champion_version": "registered champion version"}


def format_summary(run: DemoRun) -> str:
    """The lines the demo prints at the end, headline figures first."""
    keys = [k for k in SUMMARY_ORDER if k in run.summary] + sorted(k for k in run.summary if k not in SUMMARY_ORDER)
    lines = ["", "labelloop demo — summary"]
    for key in keys:
        value = run.summary[key]
        if isinstance(value, float):
            value = f"{value:.4g}"
        lines.append(f"  {RENAMED.get(key, key):<38} {value}")
    lines.append(f"  {'run report':<38} {Path(run.report).resolve()}")
    return "\n".join(lines)
