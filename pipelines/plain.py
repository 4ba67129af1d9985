"""Docstrings and help written in reStructuredText, shown as plain text on a terminal."""

from __future__ import annotations

import argparse
import re

_ROLE = re.compile(r":[\w:.-]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_INTERPRETED = re.compile(r"`([^`]+)`")


def plain_text(text: str) -> str:
    """``name`` and :func:`name` become name; `command` becomes 'command'."""
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    return _INTERPRETED.sub(r"'\1'", text)


class PlainHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse help with descriptions kept as written and reStructuredText markup removed everywhere."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain_text(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain_text(super()._expand_help(action))
