"""One port vocabulary over every discovered component (issue 13, point 3).

- The item manifest is ``items``; role names only where a component has two manifests on one side,
  or reads ``items`` and so cannot name its output ``items`` too (a KFP component's inputs and
  outputs share one namespace): the closed list ``MANIFEST_ROLES``; a component reading several
  steps' outputs (the run report) prefixes the role with the step: ``prefilter_kept``.
- Every Metrics output is ``metrics``; every report is an HTML output ``report``; no Markdown.
- Named outputs, never the bare ``Output``, except where a ``dsl.If`` guards on the value:
  kfp 2.17's local orchestrator resolves only ``<task>-Output`` in a condition (checked; see
  ``record_round``'s docstring).
- Artifact metadata counts the items under one key, ``item_count``.
"""

import inspect
import re

import pytest
from labelloop.pipelines.compiling import discover_components

COMPONENTS = discover_components()

#: Datasets that are not item manifests (predictions, embeddings, raw annotations, round records).
NOT_MANIFESTS = {"predictions", "embeddings", "annotations", "rounds", "previous_rounds", "baseline_rounds"}
#: Role names a manifest may take instead of ``items`` (see the module docstring).
MANIFEST_ROLES = {
    "kept",
    "rejects",
    "pool",
    "labeled",
    "selected",
    "remaining",
    "evaluation_pending",
    "machine_labeled",
    "split",
    "merged",
    "versioned",
    "suspects",
}
#: Steps whose outputs a component reading several steps (the run report) names by step: ``prefilter_kept``.
PRODUCING_STEPS = {"import", "prefilter"}
#: Components whose single output is read by a ``dsl.If`` (kfp.local resolves only ``Output`` there).
CONDITION_OUTPUTS = {"record_round", "gate_model"}
#: Components whose single output a ``dsl.ParallelFor`` fans out over (kfp.local resolves only ``Output`` there too).
LOOP_OUTPUTS = {"shard_items"}
COUNT_KEYS = re.compile(r"metadata(?:\.update\(\s*\{|\[)[^)]*?[\"'](count|items|counts)[\"']\s*[:\]]", re.S)


def _ports(component, side):
    ports = getattr(component.component_spec, side) or {}
    return {name: str(spec.type) for name, spec in ports.items()}


def _manifests(ports):
    return {n for n, t in ports.items() if t.startswith("system.Dataset") and n not in NOT_MANIFESTS}


def test_the_discovery_finds_every_component_file():
    assert len(COMPONENTS) >= 20 and "record_round" in COMPONENTS


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_manifests_are_items_or_a_role(name):
    inputs, outputs = _ports(COMPONENTS[name], "inputs"), _ports(COMPONENTS[name], "outputs")
    ins, outs = _manifests(inputs), _manifests(outputs)
    for port in ins | outs:
        step, _, role = port.partition("_")
        by_step = step in PRODUCING_STEPS and role in MANIFEST_ROLES
        assert port == "items" or port in MANIFEST_ROLES or by_step, (
            f"{name}: manifest port {port!r} is neither items nor a role (nor a step's role, e.g. prefilter_kept)"
        )
    if len(ins) == 1:
        assert ins == {"items"}, f"{name}: its one manifest input must be called items, not {ins}"
    if not ins and len(outs - {"rejects"}) == 1:
        assert outs - {"rejects"} == {"items"}, f"{name}: its one manifest output must be called items"


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_metrics_reports_and_named_outputs(name):
    outputs = _ports(COMPONENTS[name], "outputs")
    metrics = [n for n, t in outputs.items() if t.startswith("system.Metrics")]
    assert metrics in ([], ["metrics"]), f"{name}: Metrics outputs {metrics} must be one called metrics"
    assert not [n for n, t in outputs.items() if t.startswith("system.Markdown")], f"{name}: reports are HTML"
    reports = [n for n, t in outputs.items() if t.startswith("system.HTML")]
    assert reports in ([], ["report"]), f"{name}: HTML outputs {reports} must be one called report"
    assert "report" not in outputs or outputs["report"].startswith("system.HTML"), f"{name}: report must be HTML"
    if name in CONDITION_OUTPUTS | LOOP_OUTPUTS:
        assert "Output" in outputs, f"{name}: its condition or loop output must stay Output (see CONDITION_OUTPUTS)"
    else:
        assert "Output" not in outputs, f"{name}: name its output (-> NamedTuple('Outputs', what=...))"


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_metadata_counts_use_item_count(name):
    source = inspect.getsource(COMPONENTS[name].python_func)
    assert not COUNT_KEYS.search(source), f"{name}: count items in metadata as item_count"


def test_the_conventions_test_catches_a_stray_name():
    assert _manifests({"dataset": "system.Dataset@0.0.1", "predictions": "system.Dataset@0.0.1"}) == {"dataset"}
    assert COUNT_KEYS.search('x.metadata.update({"items": 3})') and COUNT_KEYS.search('x.metadata["count"] = 1')
