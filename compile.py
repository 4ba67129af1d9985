"""Compile every labelloop component and pipeline to YAML.

python compile.py           # write components/compiled/*.yaml and pipelines/compiled/*.<target>.yaml
python compile.py --check   # exit 1 when a committed YAML is stale or missing
"""

import argparse
import sys

from labelloop.pipelines.compiling import compile_all, stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that committed YAMLs are current")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        print("compiled YAMLs are current" if not problems else f"{len(problems)} stale YAML(s)")
        return 1 if problems else 0
    for path in compile_all():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
