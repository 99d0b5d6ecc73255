"""How a Lua cell becomes a function without running it: its last expression as the cell's
result (a trailing `;` suppresses it), and whether the text is complete yet (is_complete)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from llmspell.runtime.engines.lua.conversion import lua_text
from llmspell.runtime.results import CompletenessCheck, ScriptError

# A line starting with one of these continues the previous expression, so it is never split
# off as "the last expression" of a cell.
CONTINUATION = re.compile(r"^\s*(and\b|or\b|\.\.|==|~=|<=|>=|//|<<|>>|[-+*/%^<>&|~.:(\[{\"'])")


class CellCompiler:
    """Compiles text chunks with the prelude's `compile` (Lua `load`, text mode only)."""

    def __init__(self, compile_chunk: Callable[[bytes, bytes], Any]) -> None:
        self._compile_chunk = compile_chunk

    def compile_cell(self, code: str, name: str) -> tuple[Any, bool]:
        """Compile a cell. Returns (function, whether its result is shown): when the last
        statement is an expression its value is the result; a trailing `;` suppresses that,
        also after an expression (`x;`, which Lua alone would reject)."""
        chunk = name.encode()
        stripped = code.rstrip()
        suppressed = stripped.endswith(";")
        err = ""
        if suppressed:
            fn, err = self._load(code.encode(), chunk)
            if fn is not None:
                return fn, False
        fn = self._compile_with_result(stripped[:-1] if suppressed else code, chunk)
        if fn is not None:
            return fn, not suppressed
        if not suppressed:
            fn, err = self._load(code.encode(), chunk)
            if fn is not None:
                return fn, True
        raise ScriptError("LuaError", err, [f"LuaError: {err}"])

    def is_complete(self, code: str) -> CompletenessCheck:
        """An error at `<eof>` means more lines are coming; any other syntax error is final."""
        source = code.encode()
        fn, _ = self._load(b"return " + source, b"input")
        if fn is not None:
            return CompletenessCheck("complete")
        fn, err = self._load(source, b"input")
        if fn is not None:
            return CompletenessCheck("complete")
        if err.rstrip().endswith("<eof>"):
            return CompletenessCheck("incomplete", "  ")
        return CompletenessCheck("invalid")

    def _load(self, source: bytes, chunk: bytes) -> tuple[Any, str]:
        """(function, "") or (None, syntax error message)."""
        result = self._compile_chunk(source, chunk)
        if isinstance(result, tuple):
            return None, lua_text(result[1])
        return result, ""

    def _compile_with_result(self, code: str, chunk: bytes) -> Any:
        """The cell with its last statement compiled as `return expr`, or None when that
        statement is not an expression."""
        fn = self._compile_returning("", code, chunk)
        if fn is not None:
            return fn
        lines = code.split("\n")
        for i in range(len(lines) - 1, 0, -1):
            suffix = "\n".join(lines[i:])
            if _only_comments(suffix) or CONTINUATION.match(suffix):
                continue
            # The split must fall between statements: the lines after must be an expression on
            # their own (`end` is not, so `...\nreturn end` cannot end a loop after its first
            # pass) and the lines before must compile on their own.
            if self._load(f"return {suffix}".encode(), chunk)[0] is None:
                continue
            statements = "\n".join(lines[:i])
            if self._load(statements.encode(), chunk)[0] is None:
                continue
            return self._compile_returning(statements + "\n", suffix, chunk)
        return None

    def _compile_returning(self, statements: str, expr: str, chunk: bytes) -> Any:
        """`statements` then `return expr`, compiled, or None when `expr` is not an expression.

        The values pass through a function call: `return f()` would be a tail call, which drops
        the cell's own line from the traceback when `f` fails."""
        fn, _ = self._load(f"{statements}return {expr}".encode(), chunk)
        if fn is None:
            return None
        source = f"{statements}return (function(...) return ... end)({expr}\n)"
        wrapped, _ = self._load(source.encode(), chunk)
        return wrapped if wrapped is not None else fn


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.split("\n"))
