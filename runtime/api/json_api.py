"""`JSON`: parse and stringify with the conversion rules of the spec."""

from __future__ import annotations

import json
from typing import Any

from llmspell.runtime.api.base import (
    ApiError,
    ApiNamespace,
    check_options,
    ensure_data,
    require_int,
    require_str,
    require_table,
)


class JsonApi(ApiNamespace):
    """Parse and serialise JSON text."""

    api_name = "JSON"

    def parse(self, text: str) -> Any:
        """Parse JSON text into a value (`null` → nil, arrays → lists, objects → tables).

        Raises `JSON.parse: <reason> at line L column C` on invalid input."""
        text = require_str("JSON.parse", "text", text, allow_empty=True)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(
                f"JSON.parse: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
            ) from None

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
