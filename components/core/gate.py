"""The promotion gate: TFX-style value and change thresholds with a paired bootstrap test.

Value thresholds bound a metric of the challenger (``au_prc >= 0.9``). Change thresholds compare
the challenger with the current champion, both scored on the *same* current test items: the
improvement (challenger minus champion, or the reverse for lower-is-better metrics) is resampled
with a paired bootstrap, and the threshold passes only when the lower end of its confidence
interval clears it. A tie within noise therefore fails. With no champion (first run) only value
thresholds apply.

Config (JSON)::

    {"value_thresholds":  {"au_prc": {"lower_bound": 0.9}, "ece": {"upper_bound": 0.1}},
     "change_thresholds": {"accuracy": {"absolute": 0.0}, "log_loss": {"relative": 0.01}},
     "confidence": 0.95, "resamples": 1000, "seed": 0}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import metrics as met


class GateConfigError(ValueError):
    """The gate configuration is malformed; the message names the field."""


@dataclass(frozen=True)
class ValueThreshold:
    metric: str
    lower_bound: float | None = None
    upper_bound: float | None = None


@dataclass(frozen=True)
class ChangeThreshold:
    """The challenger must improve on the champion by more than ``absolute`` and/or ``relative``."""

    metric: str
    absolute: float | None = None
    relative: float | None = None
    higher_is_better: bool = True


@dataclass(frozen=True)
class GateConfig:
    values: tuple[ValueThreshold, ...] = ()
    changes: tuple[ChangeThreshold, ...] = ()
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Check:
    """The outcome of one threshold, with a sentence saying why."""

    kind: str  # "value" or "change"
    metric: str
    passed: bool
    reason: str
    challenger: float
    champion: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class GateDecision:
    blessed: bool
    checks: tuple[Check, ...]
    has_champion: bool

    def to_dict(self) -> dict:
        return {"blessed": self.blessed, "has_champion": self.has_champion, "checks": [asdict(c) for c in self.checks]}

    def reasons(self) -> list[str]:
        return [f"{'PASS' if c.passed else 'FAIL'} {c.kind} {c.metric}: {c.reason}" for c in self.checks]


def _number(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GateConfigError(f"{where} must be a number, got {value!r}")
    return float(value)


def parse_config(data: dict) -> GateConfig:
    """A :class:`GateConfig` from its JSON form (see the module docstring)."""
    if not isinstance(data, dict):
        raise GateConfigError(f"gate config must be a JSON object, got {type(data).__name__}")
    unknown = set(data) - {"value_thresholds", "change_thresholds", "confidence", "resamples", "seed"}
    if unknown:
        raise GateConfigError(f"unknown gate config keys {sorted(unknown)}")
    values = []
    for metric, bounds in (data.get("value_thresholds") or {}).items():
        extra = set(bounds) - {"lower_bound", "upper_bound"}
        if extra or not bounds:
            raise GateConfigError(
                f"value_thresholds.{metric} takes lower_bound and/or upper_bound, got {sorted(bounds)}"
            )
        values.append(
            ValueThreshold(
                metric,
                _number(bounds.get("lower_bound"), f"value_thresholds.{metric}.lower_bound"),
                _number(bounds.get("upper_bound"), f"value_thresholds.{metric}.upper_bound"),
            )
        )
    changes = []
    for metric, spec in (data.get("change_thresholds") or {}).items():
        extra = set(spec) - {"absolute", "relative", "direction"}
        if extra or not ({"absolute", "relative"} & set(spec)):
            raise GateConfigError(
                f"change_thresholds.{metric} takes absolute and/or relative (and direction), got {sorted(spec)}"
            )
        direction = spec.get("direction", "higher_is_better" if met.higher_is_better(metric) else "lower_is_better")
        if direction not in ("higher_is_better", "lower_is_better"):
            raise GateConfigError(f"change_thresholds.{metric}.direction must be higher_is_better or lower_is_better")
        changes.append(
            ChangeThreshold(
                metric,
                _number(spec.get("absolute"), f"change_thresholds.{metric}.absolute"),
                _number(spec.get("relative"), f"change_thresholds.{metric}.relative"),
                direction == "higher_is_better",
            )
        )
    confidence = float(data.get("confidence", 0.95))
    if not 0.5 <= confidence < 1.0:
        raise GateConfigError(f"confidence must be in [0.5, 1), got {confidence}")
    return GateConfig(
        tuple(values), tuple(changes), confidence, int(data.get("resamples", 1000)), int(data.get("seed", 0))
    )


def check_value(threshold: ValueThreshold, value: float) -> Check:
    problems = []
    if np.isnan(value):
        problems.append("is undefined on this test split")
    if threshold.lower_bound is not None and not value >= threshold.lower_bound:
        problems.append(f"{value:.4f} < lower bound {threshold.lower_bound}")
    if threshold.upper_bound is not None and not value <= threshold.upper_bound:
        problems.append(f"{value:.4f} > upper bound {threshold.upper_bound}")
    reason = "; ".join(problems) or f"{value:.4f} within bounds"
    return Check("value", threshold.metric, not problems, reason, float(value))


def paired_bootstrap(y, challenger, champion, function, *, resamples: int, seed: int):
    """Resampled (challenger value, champion value) pairs on the same resampled test items."""
    rng = np.random.default_rng(seed)
    pairs = np.empty((resamples, 2))
    for i in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        pairs[i] = function(y[rows], challenger[rows]), function(y[rows], champion[rows])
    return pairs


def check_change(threshold: ChangeThreshold, y, challenger, champion, function, config: GateConfig) -> Check:
    """Pass when the lower CI bound of the improvement clears every set threshold."""
    new, old = function(y, challenger), function(y, champion)
    pairs = paired_bootstrap(y, challenger, champion, function, resamples=config.resamples, seed=config.seed)
    sign = 1.0 if threshold.higher_is_better else -1.0
    alpha = (1.0 - config.confidence) / 2
    improvement = sign * (pairs[:, 0] - pairs[:, 1])
    low, high = np.nanquantile(improvement, [alpha, 1 - alpha])
    problems, facts = (
        [],
        [
            f"challenger {new:.4f} vs champion {old:.4f}",
            f"{config.confidence:.0%} CI of improvement [{low:+.4f}, {high:+.4f}]",
        ],
    )
    if threshold.absolute is not None and not low > threshold.absolute:
        problems.append(f"improvement not surely > {threshold.absolute} (within noise or worse)")
    if threshold.relative is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = improvement / np.abs(pairs[:, 1])
        rel_low = float(np.nanquantile(relative, alpha)) if np.isfinite(relative).any() else float("nan")
        facts.append(f"relative CI low {rel_low:+.4f}")
        if not rel_low > threshold.relative:
            problems.append(f"relative improvement not surely > {threshold.relative}")
    reason = "; ".join(facts + problems)
    return Check("change", threshold.metric, not problems, reason, float(new), float(old), float(low), float(high))


def decide(
    config: GateConfig, y: np.ndarray, challenger: np.ndarray, champion: np.ndarray | None, task: str
) -> GateDecision:
    """Apply every threshold; ``challenger``/``champion`` are scores on the same test rows as ``y``.

    Scores are class probabilities aligned to one label list (classification) or predicted values
    (regression). With ``champion`` None, change thresholds are skipped (first model).
    """
    if len(y) == 0:
        raise ValueError("the gate needs a non-empty test split to score the challenger on")
    if not config.values and not config.changes:
        raise GateConfigError("the gate has no thresholds; set value_thresholds and/or change_thresholds")
    checks = []
    for threshold in config.values:
        checks.append(check_value(threshold, met.metric_function(threshold.metric, task)(y, challenger)))
    for threshold in config.changes:
        function = met.metric_function(threshold.metric, task)
        if champion is None:
            checks.append(
                Check(
                    "change",
                    threshold.metric,
                    True,
                    "no champion yet: change threshold not applied",
                    float(function(y, challenger)),
                )
            )
        else:
            checks.append(check_change(threshold, y, challenger, champion, function, config))
    return GateDecision(all(c.passed for c in checks), tuple(checks), champion is not None)


#: The promotion gate's default: accuracy at least 0.5, and a confident improvement over the champion.
DEFAULT_CONFIG = {
    "value_thresholds": {"accuracy": {"lower_bound": 0.5}},
    "change_thresholds": {"accuracy": {"absolute": 0.0}},
}
