"""The time-budgeted search: FLAML proposes candidates, each is fitted within the time left (cost
model, refit reserve), greedy ensemble selection keeps the best average, and its members are
refitted on training + validation. ``fit_quick`` is the active-learning fast path."""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import features as feats
from .candidates import CandidateFit, Design, Prepared, cross_validate_candidate, fit_candidate, prepare, refit_model
from .examples import Examples, Split, check_trainable, concat_splits, holdout, take
from .families import HIST_GB_DEFAULTS, ROW_COST_EXPONENT, Family, build_estimator, families_for, fit_estimator
from .isolation import CandidateTimeout, candidate_timeout, run_with_deadline, start_fork_server
from .models import EnsembleChoice, SoftVotingEnsemble, TrainedModel, greedy_ensemble
from .prediction import score_of
from .tasks import TrainingError, encode_targets, is_multilabel, is_regression, label_set


@dataclass(frozen=True)
class Trial:
    family: str
    params: dict
    score: float | None
    seconds: float
    status: str  # "ok", "stopped_at_budget", "failed: …"


@dataclass(frozen=True)
class SearchResult:
    """The best model and the record of every candidate the search looked at."""

    model: TrainedModel
    validation_score: float
    trials: tuple[Trial, ...]
    seconds: float
    budget_seconds: float
    selection: str  # how the model was selected
    skipped_over_budget: int = 0
    refit: str = "training+validation"  # or "training only: <why the refit failed>"
    refit_seconds: float = 0.0
    heldout: HeldOutPredictions | None = None

    def summary(self) -> dict:
        return {
            "family": self.model.family,
            "params": self.model.params,
            "validation_score": self.validation_score,
            "trials": len(self.trials),
            "trials_fitted": sum(t.status == "ok" for t in self.trials),
            "trials_skipped_over_budget": self.skipped_over_budget,
            "search_seconds": round(self.seconds, 3),
            "budget_seconds": self.budget_seconds,
            "selection": self.selection,
            "refit": self.refit,
            "refit_seconds": round(self.refit_seconds, 3),
        }


@dataclass(frozen=True)
class HeldOutPredictions:
    """The chosen model's predictions on labeled items its fits did not see, for calibration.

    The final model is refitted on training + validation, so its own predictions on validation
    items are in-sample (a 20-of-20 validation score says nothing). These are the selection
    predictions instead: from fits on the training split scored on the validation split (or
    out-of-fold under cross-validation), averaged with the ensemble's weights.

    Attributes:
        ids: item ids, one per row.
        probabilities: ``(len(ids), len(labels))`` class probabilities (predicted values for regression).
        fitted_on: what the fits that made them saw, e.g. ``"training split"``.
    """

    ids: tuple[str, ...]
    probabilities: np.ndarray
    fitted_on: str

    def by_id(self) -> dict[str, np.ndarray]:
        """Each item's row of probabilities, by item id."""
        return dict(zip(self.ids, self.probabilities))


def heldout_predictions(state: _SearchState, choice: EnsembleChoice, ids: Sequence[str], fitted_on: str):
    """The ensemble ``choice``'s weighted selection predictions, one row per id of the selection design."""
    probabilities = sum(w * state.pool[i].fitted.predicted for i, w in choice.members())
    if len(ids) != len(probabilities):
        raise TrainingError(f"{len(ids)} selection ids for {len(probabilities)} selection predictions")
    return HeldOutPredictions(tuple(ids), np.asarray(probabilities, dtype=np.float64), fitted_on)


@dataclass
class _CostModel:
    """Seconds per unit of cost (trees, rounds) seen so far per family: predicts a fit's time."""

    per_unit: dict = field(default_factory=dict)

    def predict(self, family: Family, params: dict) -> float:
        if family.name not in self.per_unit:
            return 0.0
        units = float(params.get(family.cost_key, 1)) if family.cost_key else 1.0
        return self.per_unit[family.name] * units

    def cheapest(self, families) -> float:
        """The least time any of ``families`` could take; 0 while one of them is untimed."""
        return min(self.per_unit.get(f.name, 0.0) * f.fewest_units for f in families)

    def record(self, family: Family, params: dict, seconds: float) -> None:
        units = float(params.get(family.cost_key, 1)) if family.cost_key else 1.0
        self.per_unit[family.name] = max(self.per_unit.get(family.name, 0.0), seconds / max(units, 1.0))


def _known_labels_only(validation: Split, labels: tuple[str, ...], task: str) -> Split:
    """Validation rows whose label the model can predict: with few labels (early active-learning
    rounds) a class may be in validation but not yet in training, and it cannot be scored."""
    if is_regression(task) or is_multilabel(task):
        return validation
    known = set(labels)
    rows = np.array([i for i, target in enumerate(validation.targets) if target in known], dtype=int)
    return validation if len(rows) == len(validation) else take(validation, rows)


def search(
    examples: Examples,
    *,
    budget_seconds: float,
    seed: int = 0,
    extra_labels: Sequence[str] = (),
    start_from: dict | None = None,
    families: Sequence[str] | None = None,
    n_jobs: int = 1,
    cv_folds: int | None = None,
    clock=time.monotonic,
) -> SearchResult:
    """Search model families and hyper-parameters within ``budget_seconds``; return the best model.

    Every candidate is fitted on the training split and scored on the validation split, or, for
    cheap candidates (text), cross-validated on training + validation. Ensemble selection
    (Caruana et al., 2004) then averages the candidates whose predictions together score best; its
    members are refitted on training + validation.

    The budget is strict, as Vertex AutoML's ``budget_milli_node_hours`` is: once a model exists,
    no candidate starts that would leave too little time to refit the current ensemble, a
    candidate still fitting at the deadline is stopped, and a member whose refit would not finish
    in time keeps its training-only fit (``SearchResult.refit`` says which). The one exception is
    the first candidate, the kind's default, which runs in this process while the fork server for
    the others starts: a budget shorter than that one fit is overrun by it, and its model is
    returned without a refit.

    Args:
        examples: training/validation inputs (a validation split is carved from training if empty).
        budget_seconds: wall-clock budget of the search and the refits.
        seed: seed for the search and the models.
        extra_labels: labels to include even if absent from training (e.g. the base model's).
        start_from: ``{"family": ..., "params": ...}`` evaluated first (warm start from a base
            model; an ensemble's members are each evaluated first).
        families: restrict the search to these family names.
        n_jobs: cores per candidate for the tree ensembles.
        cv_folds: cross-validation folds for selection (0: the validation split); by default 5
            for text, whose candidates are cheap, else 0.
    """
    started = clock()
    deadline = started + float(budget_seconds)
    task = examples.task
    labels = () if is_regression(task) else label_set(examples.training.targets, task, extra_labels)
    check_trainable(examples, labels)
    start_fork_server()
    folds = default_cv_folds(examples.spec) if cv_folds is None else int(cv_folds)
    if folds < 0 or folds == 1:
        raise TrainingError(
            f"cv_folds must be 0 (rank candidates on the validation split) or at least 2 (k-fold "
            f"cross-validation), got {cv_folds!r}"
        )
    fit_split, validation = examples.training, _known_labels_only(examples.validation, labels, task)
    if folds:
        selection = f"{folds}-fold cross-validation on training+validation, ensemble selection"
    elif len(validation) == 0:
        fit_split, validation = holdout(fit_split, task, 0.2, seed)
        selection = "20% holdout of training (the manifest has no validation items), ensemble selection"
    else:
        selection = "validation split, ensemble selection"
    known = [f for f in families_for(task, examples.spec) if families is None or f.name in families]
    if not known:
        raise TrainingError(f"no model family among {families} for task {task}")
    prepared = prepare(task, examples.spec, fit_split, validation, labels)
    state = _SearchState(task, {f.name: f for f in known}, prepared, len(labels), seed, n_jobs, deadline, clock, folds)
    starts = _starting_points(known, start_from)
    state.evaluate(starts[0])  # always runs: even a tiny budget gets the kind's default
    _run_tuner(state, starts[1:])
    if state.choice is None:
        raise TrainingError(
            f"no candidate finished within {budget_seconds}s ({len(state.trials)} tried: "
            f"{[t.status for t in state.trials][:5]}); raise budget_seconds"
        )
    heldout = heldout_predictions(
        state,
        state.choice,
        fit_split.ids + validation.ids if folds else validation.ids,
        "other folds of training+validation" if folds else "training split",
    )
    final = _refit_ensemble(state, state.choice)
    from sklearn.pipeline import Pipeline

    estimator = Pipeline([("features", prepared.preprocessor), ("model", final.model)])
    trained = TrainedModel(estimator, task, labels, examples.spec, final.family, final.params)
    return SearchResult(
        trained,
        state.choice.score,
        tuple(state.trials),
        clock() - started,
        float(budget_seconds),
        selection,
        state.skipped,
        final.how,
        final.seconds,
        heldout,
    )


def default_cv_folds(spec: feats.FeatureSpec) -> int:
    """Selection folds for a kind: 5 for text (linear models and naive Bayes fit in a fraction of a
    second, and a few hundred validation texts rank them noisily), else 0 (the validation split)."""
    return 5 if spec.kind == "text" else 0


def _starting_points(known: Sequence[Family], start_from: dict | None) -> list[dict]:
    """Each family's starting point (in ``known``'s order), the warm start first; then sklearn's
    default boosting where it was not already a start (a strong baseline on descriptors)."""
    by_name = {f.name: f for f in known}
    starts = [{"family": {"name": f.name, **f.start}} for f in known]
    if "hist_gb" in by_name and by_name["hist_gb"].start != HIST_GB_DEFAULTS:
        starts.append({"family": {"name": "hist_gb", **HIST_GB_DEFAULTS}})
    warm = [(name, params) for name, params in warm_start_configs(start_from) if name in by_name]
    for name, params in reversed(warm):
        family = by_name[name]
        given = {k: v for k, v in params.items() if k in family.defaults}
        starts.insert(0, {"family": {"name": family.name, **family.defaults, **given}})
    return starts


def warm_start_configs(start_from: dict | None) -> list[tuple[str, dict]]:
    """``(family, params)`` to evaluate first: the base model's, or each member of its ensemble."""
    if not start_from:
        return []
    members = start_from.get("params", {}).get("members")
    if str(start_from.get("family", "")).startswith("ensemble(") and isinstance(members, list):
        return [(m["family"], m.get("params", {})) for m in members if isinstance(m, dict) and "family" in m]
    return [(start_from.get("family", ""), start_from.get("params", {}))]


@dataclass(frozen=True)
class Candidate:
    family: str
    fitted: CandidateFit
    seconds: float


#: The refit reserve is this many times the members' predicted refit time.
REFIT_RESERVE_MARGIN = 1.2
#: Ensemble selection looks at this many of the best-scoring candidates of each family, so that a
#: long search's many near-identical configurations of one family do not crowd out the others.
ENSEMBLE_POOL_PER_FAMILY = 5


@dataclass
class _SearchState:
    """The search's running record: candidates tried, the current ensemble, and the time rules."""

    task: str
    by_name: dict
    prepared: Prepared
    n_labels: int
    seed: int
    n_jobs: int
    deadline: float
    clock: Any
    folds: int = 0  # 0: score on the validation design; else cross-validate on the whole design
    trials: list = field(default_factory=list)
    cost: _CostModel = field(default_factory=_CostModel)
    pool: list = field(default_factory=list)  # Candidate, best score first
    choice: EnsembleChoice | None = None
    skipped: int = 0  # candidates not started because their expected fit time exceeded the budget left

    def selection_design(self) -> Design:
        return self.prepared.all if self.folds else self.prepared.validation

    def one_fit_seconds(self, candidate: Candidate) -> tuple[float, float]:
        """``(seconds, rows)`` of one fit of ``candidate`` (a cross-validated one made ``folds``)."""
        if self.folds:
            return candidate.seconds / self.folds, len(self.prepared.all) * (self.folds - 1) / self.folds
        return candidate.seconds, len(self.prepared.fit)

    def predicted_refit(self, candidate: Candidate) -> float:
        seconds, rows = self.one_fit_seconds(candidate)
        return predicted_refit_seconds(candidate.family, seconds, int(rows), len(self.prepared.all))

    def refit_reserve(self) -> float:
        """Seconds to keep for refitting the current ensemble's members on training + validation,
        with a margin for timing noise on a busy machine."""
        if self.choice is None:
            return 0.0
        return REFIT_RESERVE_MARGIN * sum(self.predicted_refit(self.pool[i]) for i, _ in self.choice.members())

    def time_left(self) -> float:
        return self.deadline - self.clock() - self.refit_reserve()

    def evaluate(self, config: dict) -> dict | None:
        """FLAML's objective: fit one candidate within the time left; ``None`` ends the search."""
        choice = dict(config["family"])
        family = self.by_name[choice.pop("name")]
        choice = {**family.defaults, **choice}
        first = not self.pool and not self.trials
        left = self.time_left()
        if not first and left <= self.cost.cheapest(self.by_name.values()):
            return None  # not even the cheapest configuration of any family fits: stop proposing
        if not first and self.cost.predict(family, choice) > left:
            self.skipped += 1
            return {"score": -1e9}
        job = self._job(family, choice)
        t0 = self.clock()
        try:
            fitted = (
                job()
                if first
                else run_with_deadline(
                    job, candidate_timeout(left, first_of_family=family.name not in self.cost.per_unit)
                )
            )
        except CandidateTimeout:
            self.cost.record(family, choice, self.clock() - t0)
            self.trials.append(Trial(family.name, _plain(choice), None, self.clock() - t0, "stopped_at_budget"))
            return {"score": -1e9}
        except (ValueError, np.linalg.LinAlgError) as err:
            self.trials.append(Trial(family.name, _plain(choice), None, self.clock() - t0, f"failed: {err}"))
            return {"score": -1e9}
        seconds = self.clock() - t0
        self.cost.record(family, choice, seconds)
        self.trials.append(Trial(family.name, _plain(fitted.refit_params), fitted.score, seconds, "ok"))
        self._add(Candidate(family.name, fitted, seconds))
        return {"score": fitted.score}

    def _job(self, family: Family, params: dict):
        """The candidate's fit as a picklable call (boosting stops early on the validation split)."""
        if self.folds:
            return functools.partial(
                cross_validate_candidate,
                self.task,
                family.name,
                params,
                self.prepared.all,
                self.n_labels,
                self.seed,
                self.folds,
                self.n_jobs,
                self.prepared.columns,
            )
        return functools.partial(
            fit_candidate,
            self.task,
            family.name,
            params,
            self.prepared.fit,
            self.prepared.validation,
            self.n_labels,
            self.seed,
            self.n_jobs,
            columns=self.prepared.columns,
        )

    def _add(self, candidate: Candidate) -> None:
        """Keep each family's best candidates and re-run ensemble selection over them."""
        self.pool = diverse_pool([*self.pool, candidate], ENSEMBLE_POOL_PER_FAMILY)
        design = self.selection_design()
        score = functools.partial(score_of, self.task, self.n_labels, design.y, weights=design.weights)
        self.choice = greedy_ensemble([c.fitted.predicted for c in self.pool], lambda p: score(predicted=p))


def diverse_pool(candidates: Sequence, per_family: int) -> list:
    """The best-scoring ``per_family`` candidates of each family, best score first."""
    kept, seen = [], {}
    for candidate in sorted(candidates, key=lambda c: -c.fitted.score):
        seen[candidate.family] = seen.get(candidate.family, 0) + 1
        if seen[candidate.family] <= per_family:
            kept.append(candidate)
    return kept


def _run_tuner(state: _SearchState, starts: list[dict]) -> None:
    """Let FLAML try ``starts`` then propose candidates until the time left (refit reserve
    deducted) runs out."""
    from flaml import tune

    if state.time_left() <= 0:
        return
    space = {"family": tune.choice([{"name": f.name, **f.space} for f in state.by_name.values()])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tune.run(
            state.evaluate,
            config=space,
            metric="score",
            mode="max",
            points_to_evaluate=starts,
            time_budget_s=state.deadline - state.clock(),
            num_samples=-1,
            verbose=0,
        )


def predicted_refit_seconds(family: str, fit_seconds: float, fit_rows: int, all_rows: int) -> float:
    """Expected time to refit a candidate on ``all_rows`` that took ``fit_seconds`` on ``fit_rows``."""
    growth = (all_rows / max(fit_rows, 1)) ** ROW_COST_EXPONENT.get(family, 1.0)
    return 1.1 * fit_seconds * growth


@dataclass(frozen=True)
class _FinalModel:
    model: Any
    family: str
    params: dict
    how: str  # "training+validation", or which members kept their training-only fit and why
    seconds: float


def _refit_ensemble(state: _SearchState, choice: EnsembleChoice) -> _FinalModel:
    """Refit the chosen members on training + validation, heaviest first; a member whose refit
    fails or does not fit in the budget keeps its fit from the search. One member is returned
    as itself, several as a :class:`SoftVotingEnsemble`."""
    t0 = state.clock()
    models, notes = [], []
    for index, _ in choice.members():
        candidate = state.pool[index]
        model, note = _refit_member(state, candidate)
        models.append(model)
        if note:
            notes.append(f"{candidate.family}: {note}")
    members = [(state.pool[i], w) for i, w in choice.members()]
    how = (
        "training+validation" if not notes else f"training only for {len(notes)} of {len(members)}: " + "; ".join(notes)
    )
    if len(members) == 1:
        candidate = members[0][0]
        return _FinalModel(models[0], candidate.family, _plain(candidate.fitted.refit_params), how, state.clock() - t0)
    names = list(dict.fromkeys(c.family for c, _ in members))
    params = {
        "members": [
            {"family": c.family, "params": _plain(c.fitted.refit_params), "weight": round(w, 6)} for c, w in members
        ]
    }
    ensemble = SoftVotingEnsemble(models, [w for _, w in members], state.task, state.n_labels)
    return _FinalModel(ensemble, f"ensemble({'+'.join(names)})", params, how, state.clock() - t0)


#: Refits expected to take less than this run in this process: a child process costs about a
#: second to start and to receive the data, which would dominate a short refit.
IN_PROCESS_REFIT_SECONDS = 2.0


def _refit_member(state: _SearchState, candidate: Candidate):
    """``(model, note)``: the candidate refitted on all rows (note empty), or its search fit and why."""
    predicted = state.predicted_refit(candidate)
    left = state.deadline - state.clock()
    if predicted > left:
        return candidate.fitted.model, f"no time to refit (needs ~{predicted:.1f}s, {max(left, 0):.1f}s left)"
    job = functools.partial(
        refit_model,
        state.task,
        candidate.family,
        candidate.fitted.refit_params,
        state.prepared.all,
        state.seed,
        state.n_jobs,
        state.prepared.columns,
    )
    try:
        return (job() if predicted < IN_PROCESS_REFIT_SECONDS else run_with_deadline(job, left)), ""
    except (CandidateTimeout, ValueError, np.linalg.LinAlgError) as err:
        return candidate.fitted.model, f"refit failed ({err})"


def _plain(params: dict) -> dict:
    """JSON-friendly hyper-parameters (numpy scalars to Python)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}


def fit_quick(examples: Examples, *, extra_labels: Sequence[str] = (), seed: int = 0, C: float = 1.0) -> TrainedModel:
    """One class-balanced logistic regression on training + validation: the active-learning fast path.

    Class balancing keeps small, skewed label sets (a few dozen labels) from collapsing to the
    majority class.
    """
    task = examples.task
    if is_regression(task):
        raise TrainingError("fit_quick is for classification; use search for regression")
    merged = concat_splits(examples.training, examples.validation)
    labels = label_set(merged.targets, task, extra_labels)
    check_trainable(
        Examples(task, examples.spec, merged, examples.validation, examples.test, examples.accounting), labels
    )
    params = {"C": C, "balanced": True}
    estimator = build_estimator(task, examples.spec, "logistic", params, seed=seed)
    fit_estimator(estimator, merged.inputs, encode_targets(merged.targets, labels, task), merged.weights)
    return TrainedModel(estimator, task, labels, examples.spec, "logistic", params)
