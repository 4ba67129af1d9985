"""Compile every labelloop component and pipeline to YAML (the same code as ``labelloop compile``).

python compile.py           # write components/compiled/*.yaml and pipelines/compiled/*.<target>.yaml
python compile.py --check   # exit 1 when a committed YAML is stale or missing
python compile.py --out DIR # write DIR/components and DIR/pipelines instead
"""

import sys

from labelloop.pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["compile", *sys.argv[1:]]))
