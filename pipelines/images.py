"""The container image labelloop's components run in: the user's choice, fixed at compile time.

KFP bakes ``base_image`` into a component when it is decorated, so the components are compiled with
the default image (the package-version tag, ``components/_base.py``) and the compile step rewrites
that image in the compiled spec: every executor that runs labelloop's code gets the configured image;
Google Cloud Pipeline Components ops keep their own. A reference names a registry path with a tag,
a digest (``...@sha256:<64 hex>``) or both; a digest pins the exact image that runs on Vertex.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..components._base import BASE_IMAGE
from .config import ConfigError

#: The image the components are decorated with; the compile step replaces it with the configured one.
DEFAULT_IMAGE = BASE_IMAGE

# The reference grammar of the OCI distribution spec (github.com/distribution/reference), tag or digest required.
_HOST_PART = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
_HOST = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?)"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[^@/\s]+))?$"  # checked against _SHA256 below, for a precise message
)
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


class ImageError(ConfigError):
    """An image reference is malformed; the message says what is wrong and shows a valid form."""


def check_image(image: str) -> str:
    """Return ``image`` when it is a full reference with a tag or a sha256 digest, else raise ImageError.

    Accepted: ``REGISTRY/PATH:TAG``, ``REGISTRY/PATH@sha256:<64 hex>``, ``REGISTRY/PATH:TAG@sha256:<64 hex>``.
    A bare name (implicitly ``:latest``) is refused: the image that runs must be the one that was built.
    """
    example = "e.g. us-docker.pkg.dev/my-project/my-repo/labelloop:0.1.0 or ...@sha256:<64 hex digits>"
    if not isinstance(image, str) or not image.strip():
        raise ImageError(
            f"the container image is empty; give REGISTRY/PATH:TAG or REGISTRY/PATH@sha256:DIGEST, {example}"
        )
    if image != image.strip() or any(ch.isspace() for ch in image):
        raise ImageError(f"container image {image!r} contains whitespace; {example}")
    match = _REFERENCE.match(image)
    if not match:
        raise ImageError(
            f"container image {image!r} is not a valid image reference (registry and path in lowercase letters, "
            f"digits, '.', '_', '-', separated by '/'; then ':TAG' and/or '@sha256:DIGEST'); {example}"
        )
    if match["digest"] and not _SHA256.match(match["digest"]):
        raise ImageError(
            f"container image {image!r}: the digest must be sha256: followed by 64 lowercase hex digits "
            f"(as `docker inspect --format '{{{{index .RepoDigests 0}}}}'` prints it); {example}"
        )
    if not match["tag"] and not match["digest"]:
        raise ImageError(
            f"container image {image!r} has no tag or digest (it would mean ':latest', which moves); "
            f"add ':TAG' or pin '@sha256:DIGEST'; {example}"
        )
    return image


def labelloop_containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(executor name, container spec)`` for every executor in a compiled pipeline or component spec
    that runs labelloop's code (any image but a Google Cloud Pipeline Components one)."""
    for name, executor in spec.get("deploymentSpec", {}).get("executors", {}).items():
        container = executor.get("container")
        if container and not _is_gcpc(container):
            yield name, container


def _is_gcpc(container: Mapping[str, Any]) -> bool:
    image = str(container.get("image", ""))
    command = " ".join(map(str, [*container.get("command", []), *container.get("args", [])]))
    return "google-cloud-pipeline-components" in image or "google_cloud_pipeline_components" in command


def with_image(spec: Mapping[str, Any], image: str) -> dict[str, Any]:
    """A copy of a compiled pipeline or component spec in which labelloop's code runs ``image``.

    Every value naming the default image is replaced: executor containers, and the ``image_uri`` that Vertex
    custom training jobs built from a component (``worker_pool_specs``) carry as a parameter default.

    Raises:
        ImageError: ``image`` is not a valid reference; an executor runs an image that is neither the default
            nor ``image`` (a component decorated with another image would be missed); or the default image is
            still named somewhere after the rewrite (inside a longer string the rewrite cannot safely edit).
    """
    check_image(image)
    for name, container in labelloop_containers(spec):
        if container.get("image") not in (DEFAULT_IMAGE, image):
            raise ImageError(
                f"executor {name} runs {container.get('image')!r}, not labelloop's default {DEFAULT_IMAGE!r}; "
                "decorate every component with components/_base.py's BASE_IMAGE"
            )
    rewritten = _replace_exact(copy.deepcopy(dict(spec)), DEFAULT_IMAGE, image)
    leftover = _paths_containing(rewritten, DEFAULT_IMAGE) if image != DEFAULT_IMAGE else []
    if leftover:
        raise ImageError(f"the default image is still named at {', '.join(leftover[:3])} after the rewrite")
    return rewritten


def _replace_exact(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {key: _replace_exact(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_exact(item, old, new) for item in value]
    return new if value == old else value


def _paths_containing(value: Any, text: str, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _paths_containing(item, text, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _paths_containing(item, text, f"{path}[{index}]")]
    return [path.lstrip(".")] if isinstance(value, str) and text in value else []


def rewrite_yaml_image(path: Path, image: str) -> None:
    """Rewrite a compiled YAML file in place so its labelloop executors run ``image`` (other documents kept)."""
    import yaml

    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    documents[0] = with_image(documents[0], image)
    header = "".join(line for line in _leading_comments(path))
    body = yaml.dump_all(documents, sort_keys=True)  # as KFP writes it
    path.write_text(header + body, encoding="utf-8")


def _leading_comments(path: Path) -> list[str]:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def template_with_image(template: Path, image: str, workdir: Path | str) -> Path:
    """A copy of the compiled ``template`` in ``workdir`` whose labelloop steps run ``image`` (for submit)."""
    copy_path = Path(workdir) / f"with-image-{template.name}"
    copy_path.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    rewrite_yaml_image(copy_path, image)
    return copy_path
