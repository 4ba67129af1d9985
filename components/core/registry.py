"""A model registry in a folder or any fsspec prefix (``gs://bucket/registry``).

Layout::

    <root>/<model>/versions/<version>/...           the model files, never rewritten
    <root>/<model>/versions/<version>/lineage.json  dataset version, pipeline run, metrics (written last)
    <root>/<model>/aliases/<alias>.json             {"version": ..., "moved_at": ...}, one file per alias
    <root>/<model>/alias_events/<time>-<rand>.json  one immutable object per alias move (history)

Versions are immutable: registering into an existing version is refused. A version exists when its
``lineage.json`` does. Each alias is a single small file replaced whole (locally write-then-rename,
on object stores a single upload), so readers never see a torn alias and concurrent moves leave it
pointing at one of the moved-to versions; every move is also kept as its own event object, so no
move is lost from the history.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import fsspec
import orjson

from . import manifest

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
LINEAGE_FILE = "lineage.json"


class RegistryError(ValueError):
    """A registry operation was refused; the message says why and what to do."""


@dataclass(frozen=True)
class Version:
    model: str
    version: str
    uri: str
    lineage: dict


def check_name(kind: str, name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise RegistryError(f"{kind} {name!r} must match {NAME_PATTERN.pattern} (lower case, digits, _ . -)")
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ModelRegistry:
    """Immutable model versions with movable aliases, in ``root`` (local folder or fsspec URL)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.root)
        self.local = self.fs.protocol in ("file", "local") or "file" in tuple(self.fs.protocol)

    def _path(self, *parts: str) -> str:
        return "/".join([self._base, *parts])

    def _uri(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    # versions ----------------------------------------------------------------------------------

    def _claim_version(self, model: str) -> str:
        """Reserve the next version number; locally ``mkdir`` is atomic so racing writers differ."""
        while True:
            existing = self.versions(model, include_incomplete=True)
            number = 1 + max((int(v) for v in existing if v.isdigit()), default=0)
            version = str(number)
            path = self._path(model, "versions", version)
            if self.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                try:
                    os.mkdir(path)
                    return version
                except FileExistsError:
                    continue
            if not self.fs.exists(path):
                self.fs.pipe(self._path(model, "versions", version, ".claim"), uuid.uuid4().hex.encode())
                return version

    def register(self, model: str, source_folder: str, lineage: dict, *, version: str | None = None) -> Version:
        """Copy a model folder in as a new immutable version and record its lineage.

        Args:
            model: registered model name.
            source_folder: local folder holding the model files.
            lineage: facts to keep (dataset_version, pipeline_run, metrics, …).
            version: explicit version id; refused if it exists. Default: the next number.
        """
        check_name("model name", model)
        if version is None:
            version = self._claim_version(model)
        else:
            check_name("version", version)
            if self.fs.exists(self._path(model, "versions", version, LINEAGE_FILE)):
                raise RegistryError(f"{model} version {version} already exists; versions are immutable, pick a new id")
        if not os.path.isdir(source_folder):
            raise RegistryError(f"model folder {source_folder} does not exist")
        for name in sorted(os.listdir(source_folder)):
            with open(os.path.join(source_folder, name), "rb") as handle:
                data = handle.read()
            with manifest.atomic_writer(self._uri(model, "versions", version, name)) as out:
                out.write(data)
        record = {"model": model, "version": version, "registered_at": _now(), **lineage}
        with manifest.atomic_writer(self._uri(model, "versions", version, LINEAGE_FILE)) as out:
            out.write(orjson.dumps(record, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        return Version(model, version, self._uri(model, "versions", version), record)

    def versions(self, model: str, *, include_incomplete: bool = False) -> list[str]:
        """Version ids of ``model`` (complete ones, unless asked), oldest first."""
        folder = self._path(model, "versions")
        if not self.fs.exists(folder):
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False)]
        if not include_incomplete:
            names = [n for n in names if self.fs.exists(self._path(model, "versions", n, LINEAGE_FILE))]
        return sorted(names, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))

    def get(self, model: str, version: str) -> Version:
        path = self._path(model, "versions", version, LINEAGE_FILE)
        try:
            lineage = orjson.loads(self.fs.cat_file(path))
        except FileNotFoundError:
            raise RegistryError(
                f"{model} has no complete version {version!r} (known: {self.versions(model)})"
            ) from None
        return Version(model, version, self._uri(model, "versions", version), lineage)

    # aliases -----------------------------------------------------------------------------------

    def set_alias(self, model: str, alias: str, version: str, *, reason: str = "") -> dict:
        """Point ``alias`` at ``version`` atomically and record the move as an event."""
        check_name("alias", alias)
        self.get(model, version)  # refuses unknown or incomplete versions
        record = {"alias": alias, "version": version, "moved_at": _now(), "reason": reason}
        data = orjson.dumps(record)
        event = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
        with manifest.atomic_writer(self._uri(model, "alias_events", event)) as out:
            out.write(data)
        with manifest.atomic_writer(self._uri(model, "aliases", f"{alias}.json")) as out:
            out.write(data)
        return record

    def alias(self, model: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None when it is not set."""
        path = self._path(model, "aliases", f"{alias}.json")
        try:
            return orjson.loads(self.fs.cat_file(path))["version"]
        except FileNotFoundError:
            return None

    def resolve(self, model: str, alias: str) -> Version | None:
        version = self.alias(model, alias)
        return None if version is None else self.get(model, version)

    def aliases(self, model: str) -> dict[str, str]:
        folder = self._path(model, "aliases")
        if not self.fs.exists(folder):
            return {}
        names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False) if p.endswith(".json")]
        return {n[:-5]: self.alias(model, n[:-5]) for n in sorted(names)}

    def alias_history(self, model: str) -> list[dict]:
        folder = self._path(model, "alias_events")
        if not self.fs.exists(folder):
            return []
        return [orjson.loads(self.fs.cat_file(p)) for p in sorted(self.fs.ls(folder, detail=False))]

    def promote(
        self, model: str, version: str, *, alias: str = "champion", previous_alias: str = "previous", reason: str = ""
    ) -> dict:
        """Move ``alias`` to ``version``, first pointing ``previous_alias`` at the old holder."""
        old = self.alias(model, alias)
        if old is not None and old != version and previous_alias:
            self.set_alias(model, previous_alias, old, reason=f"replaced by {version} as {alias}")
        return self.set_alias(model, alias, version, reason=reason)


def champion_uri(registry_uri: str, model_name: str, alias: str, *, explicit_uri: str = "") -> str:
    """The champion to compare a challenger with: ``explicit_uri`` if given, else the model ``alias``
    points at in the registry, else "" (no champion yet, or no registry)."""
    if explicit_uri:
        return explicit_uri
    if not (registry_uri and model_name):
        return ""
    holder = ModelRegistry(registry_uri).resolve(model_name, alias)
    return holder.uri if holder is not None else ""
