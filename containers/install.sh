#!/usr/bin/env bash
# Install labelloop (non-editable, as in the image) into the Python given as $1, in two phases so the image's
# dependency layer is cached apart from the code:
#   install.sh PYTHON dependencies   # pip, build backend and pyproject's dependencies (no labelloop code needed)
#   install.sh PYTHON package        # labelloop itself, without dependencies and without network
#   install.sh PYTHON                # both
# Any warning pip or the build backend prints fails the install: the image must install cleanly.
set -euo pipefail
python=${1:-python3}
phase=${2:-all}
here=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

pip_install() {  # pip install "$@", failing on an error or on any warning it (or setuptools below it) prints
  if ! "$python" -m pip install --disable-pip-version-check --no-input --root-user-action=ignore "$@" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  # (a pip config naming local index folders that lack a package is the machine's, not the package's)
  if grep -v -E "^WARNING: Location '[^']*' is ignored: it is neither a file nor a directory" "$log" \
    | grep -i -E "warning|deprecat" >&2; then
    echo "install.sh: pip install $* printed the warning(s) above; fix them (the image must install cleanly)" >&2
    exit 1
  fi
}

if [ "$phase" = dependencies ] || [ "$phase" = all ]; then
  pip_install --upgrade pip "setuptools>=77"
  "$python" - "$here/pyproject.toml" >"$here/.requirements.txt" <<'PY'
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))
PY
  pip_install -r "$here/.requirements.txt"
  rm -f "$here/.requirements.txt"
fi
if [ "$phase" = package ] || [ "$phase" = all ]; then
  pip_install --no-deps --no-build-isolation "$here"
  "$python" -m pip check >/dev/null || { "$python" -m pip check >&2; exit 1; }
  "$python" -c "import labelloop.components, kfp; print('labelloop', labelloop.components.__version__, 'kfp', kfp.__version__)"
fi
