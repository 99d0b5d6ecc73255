"""Shared names for CLI tests (fixtures are in conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LLMSPELL = Path(sys.executable).parent / "llmspell"  # the venv's console script


@dataclass
class Outcome:
    """What one `llmspell` invocation returned and printed."""

    code: int
    out: str
    err: str


RunCli = Callable[..., Outcome]
