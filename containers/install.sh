#!/usr/bin/env bash
# Install labelloop (non-editable, as in the image) into the Python given as $1.
set -euo pipefail
python=${1:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
"$python" -m pip install --quiet --upgrade pip
"$python" -m pip install --quiet "$here"
"$python" -c "import labelloop.components, kfp; print('labelloop', labelloop.components.__version__, 'kfp', kfp.__version__)"
