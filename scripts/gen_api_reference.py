"""Regenerate docs/reference/lua-api.md from the API docstrings (a test checks it is current)."""

from __future__ import annotations

from pathlib import Path

from llmspell.runtime import ScriptRuntime, load_config
from llmspell.runtime.api.docs import markdown_reference

TARGET = Path(__file__).resolve().parents[1] / "docs" / "reference" / "lua-api.md"


def render() -> str:
    with ScriptRuntime(load_config(profile="memory", env={}).config) as rt:
        return markdown_reference(rt.docs)


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
