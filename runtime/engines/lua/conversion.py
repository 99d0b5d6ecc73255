"""Lua <-> Python values (docs/developer-guide/01-architecture.md, Conversion): data both ways;
API proxies back to their Python objects; everything else that is not data is left to the
binding."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime.api.base import (
    JSON_NULL,
    OpaqueValue,
    RawValue,
    RecordWithMethods,
    ScriptFunction,
)
from llmspell.runtime.display import Records
from llmspell.runtime.host_limits import CHECK_EVERY
from llmspell.runtime.times import format_time

MAX_DEPTH = 200  # tables nested deeper than this are not data (a cycle always is)
LUA_INT_MIN, LUA_INT_MAX = -(2**63), 2**63 - 1


class LuaConversion:
    """Converts values of one LuaRuntime. `host_value` turns a Python value that is not data
    (an API object, a function) into Lua; `lua_function` turns a Lua function into Python.
    `check` (raising `HostStopped` when the script must stop) runs every CHECK_EVERY items: a
    table of millions of items takes seconds."""

    def __init__(
        self,
        lua: lupa.LuaRuntime,
        prelude: Any,
        host_value: Callable[[Any], Any],
        lua_function: Callable[[Any], ScriptFunction],
        check: Callable[[], None] = lambda: None,
    ) -> None:
        self._lua = lua
        self._p = prelude
        self._host_value = host_value
        self._lua_function = lua_function
        self._check = check
        # JSON.null in Lua: one table the conversion maps to JSON_NULL and back
        self.json_null = prelude.api_proxy(b"JSON.null", b"JSON.null", JSON_NULL, lua.table(), None)

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
            try:
                return self._table_to_python(value, _depth)
            except _TooDeep as exc:
                exc.tables.append(value)
                if _depth == 0:
                    raise ValueError(self._too_deep_message(exc.tables)) from None
                raise
        if kind == "function":
            return self._lua_function(value)
        return OpaqueValue(kind or type(value).__name__)

    def _table_to_python(self, value: Any, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            raise _TooDeep()
        items = self._items(value)
        n = len(items)
        if n and self._is_sequence(items):
            rows: list[Any] = [None] * n
            for low in range(0, n, CHECK_EVERY):
                self._check()
                for k, v in items[low : low + CHECK_EVERY]:
                    rows[k - 1] = self.to_python(v, depth + 1)
            # API record lists carry their columns (shown as a table, nil fields included)
            columns = self._p.record_columns(value) if depth == 0 else None
            if columns is None:
                return rows
            return Records(rows, [lua_text(columns[i]) for i in range(1, len(columns) + 1)])
        converted: dict[str, Any] = {}
        for count, (k, v) in enumerate(items):
            if count % CHECK_EVERY == 0:
                self._check()
            key = _key(k)
            if key in converted:
                raise ValueError(
                    f"table has two keys that both become {key!r} as text; keep one of them"
                )
            converted[key] = self.to_python(v, depth + 1)
        # Lua tables have no key order; sorted keys make output reproducible.
        return dict(sorted(converted.items()))

    def _is_sequence(self, items: list[tuple[Any, Any]]) -> bool:
        """Whether a table's keys are 1..n (a table's keys are distinct: integer keys from 1
        to n, n of them, are all of 1..n)."""
        low, high = 1, len(items)
        for start in range(0, len(items), CHECK_EVERY):
            self._check()
            block = [k for k, _ in items[start : start + CHECK_EVERY]]
            if not all(type(k) is int for k in block) or min(block) < low or max(block) > high:
                return False
        return True

    def _items(self, table: Any) -> list[tuple[Any, Any]]:
        """A table's (key, value) pairs, read CHECK_EVERY at a time."""
        pairs = table.items()
        items: list[tuple[Any, Any]] = []
        while True:
            block = list(itertools.islice(pairs, CHECK_EVERY))
            items += block
            if len(block) < CHECK_EVERY:
                return items
            self._check()

    def _too_deep_message(self, tables: list[Any]) -> str:
        # lupa gives each access its own Python object, so identity is asked of Lua: a Lua
        # table keyed by the tables on the failing path
        seen = self._lua.table()
        for table in tables:
            if seen[table]:
                return "a table contains itself (a cycle); only tree-shaped tables are data"
            seen[table] = True
        return f"tables are nested deeper than {MAX_DEPTH} levels"

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
            pairs = list(value.items())
            converted: dict[Any, Any] = {}
            for low in range(0, len(pairs), CHECK_EVERY):
                self._check()
                converted.update(
                    ((k.encode() if isinstance(k, str) else k), self.to_lua(v))
                    for k, v in pairs[low : low + CHECK_EVERY]
                )
            table = self._lua.table_from(converted)
            if isinstance(value, RecordWithMethods):
                return self._p.with_id_methods(table)
            return table
        if isinstance(value, Records):
            columns = self._lua.table_from([c.encode() for c in value.columns])
            return self._p.mark_records(self._list_to_lua(value), columns)
        if isinstance(value, (list, tuple)):
            return self._list_to_lua(value)
        if isinstance(value, RawValue):
            return value.raw
        if value is JSON_NULL:
            return self.json_null
        if isinstance(value, datetime):
            return format_time(value).encode()
        return self._host_value(value)

    def _list_to_lua(self, values: Sequence[Any]) -> Any:
        converted: list[Any] = []
        for low in range(0, len(values), CHECK_EVERY):
            self._check()
            converted += [self.to_lua(v) for v in values[low : low + CHECK_EVERY]]
        return self._lua.table_from(converted)


class _TooDeep(ValueError):
    """Raised at MAX_DEPTH; collects the tables of the path on its way out."""

    def __init__(self) -> None:
        super().__init__(f"tables are nested deeper than {MAX_DEPTH} levels")
        self.tables: list[Any] = []


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
