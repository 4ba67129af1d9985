"""Progress lines a long step prints, which ``labelloop run``/``demo`` turn into a progress bar.

A step in its own process (a KFP task) cannot call the runner back; it prints one machine-readable
line instead, ``##labelloop-progress {"step": ..., "done": ..., "total": ...}``, to stderr. The
local runner's monitor (``pipelines/progress.py``) parses it; anywhere else it is one log line.
:class:`Progress` throttles the lines to about one per percent, so a million items print ~100.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TextIO

MARKER = "##labelloop-progress "


def progress_line(step: str, done: int, total: int) -> str:
    """The line announcing ``done`` of ``total`` for ``step``."""
    return MARKER + json.dumps({"step": step, "done": int(done), "total": int(total)})


def parse_progress(line: str) -> tuple[str, int, int] | None:
    """``(step, done, total)`` of a progress line (leading spaces allowed), else None."""
    text = line.strip()
    if not text.startswith(MARKER):
        return None
    try:
        data = json.loads(text[len(MARKER) :])
        return str(data["step"]), int(data["done"]), int(data["total"])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Progress:
    """Prints ``step``'s progress when it moved at least ``every`` of ``total`` since the last line, and at the end."""

    step: str
    total: int
    every: float = 0.01
    stream: TextIO | None = None
    _last: int = field(default=-1, init=False)

    def update(self, done: int) -> None:
        if self.total <= 0:
            return
        if done >= self.total or self._last < 0 or done - self._last >= max(1, self.every * self.total):
            self._last = done
            print(
                progress_line(self.step, min(done, self.total), self.total), file=self.stream or sys.stderr, flush=True
            )
