"""The documentation stays true: the generated API reference is current, links resolve, and the
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


def test_relative_links_in_docs_point_at_existing_files() -> None:
    for doc in [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), (
                f"{doc.relative_to(ROOT)} links to missing {target}"
            )


def _lua_blocks() -> list[tuple[str, str]]:
    """Every lua block of the README and the user guide, except the chapters whose examples
    build on each other: those run in order in one runtime (test_user_guide_examples.py)."""
    from test_user_guide_examples import CHAPTERS

    guide = sorted(ROOT.glob("docs/user-guide/*.md"))
    docs = [ROOT / "README.md", *(doc for doc in guide if doc.name not in CHAPTERS)]
    return [
        (f"{doc.relative_to(ROOT)}#{i}", block)
        for doc in docs
        for i, block in enumerate(re.findall(r"```lua\n(.*?)```", doc.read_text("utf-8"), re.S))
    ]


@pytest.mark.parametrize(("where", "block"), _lua_blocks(), ids=[w for w, _ in _lua_blocks()])
def test_every_lua_example_runs_when_pasted_as_one_cell(
    where: str, block: str, isolated_env: Path
) -> None:
    with ScriptRuntime(load_config(profile="memory", env={}).config) as rt:
        rt.execute(block, name="[cell 1]")
