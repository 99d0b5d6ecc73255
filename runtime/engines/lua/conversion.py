"""Lua <-> Python values (spec: architecture.md, Value conversion): data both ways; API proxies
back to their Python objects; everything else that is not data is left to the binding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime.api.base import OpaqueValue, RawValue, ScriptFunction
from llmspell.runtime.times import format_time

MAX_DEPTH = 200  # nesting beyond this is treated as a cycle when converting tables
LUA_INT_MIN, LUA_INT_MAX = -(2**63), 2**63 - 1


class LuaConversion:
    """Converts values of one LuaRuntime. `host_value` turns a Python value that is not data
    (an API object, a function) into Lua; `lua_function` turns a Lua function into Python."""

    def __init__(
        self,
        lua: lupa.LuaRuntime,
        prelude: Any,
        host_value: Callable[[Any], Any],
        lua_function: Callable[[Any], ScriptFunction],
    ) -> None:
        self._lua = lua
        self._p = prelude
        self._host_value = host_value
        self._lua_function = lua_function

    def to_python(self, value: Any, _depth: int = 0) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value
        kind = lupa.lua_type(value)
        if kind == "table":
            api_object = self._p.proxy_object(value)
            if api_object is not None:
                return api_object
            if _depth >= MAX_DEPTH:
                raise ValueError(
                    f"table nested deeper than {MAX_DEPTH} levels (or it contains a cycle)"
                )
            items = list(value.items())
            n = len(items)
            if n and all(type(k) is int for k, _ in items):
                keys = sorted(k for k, _ in items)
                if keys[0] == 1 and keys[-1] == n:
                    by_key = dict(items)
                    return [self.to_python(by_key[i], _depth + 1) for i in range(1, n + 1)]
            converted: dict[str, Any] = {}
            for k, v in items:
                key = _key(k)
                if key in converted:
                    raise ValueError(
                        f"table has two keys that both become {key!r} as text; keep one of them"
                    )
                converted[key] = self.to_python(v, _depth + 1)
            # Lua tables have no key order; sorted keys make output reproducible.
            return dict(sorted(converted.items()))
        if kind == "function":
            return self._lua_function(value)
        return OpaqueValue(kind or type(value).__name__)

    def to_lua(self, value: Any) -> Any:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not LUA_INT_MIN <= value <= LUA_INT_MAX
        ):
            return float(value)  # as Lua reads an integer literal too big for 64 bits
        if value is None or isinstance(value, (bool, int, float, bytes)):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, dict):
            return self._lua.table_from(
                {
                    (k.encode() if isinstance(k, str) else k): self.to_lua(v)
                    for k, v in value.items()
                }
            )
        if isinstance(value, (list, tuple)):
            return self._lua.table_from([self.to_lua(v) for v in value])
        if isinstance(value, RawValue):
            return value.raw
        if isinstance(value, datetime):
            return format_time(value).encode()
        return self._host_value(value)


def _key(key: Any) -> str:
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            # Replacing the bytes would store a different key than the script used.
            raise ValueError(
                f"table key {lua_text(key)!r} (bytes {key!r}) is not UTF-8 text; "
                "keys must be text or numbers"
            ) from None
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    if isinstance(key, (int, float)):
        return str(key)
    raise ValueError(f"table keys must be strings or numbers, got {lupa.lua_type(key)}")


def lua_text(value: Any) -> str:
    """A Lua string (bytes from lupa) or any other value as text; nil as ""."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)
