"""Checks of the values components store: names, limits, JSON objects, JSON equality.

One place so every component refuses the same bad input with the same words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def require_text(what: str, value: Any) -> str:
    """`value` if it is a non-empty string, else ValueError naming `what`."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def check_limit(value: int | None) -> int | None:
    """`value` if it is None or a non-negative integer."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {value!r}")
    return value


def json_object(what: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """`value` as a plain JSON object (a copy), {} for None; ValueError if it is not one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a table of named values, got {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: true is not 1, but 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)
