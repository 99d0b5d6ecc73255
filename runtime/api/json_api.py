"""`JSON`: parse and stringify with the conversion rules of the spec."""

from __future__ import annotations

import json
from typing import Any

from llmspell.runtime.api.base import (
    ApiError,
    ApiNamespace,
    ValidationError,
    check_options,
    ensure_data,
    require_int,
    require_str,
    require_table,
)

# Deeper data cannot cross into a script anyway (the engines convert tables up to this depth),
# and Python's own parser would hit its recursion limit not far beyond.
MAX_NESTING = 200


class JsonApi(ApiNamespace):
    """Parse and serialise JSON text."""

    api_name = "JSON"

    def parse(self, text: str) -> Any:
        """Parse JSON text into a value (`null` → nil, arrays → lists, objects → tables).

        Raises `JSON.parse: <reason> at line L column C` on invalid input, and for arrays and
        objects nested deeper than 200 levels."""
        text = require_str("JSON.parse", "text", text, allow_empty=True)
        too_deep = ValidationError(
            f"JSON.parse: arrays and objects nested deeper than {MAX_NESTING} levels are not "
            "supported"
        )
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(
                f"JSON.parse: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
            ) from None
        except RecursionError:
            raise too_deep from None
        if _nesting(value) > MAX_NESTING:
            raise too_deep
        return value

    def stringify(self, value: Any, options: dict[str, Any] | None = None) -> str:
        """Serialise a value as JSON text. Options: `indent` (spaces, default compact),
        `sort_keys` (default true; with false, keys keep their insertion order where the engine
        has one: Python dicts do, Lua tables do not, so from Lua keys always come out sorted).
        `{}` → `{}`, `{1,2}` → `[1,2]`, mixed tables keep all keys."""
        opts = require_table("JSON.stringify", "options", options)
        check_options("JSON.stringify", opts, {"indent", "sort_keys"})
        indent = opts.get("indent")
        if indent is not None:
            indent = require_int("JSON.stringify", "options.indent", indent, minimum=0, maximum=16)
        sort_keys = opts.get("sort_keys", True)
        if not isinstance(sort_keys, bool):
            raise ApiError(
                f"JSON.stringify: options.sort_keys must be a boolean, got {sort_keys!r}"
            )
        ensure_data("JSON.stringify", "value", value)
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(
            value, indent=indent, sort_keys=sort_keys, separators=separators, ensure_ascii=False
        )


def _nesting(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed value (without recursion)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest
