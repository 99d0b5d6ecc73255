"""Error replies: a script's error (or a bug of llmspell's) as Jupyter error content, with
the traceback coloured as ipykernel colours it."""

from __future__ import annotations

import re
import traceback
from typing import Any

from llmspell.runtime.results import ScriptError


def error_content(err: ScriptError) -> dict[str, Any]:
    return {
        "status": "error",
        "ename": err.ename,
        "evalue": err.evalue,
        "traceback": coloured_traceback(err),
    }


# ANSI colours as ipykernel uses them: the error class red, positions in the script green
_RED, _GREEN, _RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[0m"
# `[cell 3]:12:` (Lua) and `File "[cell 3]", line 12` (Python)
_POSITION = re.compile(r'(?<![^\s(])(?:\[cell \d+\]|[^\s:"]+):\d+:|File "[^"]+", line \d+')


def coloured_traceback(err: ScriptError) -> list[str]:
    """The traceback lines with ANSI colours for the frontend (the CLI prints them plain, and
    `evalue` stays plain everywhere)."""
    out = []
    for line in err.traceback:
        if line.startswith(f"{err.ename}:") or line == err.ename:
            line = f"{_RED}{err.ename}{_RESET}{line[len(err.ename) :]}"
        out.append(_POSITION.sub(lambda m: f"{_GREEN}{m.group(0)}{_RESET}", line))
    return out


def internal_error(exc: BaseException) -> ScriptError:
    """A bug inside llmspell (not the user's script): show the Python traceback."""
    lines = traceback.format_exception(exc)
    return ScriptError(type(exc).__name__, str(exc), ["".join(lines).rstrip("\n")])
