"""The documentation stays true: the generated API reference is current and the
README quick start holds exactly the two commands CI relies on."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from llmspell.runtime import ScriptRuntime, load_config

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_api_reference", ROOT / "scripts" / "gen_api_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_matches_the_docstrings() -> None:
    generator = _load_generator()
    committed = (ROOT / "docs" / "reference" / "lua-api.md").read_text(encoding="utf-8")
    assert committed == generator.render(), "run: .venv/bin/python scripts/gen_api_reference.py"


def test_readme_quick_start_has_exactly_two_commands_and_they_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.S)
    assert block is not None
    commands = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands == ["scripts/quickstart.sh", "scripts/test.sh"]
    for command in commands:
        assert (ROOT / command).is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
# an example introduced as "`llmspell run f.lua a b --k v` gives the script" runs with those ARGS
RUN_COMMAND = re.compile(r"^`llmspell run ([^\s`]+)([^`]*)` gives the script")


def _lua_blocks() -> list[tuple[str, str, str]]:
    """(where, block, the paragraph just before it) of every lua block of the README and the user
    guide, except the chapters whose examples build on each other: those run in order in one
    runtime (test_user_guide_examples.py)."""
    from test_user_guide_examples import CHAPTERS

    guide = sorted(ROOT.glob("docs/user-guide/*.md"))
    docs = [ROOT / "README.md", *(doc for doc in guide if doc.name not in CHAPTERS)]
    found = []
    for doc in docs:
        text = doc.read_text("utf-8")
        fences = list(FENCE.finditer(text))
        lua = [(i, m) for i, m in enumerate(fences) if m.group(1) == "lua"]
        for number, (i, match) in enumerate(lua):
            before = text[fences[i - 1].end() if i else 0 : match.start()]
            prose = before.strip().split("\n\n")[-1]  # the paragraph that introduces it
            found.append((f"{doc.relative_to(ROOT)}#{number}", match.group(2), prose))
    return found


def shown_output(block: str) -> list[str]:
    """The output lines an example promises with `--> text` (comment-only lines right after
    one continue it), whitespace collapsed."""
    shown: list[str] = []
    continuing = False
    for line in block.splitlines():
        if "-->" in line:
            shown.append(line.split("-->", 1)[1])
            continuing = True
        elif continuing and line.lstrip().startswith("--"):
            shown[-1] += " " + line.lstrip()[2:]
        else:
            continuing = False
    return [" ".join(text.split()) for text in shown]


def test_shown_output_reads_arrows_and_their_continuations() -> None:
    block = (
        "print(1)   --> 1\n"
        "print(x)\n"
        "--> false  a long\n"
        "--         message\n"
        "y = 2      -- a comment, not output\n"
    )
    assert shown_output(block) == ["1", "false a long message"]


@pytest.mark.parametrize(
    ("where", "block", "prose"), _lua_blocks(), ids=[w for w, _, _ in _lua_blocks()]
)
def test_every_lua_example_prints_what_its_comments_show(
    where: str, block: str, prose: str, isolated_env: Path
) -> None:
    from llmspell.cli import split_script_args

    args: list[str] | None = None
    kwargs: dict[str, str] | None = None
    name = "[cell 1]"
    command = RUN_COMMAND.match(prose)
    if command is not None:
        name = command.group(1)
        args, kwargs = split_script_args(command.group(2).split())
    with ScriptRuntime(load_config(profile="memory", env={}).config) as rt:
        printed = [
            " ".join(line.split())
            for line in rt.execute(block, name, args, kwargs).stdout.splitlines()
        ]
    unmatched = list(printed)
    for expected in shown_output(block):
        # a note in parentheses after the output explains it: "--> nil (the safe debug library)"
        while unmatched and not (
            unmatched[0] == expected or expected.startswith(unmatched[0] + " (")
        ):
            unmatched.pop(0)
        assert unmatched, f"{where} shows {expected!r}; it printed {printed}"
        unmatched.pop(0)
