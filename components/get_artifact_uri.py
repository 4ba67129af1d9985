"""KFP component: an artifact's URI as a string, for ops that take a `gs://` path parameter."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def get_artifact_uri(artifact: dsl.Input[dsl.Artifact]) -> NamedTuple("Outputs", uri=str):
    """Returns the URI of an artifact, e.g. to hand a curated manifest to GCPC's dataset ops.

    Args:
        artifact: Any artifact; on Vertex its URI is a ``gs://`` path under the pipeline root.

    Returns:
        uri: The artifact's URI.
    """
    from collections import namedtuple

    return namedtuple("Outputs", "uri")(artifact.uri)
