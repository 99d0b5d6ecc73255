"""The parts of a cell: code, `%line` and `%%cell` magics and `!shell` lines, found with the
engine's own parser (a line is a magic only where code is, not inside a long string)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from llmspell.runtime.results import ScriptError

# `%name`, `%%name` or `!command` at the start of a line (`!=` continues a Python expression)
_CANDIDATE = re.compile(r"[ \t]*(?:%%?[A-Za-z_]|!(?!=))")
_CANDIDATE_ANYWHERE = re.compile(r"^[ \t]*(?:%%?[A-Za-z_]|!(?!=))", re.M)
# in place of a candidate line: a syntax error in code in both languages, harmless in a string
_PROBE = "$"


# The parts are NamedTuples, not dataclasses: every start imports this module (to tell a cell
# without magics), and making a dataclass costs ~0.5 ms. A part's kind is its class.
class Code(NamedTuple):
    text: str  # preceded by blank lines, so line numbers in errors are the cell's


class LineMagic(NamedTuple):
    name: str
    args: str
    line: int  # 1-based line of the cell


class CellMagic(NamedTuple):
    name: str
    args: str
    body: str  # preceded by a blank line for each line above it


class Shell(NamedTuple):
    command: str


Part = Code | LineMagic | CellMagic | Shell


def magic_lines(code: str, compiles: Callable[[str], bool]) -> set[int]:
    """The 0-based numbers of the lines that are magics: they start with `%name`, `%%name` or
    `!`, and sit where code is, not inside a long string. The engine's own parser tells: with
    the line replaced by a character no code may hold, the cell must not compile. (So a line
    starting with `%name` is a magic even where Lua would read a modulo.)"""
    lines = code.split("\n")
    candidates = {i for i, line in enumerate(lines) if _CANDIDATE.match(line)}
    magic = set()
    for i in sorted(candidates):
        probe = [
            _PROBE if j == i else "" if j in candidates else line for j, line in enumerate(lines)
        ]
        if not compiles("\n".join(probe)):
            magic.add(i)
    return magic


def cell_parts(code: str, compiles: Callable[[str], bool]) -> list[Part] | None:
    """The parts of a cell with magic lines, in order; None for a cell of plain code."""
    if not _CANDIDATE_ANYWHERE.search(code):
        return None
    magic = magic_lines(code, compiles)
    return split_cell(code, magic) if magic else None


def split_cell(code: str, magic: set[int]) -> list[Part]:
    """The parts of a cell whose lines `magic` (0-based) are magics."""
    lines = code.split("\n")
    first = min(magic)
    head = lines[first].strip()
    if head.startswith("%%") and not any(line.strip() for line in lines[:first]):
        name, args = _name_and_args(head[2:])
        return [CellMagic(name, args, "\n" * (first + 1) + "\n".join(lines[first + 1 :]))]
    parts: list[Part] = []
    start, block = 0, []
    for i, line in enumerate(lines):
        if i not in magic:
            block.append(line)
            continue
        if any(text.strip() for text in block):
            parts.append(Code("\n" * start + "\n".join(block)))
        start, block = i + 1, []
        stripped = line.strip()
        if stripped.startswith("%%"):
            raise ScriptError(
                "UsageError", f"{stripped.split()[0]} must be the first line of the cell"
            )
        if stripped.startswith("!"):
            parts.append(Shell(stripped[1:].strip()))
        else:
            name, args = _name_and_args(stripped[1:])
            parts.append(LineMagic(name, args, i + 1))
    if any(text.strip() for text in block):
        parts.append(Code("\n" * start + "\n".join(block)))
    return parts


def _name_and_args(text: str) -> tuple[str, str]:
    name, _, args = text.strip().partition(" ")
    return name, args.strip()
