"""Which labeling backend a job uses: the one choice ``label_items`` used to make inline."""

from __future__ import annotations

import json

#: The labeling backends, by the name pipelines and ``label_items`` take.
BACKENDS = ("simulated", "label_studio")


def make_labeler(
    backend: str,
    spec,
    store,
    *,
    ground_truth_uri: str,
    simulated_crowd: str,
    model_version: str,
    label_studio_url: str = "",
    label_studio_token_secret: str = "",
    reviewers: bool = False,
):
    """The labeler for ``backend``: a simulated crowd answering from ``ground_truth_uri``, or Label Studio
    (its URL a parameter or LABEL_STUDIO_URL; its token from a Secret Manager version or LABEL_STUDIO_API_KEY,
    never a parameter value). With ``reviewers``, the simulated crowd is the settings' ``reviewers`` entry
    (a dispute review); Label Studio reviewers work in the review job's own project."""
    if backend == "simulated":
        from ..core.simulated_crowd import crowd_config
        from .labeler import SimulatedCrowdLabeler

        return SimulatedCrowdLabeler.from_files(
            spec, ground_truth_uri, crowd_config(json.loads(simulated_crowd), reviewers=reviewers)
        )
    if backend == "label_studio":
        from .label_studio import LabelStudioLabeler

        return LabelStudioLabeler.from_env(
            spec,
            store,
            model_version=model_version or "labelloop-model",
            url=label_studio_url,
            token_secret=label_studio_token_secret,
        )
    raise ValueError(f"backend must be {' or '.join(repr(b) for b in BACKENDS)}, got {backend!r}")
