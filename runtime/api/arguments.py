"""Checks of the arguments scripts pass to API functions, shared by every global: each error
names the function, the argument, what was given and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from llmspell.runtime.api.base import JSON_NULL, OpaqueValue, ValidationError
from llmspell.runtime.errors import kind_of
from llmspell.runtime.host_limits import UNLIMITED, HostLimits, Ticker
from llmspell.storage.values import MAX_INTEGER, shown


def type_name(value: Any) -> str:
    """How an error names the type of an argument (`integer`, `table`, `function`...)."""
    if isinstance(value, OpaqueValue):
        return value.kind
    if isinstance(value, bytes):
        return "string"
    return kind_of(value)


def require_str(
    fn: str, arg: str, value: Any, *, max_len: int | None = None, allow_empty: bool = False
) -> str:
    if isinstance(value, bytes):
        raise ValidationError(f"{fn}: {arg} must be text, got binary data")
    if not isinstance(value, str):
        raise ValidationError(f"{fn}: {arg} must be a string, got {type_name(value)}")
    if not allow_empty and not value:
        raise ValidationError(f"{fn}: {arg} must be a non-empty string")
    if max_len is not None and len(value) > max_len:
        raise ValidationError(f"{fn}: {arg} must be at most {max_len} characters, got {len(value)}")
    return value


def optional_str(fn: str, arg: str, value: Any) -> str | None:
    return None if value is None else require_str(fn, arg, value, allow_empty=True)


def require_int(
    fn: str, arg: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """`value` as an int (a float with an integral value counts), from `minimum` to `maximum`
    and never beyond what storage holds (MAX_INTEGER); ValidationError naming `fn` and `arg`."""
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise ValidationError(
            f"{fn}: {arg} must be an integer, got {type_name(value)} {shown(value)}"
        )
    if minimum is not None and value < minimum:
        raise ValidationError(f"{fn}: {arg} must be >= {minimum}, got {_number(value)}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{fn}: {arg} must be <= {maximum}, got {_number(value)}")
    if value > MAX_INTEGER:
        raise ValidationError(
            f"{fn}: {arg} must be <= {MAX_INTEGER} (the largest integer storage holds), "
            f"got {_number(value)}"
        )
    if value < -MAX_INTEGER - 1:
        raise ValidationError(
            f"{fn}: {arg} must be >= {-MAX_INTEGER - 1} (the smallest integer storage holds), "
            f"got {_number(value)}"
        )
    return int(value)


def _number(value: int | float) -> str:
    """An integral number as a message shows it: digits while a float is exact, else 1e+300."""
    if isinstance(value, float) and abs(value) >= 2**53:
        return repr(value)
    return shown(int(value))


def optional_number(fn: str, arg: str, value: Any) -> float | None:
    """A finite number (integer or float, not a boolean) as a float, or None for nil."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{fn}: {arg} must be a number, got {type_name(value)}")
    if not math.isfinite(value):
        raise ValidationError(f"{fn}: {arg} must be a finite number, got {value}")
    return float(value)


def require_table(fn: str, arg: str, value: Any) -> dict[str, Any]:
    """An options table: `{}` arrives as an empty dict (or list from an empty Lua table)."""
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{fn}: {arg} must be a table, got {type_name(value)}")
    return value


def check_options(fn: str, options: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Reject option keys a function does not know, so nothing is silently ignored."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValidationError(
            f"{fn}: unknown option {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def ensure_data(fn: str, arg: str, value: Any, limits: HostLimits = UNLIMITED) -> Any:
    """Check `value` is plain data (JSON-able): no functions, binary strings, NaN or cycles.
    Returns it with every `JSON.null` as None (a copy only when it holds one). A value of
    millions of items takes seconds: `limits` (the script's) are checked on the way."""
    tick = Ticker(limits.check_stop).tick
    if _has_json_null(fn, arg, value, None, set(), tick):
        return swap_null(value, JSON_NULL, None, tick)
    return value


# Where a value sits inside an argument, spelt out only for an error: (parent, key, is_index).
_Path = tuple[Any, Any, bool] | None


def _has_json_null(
    fn: str, arg: str, value: Any, path: _Path, containers: set[int], tick: Callable[[], None]
) -> bool:
    """Raise ValidationError unless `value` is data; whether it holds a JSON.null."""
    if value is None or isinstance(value, (bool, int, str)):
        return False
    if value is JSON_NULL:
        return True
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValidationError(f"{fn}: {_where(arg, path)} must be a finite number, got {value}")
        return False
    if isinstance(value, (list, dict)):
        if id(value) in containers:
            raise ValidationError(
                f"{fn}: {_where(arg, path)} refers back to a table that contains it (a cycle); "
                "only tree-shaped values are data"
            )
        containers.add(id(value))
        found = False
        if isinstance(value, list):
            for i, item in enumerate(value, start=1):
                tick()
                found = _has_json_null(fn, arg, item, (path, i, True), containers, tick) or found
        else:
            for k, item in value.items():
                tick()
                found = _has_json_null(fn, arg, item, (path, k, False), containers, tick) or found
        containers.discard(id(value))
        return found
    if isinstance(value, bytes):
        raise ValidationError(
            f"{fn}: {_where(arg, path)} is binary data, which cannot be stored as a value"
        )
    raise ValidationError(
        f"{fn}: {_where(arg, path)} must be data (nil, boolean, number, string or table), "
        f"got {type_name(value)}"
    )


def _where(arg: str, path: _Path) -> str:
    parts = []
    while path is not None:
        path, key, is_index = path
        parts.append(f"[{key}]" if is_index else f".{key}")
    return arg + "".join(reversed(parts))


def swap_null(value: Any, old: Any, new: Any, tick: Callable[[], None] = lambda: None) -> Any:
    """`value` with every `old` null (None or JSON_NULL) inside it replaced by `new`; `tick`
    is called once per item (a `host_limits.Ticker`'s, for big values)."""
    tick()
    if value is old:
        return new
    if isinstance(value, list):
        return [swap_null(item, old, new, tick) for item in value]
    if isinstance(value, dict):
        return {k: swap_null(item, old, new, tick) for k, item in value.items()}
    return value
