"""Lua values as help, inspection and completion see them: dotted paths resolved from the
globals, the keys of a table (and of its metatable's `__index` chain), API names, summaries.
Everything is read raw — no `__index`, `__pairs` or `__tostring` of a script runs — and every
call into Lua goes through the engine's limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime.engines.introspection import summary_page
from llmspell.runtime.engines.lua.conversion import lua_text
from llmspell.runtime.engines.lua.stdlib_docs import StdlibDocs

KEYWORDS = [
    "and",
    "break",
    "do",
    "else",
    "elseif",
    "end",
    "false",
    "for",
    "function",
    "goto",
    "if",
    "in",
    "local",
    "nil",
    "not",
    "or",
    "repeat",
    "return",
    "then",
    "true",
    "until",
    "while",
]
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class LuaValues:
    """The `ScriptValues` of one LuaRuntime (see runtime/engines/introspection.py)."""

    name_chars = re.compile(r"[A-Za-z0-9_.:]")
    name_at_end = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:[.:][A-Za-z_][A-Za-z0-9_]*)*)([.:]?)$")
    separators = ".:"
    # `__index`, `__name`... are metatable plumbing: offered only once the user types `__`
    private_prefix = "__"
    inspect_names_value = True

    overview_note = (
        "Lua's standard library is documented too: help(print), help(string), ?string.format."
    )

    def __init__(
        self,
        lua_globals: Any,
        prelude: Any,
        call_lua: Callable[..., tuple[Any, ...]],
        summary_text: Callable[[Any], str],
        stdlib: StdlibDocs,
    ) -> None:
        self._globals = lua_globals
        self._p = prelude
        self._call = call_lua
        self._summary_text = summary_text
        self._stdlib = stdlib

    def lookup(self, dotted: str) -> Any:
        value: Any = self._globals
        for part in re.split(r"[.:]", dotted):
            if value is None or lupa.lua_type(value) != "table":
                raise LookupError(dotted)
            (value,) = self._call(self._p.raw_field, value, part.encode())
        if value is None:
            raise LookupError(dotted)
        return value

    def api_name_of(self, value: Any) -> str | None:
        if lupa.lua_type(value) not in ("function", "table"):
            return None
        (name,) = self._call(self._p.api_name, value)
        return lua_text(name) if name is not None else None

    def text_of(self, value: Any) -> str | None:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else None

    def language_doc(self, value: Any) -> str | None:
        return self._stdlib.page(value)

    def summary(self, value: Any) -> str:
        kind = lua_text(self._p.type(value))
        size = ""
        if kind == "table":
            size = f", {self._call(self._p.count_keys, value)[0]} entries"
        elif kind == "string":
            size = f", {len(value)} bytes"
        return summary_page(kind, self._summary_text(value), size)

    def global_names(self) -> list[str]:
        return self.member_names(self._globals, methods_only=False) + KEYWORDS

    def member_names(self, value: Any, methods_only: bool) -> list[str]:
        (flat,) = self._call(self._p.keys_of, value)  # {key1, type1, key2, type2, ...}
        out = []
        i = 1
        while flat[i] is not None:
            key, kind = lua_text(flat[i]), lua_text(flat[i + 1])
            if (not methods_only or kind == "function") and _IDENTIFIER.fullmatch(key):
                out.append(key)
            i += 2
        return out


_HELP_CALL = re.compile(r"(?<![\w.:])help\s*\(")


def help_argument(code: str, line: int) -> str | None:
    """The text between the parentheses of the first `help(...)` call on line `line` of
    `code` (it may continue on later lines), or None when there is none."""
    lines = code.split("\n")
    if not 1 <= line <= len(lines):
        return None
    text = "\n".join(lines[line - 1 :])
    m = _HELP_CALL.search(lines[line - 1])
    if m is None:
        return None
    depth, quote = 1, ""
    for i in range(m.end(), len(text)):
        char = text[i]
        if quote:
            if char == quote and text[i - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return " ".join(text[m.end() : i].split()) or None
    return None
