"""The README's copy-paste examples run as written, and its set-up commands are the ones CI uses."""

import pathlib
import re
import subprocess
import sys

from labelloop.components.core import manifest as mf

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def example(tag: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    found = [b for b in blocks if b.startswith(f"# readme-example: {tag}\n")]
    assert len(found) == 1, f"README has no single example tagged {tag}"
    return found[0]


def test_compose_example_runs_as_written(tmp_path):
    script = tmp_path / "compose.py"  # a file, as a person would paste it: KFP reads component source from it
    script.write_text(example("compose"))
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted((ROOT / "runs" / "readme").glob("my-pipeline-*/split-dataset/split"))
    assert runs, "the example wrote no split manifest"
    records = list(mf.read_jsonl(str(runs[-1])))
    assert len(records) == 50 and {mf.ml_use_of(r) for r in records} == {"training", "validation", "test"}


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    setup = README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", setup, re.S)
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
