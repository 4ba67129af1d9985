"""CLI configuration: flags over environment over a TOML config file over defaults.

The config file is ``--config FILE``, else ``$LABELLOOP_CONFIG``, else
``$XDG_CONFIG_HOME/labelloop/config.toml`` (``~/.config/labelloop/config.toml``) when it exists::

    project = "my-project"
    location = "us-central1"
    pipeline_root = "gs://my-bucket/pipeline-root"
    service_account = "pipelines@my-project.iam.gserviceaccount.com"
    store = "gs://my-bucket/dataset-versions"
    image = "us-docker.pkg.dev/my-project/my-repo/labelloop@sha256:..."  # components' image, used by compile

    [labels]
    team = "vision"

Also here: parsing ``KEY=VALUE`` flags and typing pipeline parameters from a compiled pipeline spec.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """Configuration or usage is wrong; the message says which flag, variable or key to fix."""


@dataclass(frozen=True)
class Setting:
    """Where one setting can come from."""

    flag: str
    env: tuple[str, ...]
    key: str
    default: str | None = None


SETTINGS = {
    "project": Setting("--project", ("LABELLOOP_PROJECT", "GOOGLE_CLOUD_PROJECT"), "project"),
    "location": Setting("--location", ("LABELLOOP_LOCATION",), "location"),
    "pipeline_root": Setting("--pipeline-root", ("LABELLOOP_PIPELINE_ROOT",), "pipeline_root"),
    "service_account": Setting("--service-account", ("LABELLOOP_SERVICE_ACCOUNT",), "service_account"),
    "api_endpoint": Setting("--api-endpoint", ("LABELLOOP_API_ENDPOINT",), "api_endpoint"),
    "kfp_host": Setting("--kfp-host", ("LABELLOOP_KFP_HOST",), "kfp_host"),
    "kfp_experiment": Setting("--kfp-experiment", ("LABELLOOP_KFP_EXPERIMENT",), "kfp_experiment", "labelloop"),
    "store": Setting("--store", ("LABELLOOP_STORE",), "store"),
    "local_root": Setting("--pipeline-root", ("LABELLOOP_LOCAL_ROOT",), "local_root", "local_outputs"),
    "image": Setting("--image", ("LABELLOOP_IMAGE",), "image"),
}
_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Settings:
    """Resolved settings; ``sources`` says where each value came from (flag, env var or file)."""

    values: dict[str, str | None]
    labels: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    config_file: str | None = None

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/labelloop/config.toml``, else ``$HOME/.config/labelloop/config.toml``."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "labelloop" / "config.toml"


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML config file; unknown keys are errors so typos do not pass silently."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create it or drop --config") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: {err}") from None
    known = {s.key for s in SETTINGS.values()} | {"labels"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
        )
    for key, value in data.items():
        if key != "labels" and not isinstance(value, str):
            raise ConfigError(f"config file {path}: {key} must be a string, got {type(value).__name__}")
    if not isinstance(data.get("labels", {}), dict):
        raise ConfigError(f"config file {path}: labels must be a table ([labels])")
    return data


def _config_path(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("LABELLOOP_CONFIG"):
        return Path(environ["LABELLOOP_CONFIG"])
    default = default_config_path(environ)
    return default if default.is_file() else None


def load_settings(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    *,
    config_file: str | None = None,
    flag_labels: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: flags > environment > config file > defaults.

    Args:
        flags: Values given on the command line, by setting name (None when not given).
        environ: The process environment.
        config_file: ``--config`` value, if any.
        flag_labels: ``--label`` values; merged over the config file's ``[labels]``.
    """
    path = _config_path(config_file, environ)
    data = read_config_file(path) if path else {}
    values, sources = {}, {}
    for name, setting in SETTINGS.items():
        value, source = _resolve(name, setting, flags, environ, data, path)
        values[name], sources[name] = value, source
    labels = {**{str(k): str(v) for k, v in data.get("labels", {}).items()}, **dict(flag_labels or {})}
    check_labels(labels)
    return Settings(values, labels, sources, str(path) if path else None)


def _resolve(name, setting, flags, environ, data, path) -> tuple[str | None, str]:
    if flags.get(name):
        return flags[name], setting.flag
    for var in setting.env:
        if environ.get(var):
            return environ[var], f"${var}"
    if data.get(setting.key):
        return data[setting.key], f"{path} ({setting.key})"
    return setting.default, "default"


def require(settings: Settings, *names: str) -> None:
    """Raise a ConfigError naming the flag, env var and config key for every missing setting."""
    missing = [name for name in names if not settings.get(name)]
    if not missing:
        return
    where = settings.config_file or "~/.config/labelloop/config.toml"
    hints = []
    for name in missing:
        setting = SETTINGS[name]
        env = " or ".join(f"${var}" for var in setting.env)
        hints.append(
            f'{name.replace("_", " ")}: pass {setting.flag}, set {env}, or add {setting.key} = "..." to {where}'
        )
    raise ConfigError("missing " + "; ".join(hints))


def check_labels(labels: Mapping[str, str]) -> None:
    """Raise unless every label follows Vertex AI's rules (lowercase, digits, ``_``/``-``, 63 chars)."""
    for key, value in labels.items():
        if not _LABEL.match(key) or not _LABEL_VALUE.match(value):
            raise ConfigError(
                f"label {key}={value} is not a valid Vertex AI label: keys start with a lowercase letter, "
                "keys and values use lowercase letters, digits, '_' and '-', at most 63 characters"
            )


# ---------------------------------------------------------------------------------------------
# KEY=VALUE flags and pipeline parameters


def parse_pairs(pairs: Sequence[str] | None, flag: str) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; a missing ``=`` or a repeated key is an error."""
    parsed: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r} is not KEY=VALUE")
        if key in parsed:
            raise ConfigError(f"{flag} {key} is given twice")
        parsed[key] = value
    return parsed


def spec_parameters(pipeline_spec: Mapping[str, Any]) -> dict[str, dict]:
    """The pipeline's input parameters from a compiled spec (``root.inputDefinitions.parameters``)."""
    return dict(pipeline_spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {}))


def typed_parameters(raw: Mapping[str, str], parameters: Mapping[str, dict], pipeline: str) -> dict[str, Any]:
    """Convert ``--param`` strings to the types the pipeline declares, checking names and required ones.

    Raises:
        ConfigError: for an unknown name, a value of the wrong type or a missing required parameter.
    """
    unknown = sorted(set(raw) - set(parameters))
    if unknown:
        raise ConfigError(
            f"pipeline {pipeline} has no parameter(s) {', '.join(unknown)}; "
            f"its parameters: {', '.join(sorted(parameters)) or 'none'}"
        )
    missing = sorted(n for n, p in parameters.items() if not p.get("isOptional") and n not in raw)
    if missing:
        raise ConfigError(f"pipeline {pipeline} needs --param {' --param '.join(m + '=...' for m in missing)}")
    return {name: _convert(name, value, parameters[name].get("parameterType", "STRING")) for name, value in raw.items()}


def _convert(name: str, value: str, kind: str) -> Any:
    try:
        if kind == "NUMBER_INTEGER":
            return int(value)
        if kind == "NUMBER_DOUBLE":
            return float(value)
        if kind == "BOOLEAN":
            return _boolean(value)
        if kind in ("LIST", "STRUCT"):
            return _json_of(value, list if kind == "LIST" else dict)
    except ValueError as err:
        raise ConfigError(f"--param {name}={value}: expected {kind.lower().replace('number_', '')} ({err})") from None
    return value


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError("use true or false")


def _json_of(value: str, kind: type) -> Any:
    parsed = json.loads(value)
    if not isinstance(parsed, kind):
        raise ValueError(f"give a JSON {'array' if kind is list else 'object'}")
    return parsed
