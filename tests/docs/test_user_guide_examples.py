"""The Lua examples of the user guide run: each chapter's `lua` blocks, in order, in one
runtime on the `memory` profile (in a temp dir that `tools.allowed_paths` allows, holding the
files the chapter's examples read); none writes to stderr, and a `text` block right after an
example is exactly what it prints."""

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
    "05-events-and-hooks.md": {},
    "06-tools-and-workflows.md": {},
    "07-memory.md": {},
    "08-rag-and-context.md": {
        "handbook.md": "# Staff handbook\n\n" + "Staff may work from home two days a week. " * 60,
        "timetable.html": "<html><head><title>Timetable</title></head><body><p>The first "
        "ferry leaves at 06:00.</p><script>x()</script></body></html>",
    },
    "10-agents-and-providers.md": {},
    "12-widgets.md": {},
    "13-templates-local-models-replay.md": {},
}
# chapters whose examples need a Jupyter front end (widgets): they run with the `comm`
# package's own comms, which go nowhere, as in a kernel with no notebook attached
NEED_FRONT_END = {"12-widgets.md"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def examples(chapter: str) -> list[tuple[str, str | None]]:
    """(lua code, what it prints or None) for each `lua` block of `chapter`."""
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


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_every_lua_example_of_the_chapter_runs_and_prints_what_it_shows(
    chapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = examples(chapter)
    assert found, f"{chapter} has no lua examples"
    monkeypatch.chdir(tmp_path)
    for name, content in CHAPTERS[chapter].items():
        (tmp_path / name).write_text(content)
    config = with_overrides(
        load_config(profile="memory", env={}).config, {"tools.allowed_paths": ["."]}
    )
    with ScriptRuntime(config) as rt:
        if chapter in NEED_FRONT_END:
            rt.widgets.connect()
        for number, (block, expected) in enumerate(found, start=1):
            try:
                result = rt.execute(block, name=f"{chapter} example {number}")
            except Exception as exc:  # name the example that broke
                pytest.fail(f"{chapter} example {number} failed: {exc}\n{block}")
            assert result.stderr == "", f"{chapter} example {number} wrote to stderr"
            if expected is not None:
                assert result.stdout == expected, f"{chapter} example {number}:\n{block}"
