"""Every default defined once: pipelines, components and core agree for every shared parameter name.

Also: the unroll depth and the configured ``max_rounds`` come from one value, and a config asking
for more rounds than the compiled graph holds is refused with a clear error.
"""

import json
from collections import defaultdict

import pytest
from labelloop.components.core import active_learning as al
from labelloop.components.core import blur, gate, image_checks, import_data, prefilter, round_decisions, split
from labelloop.pipelines import compiling, steps
from labelloop.pipelines.active_learning import build_pipeline as build_active_learning

#: Where a default is a core decision, the core's value.
CORE = {
    "max_reject_rate": import_data.ImportOptions.max_reject_rate,
    "min_items_per_label": import_data.ImportOptions.min_items_per_label,
    "hamming_threshold": prefilter.DEFAULT_HAMMING_THRESHOLD,
    "blur_threshold": blur.DEFAULT_THRESHOLD,
    "min_side": image_checks.DecodeLimits.min_width,
    "min_width": image_checks.DecodeLimits.min_width,
    "min_height": image_checks.DecodeLimits.min_height,
    "max_pixels": image_checks.DecodeLimits.max_pixels,
    "split_method": split.SplitSpec.method,
    "method": split.SplitSpec.method,
    "training_fraction": split.SplitSpec.fractions[0],
    "validation_fraction": split.SplitSpec.fractions[1],
    "test_fraction": split.SplitSpec.fractions[2],
    "strategy": al.ActiveLearningConfig.sample_strategy,
    "gate_config": gate.DEFAULT_CONFIG,
}
#: Component parameters that are the pipelines' parameters under another name.
ALIASES = {
    "backend": "labeling_backend",
    "max_fraction": "max_relabel_fraction",
    "method": "split_method",
    "min_width": "min_side",
    "min_height": "min_side",
}
#: Same name, deliberately different default, and why.
EXCEPTIONS = {
    # retrain is scheduled: it buys no labels unless asked; the labeling pipelines default to people.
    ("retrain", "labeling_backend"): "none",
}


def _holders():
    """{parameter name: {holder: default}} over every pipeline (both targets) and every component."""
    found = defaultdict(dict)
    for name, module in compiling.discover_pipelines().items():
        for target in compiling.TARGETS:
            for param, spec in (module.build_pipeline(target).component_spec.inputs or {}).items():
                if spec.default is not None and (name, param) not in EXCEPTIONS:
                    found[param][f"pipeline {name} ({target})"] = spec.default
    for name, component in compiling.discover_components().items():
        for param, spec in (component.component_spec.inputs or {}).items():
            # "" in a component means "not given" (no store, no registry lookup), not a competing default
            if spec.default is not None and spec.default != "":
                found[ALIASES.get(param, param)][f"component {name}"] = spec.default
    return found


def _normal(value):
    """JSON strings compare by content (the gate config), everything else as is."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:  # a placeholder such as {{$.pipeline_job_name}}
            return value
    return value


def test_shared_parameter_defaults_agree_with_each_other_and_the_core():
    disagreements = []
    for param, defaults in sorted(_holders().items()):
        values = {json.dumps(_normal(v), sort_keys=True) for v in defaults.values()}
        if param in CORE:
            values.add(json.dumps(CORE[param], sort_keys=True))
        if param == "active_learning_config":  # one per compiled graph size: compare all but max_rounds
            values = {json.dumps({**json.loads(v), "max_rounds": None}) for v in values}
        if len(values) > 1:
            disagreements.append(f"{param}: {defaults} (core: {CORE.get(param, '-')})")
    assert disagreements == []


def test_the_agreement_check_sees_every_shared_name_it_should():
    holders = _holders()
    for param in ("blur_threshold", "max_reject_rate", "labeling_backend", "gate_config", "budget_seconds", "seed"):
        assert len(holders[param]) >= 2, f"{param} is held by {list(holders[param])}"
    assert EXCEPTIONS[("retrain", "labeling_backend")] != steps.LABELING_BACKEND


def test_the_compiled_graph_and_the_default_config_hold_the_same_rounds():
    pipeline = build_active_learning("local", max_rounds=3)
    config = json.loads(pipeline.component_spec.inputs["active_learning_config"].default)
    assert config["max_rounds"] == 3
    spec = pipeline.pipeline_spec
    plan = spec.root.dag.tasks["plan-labeling"]
    assert plan.inputs.parameters["rounds_in_graph"].runtime_value.constant.number_value == 3
    dags = [spec.root.dag] + [c.dag for c in spec.components.values() if c.HasField("dag")]
    records = [name for dag in dags for name in dag.tasks if name.startswith("record-round")]
    assert len(records) == 3, records  # the cold start + 2 unrolled rounds
    default = build_active_learning("local")
    assert json.loads(default.component_spec.inputs["active_learning_config"].default)["max_rounds"] == steps.MAX_ROUNDS


BUDGET = {"max_data_item_percentage": 20}


@pytest.mark.parametrize(
    "config, message",
    [
        ({**BUDGET, "max_rounds": 8}, "asks for max_rounds=8"),
        (BUDGET, f"asks for max_rounds={al.ActiveLearningConfig.max_rounds}"),  # the core default, not said
    ],
)
def test_a_config_asking_for_more_rounds_than_the_graph_holds_is_refused(config, message):
    from labelloop.components.plan_labeling import plan_labeling

    with pytest.raises(round_decisions.RoundsExceedGraphError, match=message) as raised:
        plan_labeling.python_func(config_json=json.dumps(config), total_items=1000, rounds_in_graph=6)
    assert "holds 6 rounds" in str(raised.value) and "set max_rounds to at most 6" in str(raised.value)
    fits = plan_labeling.python_func(
        config_json=json.dumps({**BUDGET, "max_rounds": 6}), total_items=1000, rounds_in_graph=6
    )
    assert fits.max_rounds == 6 and fits.initial_batch_size > 0
