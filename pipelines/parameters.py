"""A pipeline's parameters as people read them: name, type, default and description.

Read from the compiled pipeline (``root.inputDefinitions.parameters``), where KFP keeps each
parameter's type and default and the description from the pipeline docstring's ``Args``, so
``labelloop describe`` and ``labelloop run PIPELINE --help`` show exactly what a run accepts.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPE_NAMES = {
    "STRING": "string",
    "NUMBER_INTEGER": "integer",
    "NUMBER_DOUBLE": "number",
    "BOOLEAN": "boolean",
    "LIST": "JSON list",
    "STRUCT": "JSON object",
}


@dataclass(frozen=True)
class Parameter:
    """One pipeline parameter as a person reads it."""

    name: str
    type: str
    required: bool
    default: str
    description: str


def compiled_spec(name: str, target: str = "local") -> dict:
    """The pipeline spec of ``name``: the packaged compiled YAML, else a fresh compile in memory."""
    import yaml

    from . import compiling, discovery

    info = discovery.get(name)
    path = compiling.pipeline_path(info.name, target)
    if path.is_file():
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    from google.protobuf import json_format

    return json_format.MessageToDict(discovery.build(info, target).pipeline_spec)


def parameters_of(spec: Mapping[str, Any]) -> list[Parameter]:
    """The root parameters of a compiled pipeline spec, required ones first, each group by name."""
    raw = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    found = [
        Parameter(
            name=name,
            type=TYPE_NAMES.get(entry.get("parameterType", "STRING"), entry.get("parameterType", "?").lower()),
            required=not entry.get("isOptional", False),
            default=_shown_default(entry),
            description=" ".join(str(entry.get("description", "")).split()),
        )
        for name, entry in raw.items()
    ]
    return sorted(found, key=lambda p: (not p.required, p.name))


def _shown_default(entry: Mapping[str, Any]) -> str:
    if "defaultValue" not in entry:
        return ""
    value = entry["defaultValue"]
    if entry.get("parameterType") == "NUMBER_INTEGER" and isinstance(value, float) and value.is_integer():
        value = int(value)  # the compiled spec stores every number as a double
    if isinstance(value, str):
        return json.dumps(value) if value == "" or len(value) > 60 else value
    return json.dumps(value)


def render(name: str, spec: Mapping[str, Any], *, width: int = 100) -> str:
    """The text ``labelloop describe`` prints: the pipeline's description, then each parameter."""
    info = spec.get("pipelineInfo", {})
    lines = [f"{name}: {info.get('description', '')}".rstrip(), "", "parameters (--param NAME=VALUE):"]
    for parameter in parameters_of(spec):
        status = "required" if parameter.required else f"default: {parameter.default}"
        lines.append(f"  {parameter.name}  ({parameter.type}, {status})")
        if parameter.description:
            lines += textwrap.wrap(
                parameter.description, width=width, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
    return "\n".join(lines)
