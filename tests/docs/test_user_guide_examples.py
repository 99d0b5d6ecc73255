"""User-guide chapters whose examples are runnable stay true: every ```lua block of the chapter
runs, in order, in one memory-profile runtime, and a ```text block right after one is exactly
what it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmspell.runtime import ScriptRuntime, load_config

ROOT = Path(__file__).resolve().parents[2]
# Chapters whose every Lua example is meant to run as written.
RUNNABLE_CHAPTERS = ["05-events-and-hooks.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def examples(chapter: str) -> list[tuple[str, str | None]]:
    """(lua code, expected output or None) for each Lua block of `chapter`."""
    text = (ROOT / "docs" / "user-guide" / chapter).read_text(encoding="utf-8")
    blocks = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    found: list[tuple[str, str | None]] = []
    for i, (language, body, _, end) in enumerate(blocks):
        if language != "lua":
            continue
        expected = None
        if i + 1 < len(blocks):
            following, output, start, _ = blocks[i + 1]
            if following == "text" and not text[end:start].strip():
                expected = output
        found.append((body, expected))
    return found


@pytest.mark.parametrize("chapter", RUNNABLE_CHAPTERS)
def test_every_example_of_the_chapter_runs_and_prints_what_it_shows(
    chapter: str, isolated_env: Path
) -> None:
    found = examples(chapter)
    assert found, f"{chapter} has no Lua examples"
    with ScriptRuntime(load_config(profile="memory", env={}).config) as rt:
        for n, (code, expected) in enumerate(found, start=1):
            result = rt.execute(code, name=f"{chapter} example {n}")
            if expected is not None:
                assert result.stdout == expected, f"example {n}:\n{code}"
