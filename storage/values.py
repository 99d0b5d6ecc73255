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


def require_name(what: str, value: Any, max_length: int = 256) -> str:
    """`value` if it is a string of 1 to `max_length` characters without NUL, CR or LF (it is
    a key, shown on one line), else ValueError naming `what`."""
    require_text(what, value)
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters, got {len(value)}")
    if any(c in value for c in "\x00\r\n"):
        raise ValueError(f"{what} must not contain NUL, CR or LF characters, got {value!r}")
    return str(value)


def canonical_json(what: str, value: Any, max_bytes: int | None = None) -> str:
    """`value` as canonical JSON text (sorted keys, no spaces, UTF-8: equal values give equal
    text, so it can be hashed), or ValueError if it is not JSON-able or is larger than
    `max_bytes` (named `what`)."""
    try:
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        )
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) included
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None
    if max_bytes is not None and size > max_bytes:
        raise ValueError(
            f"{what} is {size} bytes as JSON; the limit is {max_bytes} bytes "
            f"({max_bytes / 1048576:g} MiB, storage.max_value_mb)"
        )
    return text


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
