"""The Lua examples of the user guide run: each chapter's `lua` blocks, in order, in one
runtime on the `memory` profile (in a temp dir that `tools.allowed_paths` allows, holding the
files the chapter's examples read)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmspell.runtime import ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

ROOT = Path(__file__).resolve().parents[2]
# chapter -> the files its examples expect in the working directory
CHAPTERS: dict[str, dict[str, str]] = {
    "04-sessions-and-artifacts.md": {"results.csv": "vendor,price\nA,10\nB,12\n"},
    "06-tools-and-workflows.md": {},
}


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_every_lua_example_of_the_chapter_runs(
    chapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "docs" / "user-guide" / chapter).read_text(encoding="utf-8")
    blocks = re.findall(r"```lua\n(.*?)```", text, re.S)
    assert blocks, f"{chapter} has no lua examples"
    monkeypatch.chdir(tmp_path)
    for name, content in CHAPTERS[chapter].items():
        (tmp_path / name).write_text(content)
    config = with_overrides(
        load_config(profile="memory", env={}).config, {"tools.allowed_paths": ["."]}
    )
    with ScriptRuntime(config) as rt:
        for number, block in enumerate(blocks, start=1):
            try:
                result = rt.execute(block, name=f"{chapter} example {number}")
            except Exception as exc:  # name the example that broke
                pytest.fail(f"{chapter} example {number} failed: {exc}\n{block}")
            assert result.stderr == "", f"{chapter} example {number} wrote to stderr"
