"""The local AutoML trainer: a time-budgeted search over model families on labelloop features.

``search`` fits the kind's unsupervised preprocessing (TF-IDF, scaling, one-hot) once on the
training + validation inputs, then hands the hyper-parameter search to FLAML's cost-frugal tuner
(``flaml.tune``). The first candidate is the kind's cheap, strong scikit-learn default (SGD on
TF-IDF for text, a linear model on image descriptors, default boosting for tables), fitted in this
process while the fork server for the others starts; the tuner then tries every family's cheap
starting point and grows configurations only while they pay off. Each candidate is fitted on the
training split (with sample weights) in a child process that is killed at the deadline and scored
on the validation split (boosting stops early on it); cheap candidates (text) are instead
cross-validated on training + validation. Greedy ensemble selection (Caruana et al., 2004) over
the candidates' validation (or out-of-fold) predictions picks a weighted soft-voting average; its
members are refitted on training + validation, with time for those refits kept inside the budget
when the budget allows. The test split is never touched.

``fit_quick`` is the fast path for active-learning rounds: one class-balanced logistic regression,
robust with a handful of labels per class.

The package is split along the trainer's seams (each module imports only those above it):

- :mod:`.tasks`: the task vocabulary, ``TrainingError``, label sets and target encoding.
- :mod:`.examples`: ``Split``/``Examples``/``WeightPolicy``, loading from manifests and tables.
- :mod:`.models`: ``TrainedModel``, ``SoftVotingEnsemble``, greedy ensemble selection.
- :mod:`.families`: model families, search spaces, model/preprocessor builders, column plans.
- :mod:`.prediction`: the search's score, model scores, streaming predictions, split scoring.
- :mod:`.isolation`: the fork server and ``run_with_deadline`` (a child process per fit).
- :mod:`.candidates`: preprocessed designs and fitting/cross-validating/refitting one candidate.
- :mod:`.model_search`: ``search`` (tuner, cost model, refit reserve, ensemble refit), ``fit_quick``.

Every public name is re-exported here: ``from labelloop.components.core import train; train.search(...)``.
Model files saved before the split name ``labelloop.components.core.train.SoftVotingEnsemble``;
that path keeps resolving through this re-export (see ``model_io.RENAMED_TYPES``).
"""

from .candidates import (
    CandidateFit,
    Design,
    Prepared,
    cross_validate_candidate,
    fit_candidate,
    prepare,
    refit_model,
)
from .examples import (
    Examples,
    Split,
    WeightPolicy,
    check_trainable,
    concat_splits,
    examples_from_manifest,
    examples_from_table,
    holdout,
    load_examples,
    read_table,
    take,
    text_of,
)
from .families import (
    HIST_GB_DEFAULTS,
    ROW_COST_EXPONENT,
    ColumnPlan,
    Family,
    build_estimator,
    build_model,
    column_plan,
    families_for,
    fit_estimator,
    is_one_vs_rest,
    shared_preprocessor,
)
from .isolation import FORKSERVER_PRELOAD, CandidateTimeout, run_with_deadline
from .model_search import (
    ENSEMBLE_POOL_PER_FAMILY,
    IN_PROCESS_REFIT_SECONDS,
    REFIT_RESERVE_MARGIN,
    Candidate,
    HeldOutPredictions,
    SearchResult,
    Trial,
    default_cv_folds,
    diverse_pool,
    fit_quick,
    heldout_predictions,
    predicted_refit_seconds,
    search,
    warm_start_configs,
)
from .models import EnsembleChoice, SoftVotingEnsemble, TrainedModel, aligned_proba, estimator_scores, greedy_ensemble
from .prediction import (
    PredictionSummary,
    ScoredSplit,
    predict_manifest,
    score_of,
    score_split,
    scores_for,
    validation_score,
)
from .tasks import (
    TASKS,
    TRAINING_USES,
    TrainingError,
    check_task,
    encode_targets,
    feature_kind,
    is_multilabel,
    is_regression,
    label_set,
)

__all__ = [
    "ENSEMBLE_POOL_PER_FAMILY",
    "FORKSERVER_PRELOAD",
    "HIST_GB_DEFAULTS",
    "IN_PROCESS_REFIT_SECONDS",
    "REFIT_RESERVE_MARGIN",
    "ROW_COST_EXPONENT",
    "TASKS",
    "TRAINING_USES",
    "Candidate",
    "CandidateFit",
    "CandidateTimeout",
    "ColumnPlan",
    "Design",
    "EnsembleChoice",
    "Examples",
    "Family",
    "HeldOutPredictions",
    "PredictionSummary",
    "Prepared",
    "ScoredSplit",
    "SearchResult",
    "SoftVotingEnsemble",
    "Split",
    "TrainedModel",
    "TrainingError",
    "Trial",
    "WeightPolicy",
    "aligned_proba",
    "build_estimator",
    "build_model",
    "check_task",
    "check_trainable",
    "column_plan",
    "concat_splits",
    "cross_validate_candidate",
    "default_cv_folds",
    "diverse_pool",
    "encode_targets",
    "estimator_scores",
    "examples_from_manifest",
    "examples_from_table",
    "families_for",
    "feature_kind",
    "fit_candidate",
    "fit_estimator",
    "fit_quick",
    "greedy_ensemble",
    "heldout_predictions",
    "holdout",
    "is_multilabel",
    "is_one_vs_rest",
    "is_regression",
    "label_set",
    "load_examples",
    "predict_manifest",
    "predicted_refit_seconds",
    "prepare",
    "read_table",
    "refit_model",
    "score_of",
    "score_split",
    "scores_for",
    "run_with_deadline",
    "search",
    "shared_preprocessor",
    "take",
    "text_of",
    "validation_score",
    "warm_start_configs",
]
