"""Build-time choice of where a pipeline runs."""

TARGETS = ("local", "vertex")

#: URI schemes items may use: Vertex reads only Cloud Storage; local runs also read local files.
VERTEX_SCHEMES = ["gs"]
LOCAL_SCHEMES = ["gs", "file"]


def check_target(target: str) -> str:
    """Return ``target`` or raise a ValueError naming the choices."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    return target
