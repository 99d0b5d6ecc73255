"""The docs name only commands and options the CLI has, and their links reach a file and heading.

Every `llmspell ...` command line (in a shell block or inline code) and every inline
`storage upgrade`-style mention of a command group is walked through `build_parser()`: each
word must be a subcommand of the level it is on, each `--option` an option of the command.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from llmspell.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted(ROOT.glob("docs/**/*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")  # may wrap onto the next line
GLOBAL_OPTIONS = {"-c": True, "--config": True, "--profile": True, "-v": False, "--verbose": False}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions for name in action.option_strings}


def _command_lines(text: str) -> list[str]:
    """Every `llmspell ...` invocation a reader could type, as the text after `llmspell`."""
    lines: list[str] = []
    for lang, body in FENCE.findall(text):
        if lang in ("bash", "sh", "console", "shell", ""):
            for line in body.splitlines():
                line = line.split("  #")[0].strip()
                words = line.split()
                while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                    words.pop(0)  # FOO=bar llmspell ...
                if words[:1] == ["llmspell"]:
                    lines.append(" ".join(words[1:]))
    prose = FENCE.sub("", text)
    groups = {name for name, p in _subparsers(build_parser()).items() if _subparsers(p)}
    for code in INLINE.findall(prose):
        words = code.split()
        if words[:1] == ["llmspell"] and len(words) > 1:
            lines.append(" ".join(words[1:]))
        elif len(words) > 1 and words[0] in groups and re.fullmatch(r"[a-z][a-z-]*", words[1]):
            lines.append(code)  # `storage upgrade`: the group named without `llmspell`
    return lines


def _problem(command: str) -> str | None:
    """What in `command` (the words after `llmspell`) the CLI does not have, or None."""
    try:
        words = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "))
    except ValueError:
        words = command.split()
    if any(word.endswith(":") for word in words):  # a message `llmspell keys add: ...`
        words = words[: next(i for i, w in enumerate(words) if w.endswith(":")) + 1]
        words[-1] = words[-1].rstrip(":")
    parser = build_parser()
    path = "llmspell"
    while words and words[0] in GLOBAL_OPTIONS:
        takes_value = GLOBAL_OPTIONS[words.pop(0)]
        if takes_value and words:
            words.pop(0)
    while words:
        word = words.pop(0)
        choices = _subparsers(parser)
        if word.startswith("-"):
            option = word.split("=")[0]
            if word in ("--", "-") or option in _options(parser):
                if word == "--":
                    return None  # the rest reaches the script
                continue
            return f"`{path}` has no option {option}"
        if choices:
            if word not in choices:
                return f"`{path}` has no subcommand {word!r} (has: {', '.join(choices)})"
            parser, path = choices[word], f"{path} {word}"
        elif path.split()[-1:] in (["run"], ["exec"]):
            return None  # script file/code and its arguments
    return None


def _all_commands() -> list[tuple[str, str]]:
    return [
        (str(doc.relative_to(ROOT)), command)
        for doc in DOCS
        for command in _command_lines(doc.read_text(encoding="utf-8"))
    ]


def test_the_docs_mention_many_commands() -> None:
    """Guards the extraction itself: an empty list would make the next test pass vacuously."""
    found = {
        word
        for _, command in _all_commands()
        for word in command.split()
        if word in _subparsers(build_parser())
    }
    assert {"run", "exec", "storage", "keys", "kernel", "config", "rag"} <= found


@pytest.mark.parametrize(("doc", "command"), _all_commands())
def test_every_documented_command_exists_in_the_cli(doc: str, command: str) -> None:
    problem = _problem(command)
    assert problem is None, f"{doc}: `llmspell {command}`: {problem}"


def test_a_command_the_cli_lacks_is_found() -> None:
    assert _problem("storage vacuum") is not None
    assert _problem("--profile memory storage schema --colour") is not None
    assert _problem("--profile memory storage schema --component kv") is None


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_every_relative_link_reaches_an_existing_file_and_heading() -> None:
    broken: list[str] = []
    for doc in DOCS:
        text = FENCE.sub("", doc.read_text(encoding="utf-8"))
        for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]*))?\)", text):
            path = (doc.parent / target) if target else doc
            where = f"{doc.relative_to(ROOT)} -> {target}{'#' + anchor if anchor else ''}"
            if not path.exists():
                broken.append(f"{where}: no such file")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{where}: no such heading")
    assert not broken, "\n".join(broken)


def test_a_link_to_a_missing_heading_is_found() -> None:
    assert _slug("What the app role can reach in PostgreSQL") == (
        "what-the-app-role-can-reach-in-postgresql"
    )
    assert "no-such-heading" not in _anchors(ROOT / "docs/user-guide/09-security-model.md")


def _config_keys(model: type, prefix: str = "") -> list[str]:
    """Dotted names of every setting of a pydantic config section (providers by their keys)."""
    from pydantic import BaseModel

    keys: list[str] = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys.extend(_config_keys(kind, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_config_section_and_key_is_in_the_configuration_chapter() -> None:
    from llmspell.runtime.config import LLMSpellConfig

    chapter = (ROOT / "docs/user-guide/02-configuration.md").read_text(encoding="utf-8")
    tables = set(re.findall(r"^\[([\w.]+)\]", chapter, re.M))
    missing = []
    for key in _config_keys(LLMSpellConfig):
        section, _, name = key.rpartition(".")
        if section and section not in tables:
            missing.append(f"[{section}]")
        elif section and key not in tables and not re.search(rf"^{name}\s*=", chapter, re.M):
            missing.append(key)
    assert not missing, f"not in docs/user-guide/02-configuration.md: {sorted(set(missing))}"
