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

    def __init__(
        self,
        lua_globals: Any,
        prelude: Any,
        call_lua: Callable[..., tuple[Any, ...]],
        summary_text: Callable[[Any], str],
    ) -> None:
        self._globals = lua_globals
        self._p = prelude
        self._call = call_lua
        self._summary_text = summary_text

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
