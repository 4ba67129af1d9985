#!/usr/bin/env bash
# Installs what the Label Studio tests need, idempotently:
#   * label-studio 1.23 in its own virtualenv ($LABELSTUDIO_VENV, default /work/main/.venv-labelstudio),
#     because its Django dependencies clash with kfp's;
#   * Debian's chromium + chromium-driver for the browser test;
#   * selenium in the project venv ($PROJECT_VENV, default /work/main/.venv) if it is missing.
# Safe to run again: each step is skipped when what it installs is already there.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LABELSTUDIO_VENV="${LABELSTUDIO_VENV:-$REPO_ROOT/.venv-labelstudio}"
LABELSTUDIO_VERSION="${LABELSTUDIO_VERSION:-1.23.2}"
LABELSTUDIO_PYTHON="${LABELSTUDIO_PYTHON:-python3}"
PROJECT_VENV="${PROJECT_VENV:-$REPO_ROOT/.venv}"

installed_labelstudio_version() {
  "$LABELSTUDIO_VENV/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version
print(version("label-studio"))
PY
}

if [[ "$(installed_labelstudio_version)" == "$LABELSTUDIO_VERSION" && -x "$LABELSTUDIO_VENV/bin/label-studio" ]]; then
  echo "label-studio $LABELSTUDIO_VERSION already in $LABELSTUDIO_VENV"
else
  echo "installing label-studio $LABELSTUDIO_VERSION into $LABELSTUDIO_VENV"
  "$LABELSTUDIO_PYTHON" -m venv "$LABELSTUDIO_VENV"
  "$LABELSTUDIO_VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
  "$LABELSTUDIO_VENV/bin/python" -m pip install --quiet "label-studio==$LABELSTUDIO_VERSION" 2>&1 | { grep -v "^WARNING: Location" || true; }
fi

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "chromium and chromedriver already installed"
else
  echo "installing Debian chromium + chromium-driver"
  SUDO=""
  if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

if [[ -x "$PROJECT_VENV/bin/python" ]] && ! "$PROJECT_VENV/bin/python" -c "import selenium" 2>/dev/null; then
  echo "installing selenium into $PROJECT_VENV"
  "$PROJECT_VENV/bin/python" -m pip install --quiet "selenium>=4.20"
fi

echo "Label Studio test prerequisites ready: $LABELSTUDIO_VENV/bin/label-studio, $(command -v chromium)"
