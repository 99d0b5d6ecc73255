"""The Lua examples of the user guide run as written: every ```lua block of a chapter, in order,
in one runtime on the memory profile (so later blocks use what earlier ones made)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmspell.runtime import ScriptRuntime, load_config

ROOT = Path(__file__).resolve().parents[2]
# Chapters whose examples are complete scripts, and the files their examples read.
CHAPTERS = {
    "04-sessions-and-artifacts.md": {"results.csv": "vendor,price\nA,10\nB,12\n"},
}


def lua_blocks(chapter: str) -> list[str]:
    text = (ROOT / "docs" / "user-guide" / chapter).read_text(encoding="utf-8")
    return re.findall(r"```lua\n(.*?)```", text, re.S)


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_every_lua_example_of_the_chapter_runs(
    chapter: str, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, content in CHAPTERS[chapter].items():
        (isolated_env / name).write_text(content)
    blocks = lua_blocks(chapter)
    assert blocks, f"{chapter} has no lua examples"
    with ScriptRuntime(load_config(profile="memory", env={}).config) as rt:
        for number, block in enumerate(blocks, start=1):
            result = rt.execute(block, name=f"{chapter} example {number}")
            assert result.stderr == "", (number, result.stderr)
