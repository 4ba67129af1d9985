"""Which labeling backend a job uses: the one choice ``label_items`` used to make inline."""

from __future__ import annotations

import json

#: The labeling backends, by the name pipelines and ``label_items`` take.
BACKENDS = ("simulated", "label_studio")


def make_labeler(backend: str, spec, store, *, ground_truth_uri: str, simulated_crowd: str, model_version: str):
    """The labeler for ``backend``: a simulated crowd answering from ``ground_truth_uri``, or Label Studio
    (URL and token from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY, never from parameters)."""
    if backend == "simulated":
        from ..core.simulated_crowd import CrowdConfig
        from .labeler import SimulatedCrowdLabeler

        return SimulatedCrowdLabeler.from_files(
            spec, ground_truth_uri, CrowdConfig.from_dict(json.loads(simulated_crowd))
        )
    if backend == "label_studio":
        from .label_studio import LabelStudioLabeler

        return LabelStudioLabeler.from_env(spec, store, model_version=model_version or "labelloop-model")
    raise ValueError(f"backend must be {' or '.join(repr(b) for b in BACKENDS)}, got {backend!r}")
