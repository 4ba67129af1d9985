"""A static lint for compiled Vertex pipeline specs: what Vertex would refuse or run wrongly.

Vertex's client-side checks accept almost anything (no parameters at all, ``"ten"`` for an int); the
failures come at run time, some after AutoML budget is spent. This lint reads the compiled
``PipelineSpec`` and reports, per task:

- ``required-input``: a Google Cloud Pipeline Components (GCPC) op's required input (from the
  installed GCPC component spec: no default, not optional) is unbound or bound to ``""``/null. A
  binding is followed through pipeline parameters and sub-DAGs up to the root's defaults; an
  upstream output, a runtime placeholder (``{{$.pipeline_google_cloud_project_id}}``) or a root
  parameter the user must give all count as bound.
- ``empty-resource-input``: ``project`` or ``location`` reaches a GCPC op as ``""`` (even where GCPC
  marks it optional; a target column is caught as a required input of the tabular ops), or a
  registry input is passed ``""`` to any step (on Vertex an empty registry means "no champion", so
  every model would be blessed against value thresholds alone).
- ``hard-coded-location``: a GCPC op's ``location`` is a literal region instead of a pipeline
  parameter (one location for every Vertex step).
- ``ungated-deploy``: GCPC's ``endpoint-create`` or ``model-deploy`` in a pipeline: a new endpoint
  per run, a deploy no gate decided (use ``vertex_steps.add_gate_and_deploy``, one endpoint per model).
- ``foreign-image``: a container (or a custom job's worker pool) runs an image other than the
  configured one (GCPC's own launcher image is allowed).
- ``local-path``, ``file-scheme``, ``credential``: a constant or default that only works on the
  machine that compiled it, or that leaks a secret into the spec.

Pure: reads dicts; GCPC is imported only to read its component specs.
See https://cloud.google.com/vertex-ai/docs/pipelines/build-pipeline and
https://cloud.google.com/vertex-ai/docs/pipelines/gcpc-list for the placeholders and ops.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

#: GCPC modules whose ops labelloop's Vertex pipelines may use (importing all of GCPC takes seconds).
GCPC_MODULES = (
    "google_cloud_pipeline_components.v1.automl.training_job",
    "google_cloud_pipeline_components.v1.batch_predict_job",
    "google_cloud_pipeline_components.v1.custom_job",
    "google_cloud_pipeline_components.v1.dataset",
    "google_cloud_pipeline_components.v1.endpoint",
    "google_cloud_pipeline_components.v1.hyperparameter_tuning_job",
    "google_cloud_pipeline_components.v1.model",
    "google_cloud_pipeline_components.v1.wait_gcp_resources",
)
GCPC_IMAGE_PREFIX = "gcr.io/ml-pipeline/google-cloud-pipeline-components:"
#: Runtime placeholders Vertex fills in; see https://cloud.google.com/vertex-ai/docs/pipelines/build-pipeline
PROJECT_PLACEHOLDER = "{{$.pipeline_google_cloud_project_id}}"
LOCATION_PLACEHOLDER = "{{$.pipeline_google_cloud_location}}"
RESOURCE_INPUT = re.compile(r"^(project|location)$")
REGISTRY_INPUT = re.compile(r"registry")
SECRET_NAME = re.compile(r"(?i)(api[_-]?key|token|password|passwd|secret|credential|private[_-]?key)")
SECRET_RESOURCE = re.compile(r"^projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?$")
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY|\bya29\.|\bAIza[0-9A-Za-z_-]{30,}|\"type\":\s*\"service_account\""
)
LOCAL_PATH = re.compile(r"^(~/|\.\.?/|/(?!gcs/)[^{ ]|[A-Za-z]:\\)")


@dataclass(frozen=True)
class Finding:
    """One problem: the pipeline, the task path (``root/condition-1/automl-image-training-job``), a rule, why."""

    pipeline: str
    task: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.pipeline}: {self.task}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class Binding:
    """Where one input's value comes from, after following pipeline parameters up to the root.

    ``kind`` is one of ``constant``, ``placeholder``, ``upstream``, ``root-default``, ``root-required``
    (the user must give it), ``component-default``, ``loop-item`` or ``unbound``.
    """

    kind: str
    value: object = None
    via: str = ""

    @property
    def empty(self) -> bool:
        """Bound to nothing, or to a value Vertex cannot use (``""``, null, only blanks)."""
        if self.kind == "unbound":
            return True
        if self.kind in ("constant", "root-default", "component-default"):
            return self.value is None or (isinstance(self.value, str) and not self.value.strip())
        return False

    def describe(self) -> str:
        where = f" (via {self.via})" if self.via else ""
        if self.kind == "unbound":
            return f"unbound{where}"
        if self.kind in ("constant", "root-default", "component-default", "placeholder"):
            return f"{self.kind} {self.value!r}{where}"
        return f"{self.kind}{where}"


@dataclass(frozen=True)
class OpInputs:
    """The inputs of one op: which are required, and each one's default."""

    required: frozenset[str]
    names: frozenset[str]
    image: str = ""


@functools.lru_cache(maxsize=1)
def gcpc_op_inputs() -> dict[str, OpInputs]:
    """The installed GCPC ops by component name (``automl-image-training-job``), from their ComponentSpecs."""
    ops: dict[str, OpInputs] = {}
    for module_name in GCPC_MODULES:
        module = importlib.import_module(module_name)
        for attribute in dir(module):
            spec = getattr(getattr(module, attribute), "component_spec", None)
            if spec is None or not hasattr(spec, "inputs"):
                continue
            inputs = spec.inputs or {}
            required = {name for name, spec_input in inputs.items() if not spec_input.optional}
            container = getattr(getattr(spec, "implementation", None), "container", None)
            ops[spec.name] = OpInputs(frozenset(required), frozenset(inputs), getattr(container, "image", "") or "")
    return ops


def compiled_op_inputs(component: dict) -> OpInputs:
    """Required inputs as the compiled component declares them (for generated custom-job wrappers)."""
    definitions = component.get("inputDefinitions", {})
    names, required = set(), set()
    for kind in ("parameters", "artifacts"):
        for name, definition in definitions.get(kind, {}).items():
            names.add(name)
            if not definition.get("isOptional") and "defaultValue" not in definition:
                required.add(name)
    return OpInputs(frozenset(required), frozenset(names))


def _strip_suffix(component_name: str) -> Iterator[str]:
    """``comp-automl-image-training-job-2`` → ``automl-image-training-job-2``, ``automl-image-training-job``."""
    name = component_name.removeprefix("comp-")
    yield name
    while re.search(r"-\d+$", name):
        name = re.sub(r"-\d+$", "", name)
        yield name


class _Spec:
    """Index over one compiled PipelineSpec: components, executors, and who calls each sub-DAG."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.components = {"root": spec.get("root", {}), **spec.get("components", {})}
        self.executors = spec.get("deploymentSpec", {}).get("executors", {})
        self.callers: dict[str, list[tuple[str, str, dict]]] = {}
        for parent, component in self.components.items():
            for task_name, task in component.get("dag", {}).get("tasks", {}).items():
                child = task.get("componentRef", {}).get("name", "")
                self.callers.setdefault(child, []).append((parent, task_name, task))

    def task_paths(self) -> Iterator[tuple[str, str, str, dict]]:
        """Every task: (path, parent component, task name, task), walking down from the root."""

        def walk(component_name: str, prefix: str, seen: tuple[str, ...]):
            if component_name in seen:
                return
            for task_name, task in self.components[component_name].get("dag", {}).get("tasks", {}).items():
                path = f"{prefix}/{task_name}"
                yield path, component_name, task_name, task
                child = task.get("componentRef", {}).get("name", "")
                if "dag" in self.components.get(child, {}):
                    yield from walk(child, path, (*seen, component_name))

        yield from walk("root", "root", ())

    def executor_of(self, component_name: str) -> dict:
        label = self.components.get(component_name, {}).get("executorLabel", "")
        return self.executors.get(label, {})

    # bindings ----------------------------------------------------------------------------------

    def resolve_task_input(self, parent: str, task: dict, name: str, kind: str) -> list[Binding]:
        """Where the task's input ``name`` (``parameters`` or ``artifacts``) gets its value from."""
        bound = task.get("inputs", {}).get(kind, {}).get(name)
        if bound is None:
            iterator = task.get("parameterIterator", {}) or task.get("artifactIterator", {})
            if iterator.get("itemInput") == name:
                return [Binding("loop-item")]
            child = self.components.get(task.get("componentRef", {}).get("name", ""), {})
            definition = child.get("inputDefinitions", {}).get(kind, {}).get(name, {})
            if "defaultValue" in definition:
                return [_constant(definition["defaultValue"], "component-default")]
            return [Binding("unbound")]
        if "runtimeValue" in bound:
            return [_constant(bound["runtimeValue"].get("constant"), "constant")]
        if "componentInputParameter" in bound:
            return self.resolve_component_input(parent, bound["componentInputParameter"], "parameters")
        if "componentInputArtifact" in bound:
            return self.resolve_component_input(parent, bound["componentInputArtifact"], "artifacts")
        for upstream in ("taskOutputParameter", "taskOutputArtifact"):
            if upstream in bound:
                return [Binding("upstream", via=bound[upstream].get("producerTask", ""))]
        if "taskFinalStatus" in bound:
            return [Binding("upstream", via=bound["taskFinalStatus"].get("producerTask", ""))]
        return [Binding("upstream", via=next(iter(bound), ""))]

    def resolve_component_input(self, component_name: str, name: str, kind: str) -> list[Binding]:
        """Follow a DAG input up to every caller and, at the root, to the pipeline parameter's default."""
        if component_name == "root":
            definition = self.components["root"].get("inputDefinitions", {}).get(kind, {}).get(name)
            if definition is None:
                return [Binding("unbound", via=f"root input {name}")]
            if "defaultValue" in definition:
                return [
                    Binding(
                        _placeholder_or(definition["defaultValue"], "root-default"),
                        definition["defaultValue"],
                        f"pipeline parameter {name}",
                    )
                ]
            return [Binding("root-required", via=f"pipeline parameter {name}")]
        callers = self.callers.get(component_name, [])
        if not callers:
            return [Binding("unbound", via=f"{component_name} input {name}")]
        bindings = []
        for parent, _, task in callers:
            bindings.extend(self.resolve_task_input(parent, task, name, kind))
        return bindings


def _placeholder_or(value, kind: str) -> str:
    return "placeholder" if isinstance(value, str) and "{{$." in value else kind


def _constant(value, kind: str) -> Binding:
    return Binding(_placeholder_or(value, kind), value)


def _is_gcpc(executor: dict) -> bool:
    return executor.get("container", {}).get("image", "").startswith(GCPC_IMAGE_PREFIX)


def _is_custom_job(executor: dict) -> bool:
    args = executor.get("container", {}).get("args", [])
    return any(a == "CustomJob" and b == "--type" for b, a in zip(args, args[1:], strict=False))


def _op_inputs(component_name: str, component: dict, executor: dict) -> tuple[OpInputs, str]:
    """The op's inputs from the installed GCPC spec, or from the compiled wrapper for custom jobs."""
    ops = gcpc_op_inputs()
    if not _is_custom_job(executor) or component_name.removeprefix("comp-").startswith("custom-training-job"):
        for candidate in _strip_suffix(component_name):
            if candidate in ops:
                return ops[candidate], f"GCPC {candidate}"
    return compiled_op_inputs(component), "compiled custom-job wrapper"


def _input_kind(component: dict, name: str) -> str:
    artifacts = component.get("inputDefinitions", {}).get("artifacts", {})
    return "artifacts" if name in artifacts else "parameters"


def _lint_gcpc_task(index: _Spec, pipeline: str, path: str, parent: str, task: dict) -> Iterator[Finding]:
    component_name = task.get("componentRef", {}).get("name", "")
    component = index.components.get(component_name, {})
    op, source = _op_inputs(component_name, component, index.executor_of(component_name))
    for name in sorted(op.required):
        bindings = index.resolve_task_input(parent, task, name, _input_kind(component, name))
        empty = [b for b in bindings if b.empty]
        if empty:
            yield Finding(
                pipeline,
                path,
                "required-input",
                f"required input {name!r} ({source}) is {', '.join(b.describe() for b in empty)}; bind it to a "
                "non-empty value, a pipeline parameter the user must give, a placeholder or an upstream output",
            )
    declared = set(component.get("inputDefinitions", {}).get("parameters", {}))
    for name in sorted(n for n in declared if RESOURCE_INPUT.match(n) and n not in op.required):
        bindings = index.resolve_task_input(parent, task, name, "parameters")
        empty = [b for b in bindings if b.empty]
        if empty:
            yield Finding(
                pipeline,
                path,
                "empty-resource-input",
                f"{name!r} reaches the GCPC op as {', '.join(b.describe() for b in empty)}",
            )
    if "location" in declared:
        for binding in index.resolve_task_input(parent, task, "location", "parameters"):
            literal = binding.kind in ("constant", "component-default") and not binding.empty
            if literal:
                yield Finding(
                    pipeline,
                    path,
                    "hard-coded-location",
                    f"location is the literal {binding.value!r} ({binding.kind}); bind it to the pipeline's "
                    f"location parameter (or {LOCATION_PLACEHOLDER})",
                )


#: GCPC ops that, in a scheduled pipeline, pile up endpoints or deploy what no gate decided.
UNGATED_DEPLOY_OPS = {
    "endpoint-create": "creates a new endpoint on every run",
    "model-deploy": "deploys without the promotion gate",
}


def _lint_deploy_ops(pipeline: str, path: str, component_name: str) -> Iterator[Finding]:
    op = next((c for c in _strip_suffix(component_name) if c in UNGATED_DEPLOY_OPS), None)
    if op:
        yield Finding(
            pipeline,
            path,
            "ungated-deploy",
            f"GCPC {op} {UNGATED_DEPLOY_OPS[op]}; deploy with vertex_steps.add_gate_and_deploy "
            "(gated, one endpoint per model, reused)",
        )


def _lint_registry_inputs(index: _Spec, pipeline: str, path: str, parent: str, task: dict) -> Iterator[Finding]:
    for name in sorted(task.get("inputs", {}).get("parameters", {})):
        if REGISTRY_INPUT.search(name):
            empty = [b for b in index.resolve_task_input(parent, task, name, "parameters") if b.empty]
            if empty:
                yield Finding(
                    pipeline,
                    path,
                    "empty-resource-input",
                    f"{name!r} is {', '.join(b.describe() for b in empty)}: on Vertex the step would find no "
                    "champion and gate against value thresholds alone",
                )


def _strings(value, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) inside a JSON-like value, keyed by the nearest dict key."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)


def _worker_pool_images(value) -> Iterator[str]:
    for pool in value if isinstance(value, list) else []:
        image = (pool or {}).get("container_spec", {}).get("image_uri")
        if image:
            yield image


def _value_findings(pipeline: str, where: str, name: str, value) -> Iterator[Finding]:
    """Local paths, ``file:`` URIs and credentials in one constant or default."""
    if name == "worker_pool_specs":  # code and commands live here; only images and env matter
        value = [{"env": (p or {}).get("container_spec", {}).get("env", [])} for p in value or []]
    for key, text in _strings(value, name):
        label = key if key == name else f"{name}.{key}"
        if text.lower().startswith("file:"):
            yield Finding(
                pipeline, where, "file-scheme", f"{label} is {text!r}: Vertex cannot read file: URIs; use gs://"
            )
        elif LOCAL_PATH.match(text):
            yield Finding(pipeline, where, "local-path", f"{label} is the local path {text!r}; use gs:// or /gcs/")
        if SECRET_VALUE.search(text) or (
            SECRET_NAME.search(key) and text.strip() and "{{$." not in text and not SECRET_RESOURCE.match(text)
        ):
            yield Finding(
                pipeline,
                where,
                "credential",
                f"{label} holds what looks like a credential; pass a Secret Manager version name instead",
            )


def _lint_values(index: _Spec, pipeline: str) -> Iterator[Finding]:
    root_parameters = index.components["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, definition in root_parameters.items():
        if "defaultValue" in definition:
            yield from _value_findings(pipeline, f"pipeline parameter {name}", name, definition["defaultValue"])
    for component_name, component in index.components.items():
        for name, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
            if "defaultValue" in definition and component_name != "root":
                yield from _value_findings(pipeline, f"{component_name} default", name, definition["defaultValue"])
    for path, _, _, task in index.task_paths():
        for name, bound in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in bound:
                yield from _value_findings(pipeline, path, name, bound["runtimeValue"].get("constant"))
    for label, executor in index.executors.items():
        importer = executor.get("importer", {})
        if importer:
            uri = importer.get("artifactUri", {}).get("runtimeConstant")
            yield from _value_findings(pipeline, f"executor {label}", "artifactUri", uri)
        for variable in executor.get("container", {}).get("env", []):
            yield from _value_findings(pipeline, f"executor {label}", variable.get("name", ""), variable.get("value"))


def _gcpc_own_image(component_name: str) -> str:
    """The image an installed GCPC op ships with (some, like ``get-vertex-dataset``, use a plain Python image)."""
    ops = gcpc_op_inputs()
    return next((ops[c].image for c in _strip_suffix(component_name) if c in ops), "")


def _lint_images(index: _Spec, pipeline: str, expected_image: str) -> Iterator[Finding]:
    for component_name, component in sorted(index.components.items()):
        label = component.get("executorLabel")
        image = index.executors.get(label, {}).get("container", {}).get("image") if label else None
        allowed = image == expected_image or (image or "").startswith(GCPC_IMAGE_PREFIX)
        if image and not allowed and image != _gcpc_own_image(component_name):
            yield Finding(pipeline, f"executor {label}", "foreign-image", f"runs {image!r}, not {expected_image!r}")
    pools = []
    for component_name, component in index.components.items():
        definition = component.get("inputDefinitions", {}).get("parameters", {}).get("worker_pool_specs", {})
        pools.append((f"{component_name} default", definition.get("defaultValue")))
    for path, _, _, task in index.task_paths():
        bound = task.get("inputs", {}).get("parameters", {}).get("worker_pool_specs", {})
        pools.append((path, bound.get("runtimeValue", {}).get("constant")))
    for where, value in pools:
        for image in _worker_pool_images(value):
            if image != expected_image:
                yield Finding(pipeline, where, "foreign-image", f"custom job runs {image!r}, not {expected_image!r}")


def lint_spec(spec: dict, *, expected_image: str, pipeline: str = "") -> list[Finding]:
    """Every finding in one compiled PipelineSpec (an IR YAML loaded as a dict)."""
    pipeline = pipeline or spec.get("pipelineInfo", {}).get("name", "pipeline")
    index = _Spec(spec)
    findings: list[Finding] = []
    for path, parent, _, task in index.task_paths():
        component_name = task.get("componentRef", {}).get("name", "")
        if _is_gcpc(index.executor_of(component_name)):
            findings.extend(_lint_gcpc_task(index, pipeline, path, parent, task))
            findings.extend(_lint_deploy_ops(pipeline, path, component_name))
        if "executorLabel" in index.components.get(component_name, {}):
            findings.extend(_lint_registry_inputs(index, pipeline, path, parent, task))
    findings.extend(_lint_images(index, pipeline, expected_image))
    findings.extend(_lint_values(index, pipeline))
    return list(dict.fromkeys(findings))


def lint_file(path: str | Path, *, expected_image: str) -> list[Finding]:
    """Every finding in one compiled YAML; the pipeline is named by the file's stem."""
    path = Path(path)
    spec = yaml.safe_load(path.read_text())
    if not isinstance(spec, dict) or "root" not in spec:
        raise ValueError(f"{path} is not a compiled pipeline spec (no 'root'); compile it with `labelloop compile`")
    return lint_spec(spec, expected_image=expected_image, pipeline=path.name)


def lint_files(paths: Iterable[str | Path], *, expected_image: str) -> list[Finding]:
    """Every finding in several compiled YAMLs, in file order."""
    return [finding for path in paths for finding in lint_file(path, expected_image=expected_image)]


def main(argv: list[str] | None = None) -> int:
    """``python -m labelloop.pipelines.vertex_lint --image IMAGE FILE...``: print findings, exit 1 if any."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="the component image the pipelines were compiled for")
    parser.add_argument("files", nargs="+", help="compiled *.vertex.yaml files")
    args = parser.parse_args(argv)
    findings = lint_files(args.files, expected_image=args.image)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {len(args.files)} file(s)")
    return 1 if findings else 0


def input_bindings(
    spec: dict, names: Iterable[str], *, parameter_values: dict | None = None, gcpc_only: bool = False
) -> list[tuple[str, str, Binding]]:
    """(task path, input, binding) for each named input of every task (or GCPC task), as a run would resolve it.

    ``parameter_values`` are the run's ``runtimeConfig.parameterValues``: they replace the root
    defaults, so this shows what a submitted run actually hands each Vertex op.
    """
    spec = dict(spec)
    root = dict(spec.get("root", {}))
    definitions = {k: dict(v) for k, v in root.get("inputDefinitions", {}).get("parameters", {}).items()}
    for name, value in (parameter_values or {}).items():
        if name in definitions:
            definitions[name]["defaultValue"] = value
    root["inputDefinitions"] = {**root.get("inputDefinitions", {}), "parameters": definitions}
    spec["root"] = root
    index = _Spec(spec)
    found = []
    for path, parent, _, task in index.task_paths():
        component_name = task.get("componentRef", {}).get("name", "")
        component = index.components.get(component_name, {})
        if gcpc_only and not _is_gcpc(index.executor_of(component_name)):
            continue
        declared = component.get("inputDefinitions", {}).get("parameters", {})
        for name in names:
            if name in declared:
                for binding in index.resolve_task_input(parent, task, name, "parameters"):
                    found.append((path, name, binding))
    return found


if __name__ == "__main__":
    raise SystemExit(main())
