"""What the compatibility tests share."""

from __future__ import annotations

from typing import Any

from llmspell.runtime import ScriptRuntime


def run(rt: ScriptRuntime, code: str) -> Any:
    """The value of a Lua chunk (`return ...`)."""
    return rt.execute(code).value
