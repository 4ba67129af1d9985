"""Prints a digest of every file the image build copies, so a test can tell a stale image.

Run from the repository root: ``python3 containers/source_digest.py``.
"""

import hashlib
import pathlib

#: What containers/Dockerfile copies into the image.
COPIED = ("pyproject.toml", "README.md", "containers/install.sh", "components", "pipelines")


def source_digest(root: pathlib.Path) -> str:
    """SHA-256 over the copied files' paths and bytes, bytecode caches left out."""
    digest = hashlib.sha256()
    for name in COPIED:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


if __name__ == "__main__":
    print(source_digest(pathlib.Path.cwd()))
