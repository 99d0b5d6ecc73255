"""`JSON`: parse and stringify with the conversion rules of the spec."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from llmspell.runtime.api.arguments import (
    check_options,
    ensure_data,
    require_int,
    require_str,
    require_table,
    swap_null,
)
from llmspell.runtime.api.base import JSON_NULL, ApiContext, ApiError, ApiNamespace, ValidationError
from llmspell.runtime.host_limits import Ticker

# Deeper data cannot cross into a script anyway (the engines convert tables up to this depth),
# and Python's own parser would hit its recursion limit not far beyond.
MAX_NESTING = 200


class JsonApi(ApiNamespace):
    """Parse and serialise JSON text; `JSON.null` stands for null where nil cannot.

    In a Lua table a nil is a missing key, so `JSON.parse("[1,null,3]")` has a hole at 2 (its
    length is unreliable), while `JSON.parse("[1,null,3]", {keep_null = true})` is
    `{1, JSON.null, 3}`. `JSON.stringify` and `State.save` write `JSON.null` as null."""

    api_name = "JSON"

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx)
        self.null = JSON_NULL

    def parse(self, text: str, options: dict[str, Any] | None = None) -> Any:
        """Parse JSON text into a value: arrays → lists, objects → tables, `null` → nil (a hole
        in a Lua array), or with `{keep_null = true}` → `JSON.null`, so arrays keep their length
        and objects their keys.

        Raises `JSON.parse: <reason> at line L column C` on invalid input, and for arrays and
        objects nested deeper than 200 levels."""
        text = require_str("JSON.parse", "text", text, allow_empty=True)
        opts = require_table("JSON.parse", "options", options)
        check_options("JSON.parse", opts, {"keep_null"})
        keep_null = opts.get("keep_null", False)
        if not isinstance(keep_null, bool):
            raise ValidationError(
                f"JSON.parse: options.keep_null must be a boolean, got {keep_null!r}"
            )
        too_deep = ValidationError(
            f"JSON.parse: arrays and objects nested deeper than {MAX_NESTING} levels are not "
            "supported"
        )
        limits = self._ctx.infrastructure.limits
        limits.check_size("the JSON text", len(text))
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(
                f"JSON.parse: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
            ) from None
        except RecursionError:
            raise too_deep from None
        tick = Ticker(limits.check_stop).tick
        if _nesting(value, tick) > MAX_NESTING:
            raise too_deep
        return swap_null(value, None, JSON_NULL, tick) if keep_null else value

    def stringify(self, value: Any, options: dict[str, Any] | None = None) -> str:
        """Serialise a value as JSON text. Options: `indent` (spaces, default compact),
        `sort_keys` (default true; with false, keys keep their insertion order where the engine
        has one: Python dicts do, Lua tables do not, so from Lua keys always come out sorted).
        `{}` → `{}`, `{1,2}` → `[1,2]`, mixed tables keep all keys, `JSON.null` → `null`;
        a table that contains itself raises."""
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
        value = ensure_data("JSON.stringify", "value", value, self._ctx.infrastructure.limits)
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(
            value, indent=indent, sort_keys=sort_keys, separators=separators, ensure_ascii=False
        )


def _nesting(value: Any, tick: Callable[[], None]) -> int:
    """How deeply arrays and objects nest in a parsed value (without recursion)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        tick()
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
