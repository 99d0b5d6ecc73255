"""Dumps of script values with options (`Debug.dumpCompact/dumpVerbose/dumpWithOptions`): Lua
table constructors, one line or indented, with depth and string-length limits."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from llmspell.runtime.api.arguments import type_name
from llmspell.runtime.api.base import JSON_NULL, OpaqueValue

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class DumpOptions:
    max_depth: int = 10
    indent_size: int = 2  # 0 = one line
    max_string_length: int = 0  # 0 = whole strings
    show_types: bool = False


def dump_value(value: Any, options: DumpOptions) -> str:
    """`value` (a converted script value) as a Lua constructor under `options`."""
    return _dump(value, options, 0, set())


def _dump(value: Any, options: DumpOptions, depth: int, seen: set[int]) -> str:
    if isinstance(value, dict | list | tuple):
        return _dump_table(value, options, depth, seen)
    text = _scalar(value, options)
    if options.show_types:
        return f"{text} --[[{_lua_type(value)}]]"
    return text


def _dump_table(
    value: dict[Any, Any] | list[Any] | tuple[Any, ...], options: DumpOptions, depth: int,
    seen: set[int],
) -> str:  # fmt: skip
    if not value:
        return "{}"
    if depth >= options.max_depth:
        return "{...}"
    if id(value) in seen:
        return "{<cycle>}"
    seen = seen | {id(value)}
    if isinstance(value, dict):
        items = [f"{_key(k)} = {_dump(v, options, depth + 1, seen)}" for k, v in _sorted(value)]
    else:
        items = [_dump(v, options, depth + 1, seen) for v in value]
    if options.indent_size <= 0:
        return "{" + ", ".join(items) + "}"
    inner = " " * (options.indent_size * (depth + 1))
    outer = " " * (options.indent_size * depth)
    return "{\n" + ",\n".join(inner + item for item in items) + "\n" + outer + "}"


def _sorted(table: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return sorted(table.items(), key=lambda kv: (not isinstance(kv[0], int | float), str(kv[0])))


def _key(key: Any) -> str:
    if isinstance(key, str) and _IDENTIFIER.fullmatch(key):
        return key
    return f"[{_scalar(key, DumpOptions())}]"


def _scalar(value: Any, options: DumpOptions) -> str:
    if value is None or value is JSON_NULL:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "math.huge" if value > 0 else "-math.huge"
        return repr(int(value)) + ".0" if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        text: str = value
        limit = options.max_string_length
        if limit and len(text) > limit:
            text = text[:limit] + f"...({len(text) - limit} more)"
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, OpaqueValue):
        return f"<{value.kind}>"
    return f"<{type_name(value)}>"


def _lua_type(value: Any) -> str:
    if value is None or value is JSON_NULL:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str | bytes):
        return "string"
    return type_name(value)
