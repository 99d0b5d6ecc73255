"""Checks of the values components store: names, limits, JSON objects, JSON equality, and
text without NUL characters.

One place so every component refuses the same bad input with the same words, on every backend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# The largest integer SQLite (INTEGER) and PostgreSQL (bigint) hold: counts, limits, versions.
MAX_INTEGER = 2**63 - 1
# How much of a value an error message quotes (a 100 kB argument is not repeated back).
SHOWN_CHARS = 80
# PostgreSQL keeps no NUL in text or jsonb (SQLite would): every backend refuses it, here.
NUL_REFUSED = "contains a NUL byte (\\0), which storage does not accept"
# `\u0000` in JSON text that is an escape, not a `\\` followed by `u0000`.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# Built once: `json.dumps` with options builds a new encoder on every call (a third of a small
# value's encoding time, on the state write's hot path).
_ENCODERS = {
    sort_keys: json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False
    )
    for sort_keys in (False, True)
}


def mebibytes(value: float) -> int:
    """A size the config gives in MiB (`storage.max_value_mb`), in bytes."""
    return int(value * 1024 * 1024)


def refuse_nul(what: str, value: Any) -> None:
    """ValueError naming `what` (and where inside it: `metadata.tags[2]`) when a string in
    `value` (a string, or a key or a value at any depth of a table) contains a NUL character."""
    where = _nul_path(value)
    if where is not None:
        raise ValueError(f"{what}{where} {NUL_REFUSED}")


def refuse_nul_in_json(what: str, text: str, value: Any) -> None:
    """`refuse_nul` for a value already serialised as `text`: only the text is scanned unless
    it holds an escaped NUL (then `value` is, to say where)."""
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        refuse_nul(what, value)


def _nul_path(value: Any) -> str | None:
    """Where `value` holds a NUL, as a suffix of its name: the empty string for a string that
    holds one, `.key` / `[i]` (1-based, as scripts count) down to the first such string in a
    table, ` (the key 'a\\x00')` for a key; None when it holds none."""
    if isinstance(value, str):
        return "" if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return f" (the key {key!r})"
            inner = _nul_path(item)
            if inner is not None:
                return f".{key}{inner}"
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value, start=1):
            inner = _nul_path(item)
            if inner is not None:
                return f"[{index}]{inner}"
    return None


def message_text(message: str | None) -> str | None:
    """An error message as storage keeps it: each NUL written as `\\0` (a message is shown,
    not compared, and the script that raised it should not make recording it fail)."""
    return None if message is None else message.replace("\x00", "\\0")


def require_text(what: str, value: Any) -> str:
    """`value` if it is a non-empty string without NUL, else ValueError naming `what`."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if "\x00" in value:
        raise ValueError(f"{what} {NUL_REFUSED}")
    return value


def optional_text(what: str, value: Any) -> str | None:
    """`value` if it is None or a string without NUL, else ValueError naming `what`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string or nil, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{what} {NUL_REFUSED}")
    return value


def require_name(what: str, value: Any, max_length: int = 256) -> str:
    """`value` if it is a string of 1 to `max_length` characters without NUL, CR or LF (it is
    a key, shown on one line), else ValueError naming `what`."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters, got {len(value)}")
    if any(c in value for c in "\x00\r\n"):
        raise ValueError(f"{what} must not contain NUL, CR or LF characters, got {value!r}")
    return str(value)


def canonical_json(what: str, value: Any, max_bytes: int | None = None) -> str:
    """`value` as canonical JSON text (sorted keys, no spaces, UTF-8: equal values give equal
    text, so it can be hashed), or ValueError if it is not JSON-able, holds a NUL character or
    is larger than `max_bytes` (named `what`)."""
    return json_text(what, value, max_bytes, sort_keys=True)


def json_text(
    what: str, value: Any, max_bytes: int | None = None, *, sort_keys: bool = False
) -> str:
    """`value` as compact JSON text, or ValueError (naming it `what`) if it is not JSON-able,
    holds a NUL character or is larger than `max_bytes` as UTF-8."""
    try:
        text = _ENCODERS[sort_keys].encode(value)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) included
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None
    refuse_nul_in_json(what, text, value)
    if max_bytes is not None and size > max_bytes:
        raise ValueError(
            f"{what} is {size} bytes as JSON; the limit is {max_bytes} bytes "
            f"({max_bytes / 1048576:g} MiB, storage.max_value_mb)"
        )
    return text


def check_limit(value: int | None) -> int | None:
    """`value` if it is None or an integer from 0 to MAX_INTEGER."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INTEGER
    ):
        raise ValueError(
            f"limit must be a non-negative integer (0 to {MAX_INTEGER}) or None, got {shown(value)}"
        )
    return value


def json_object(what: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """`value` as a plain JSON object (a copy), {} for None; ValueError if it is not one or
    holds a NUL character."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a table of named values, got {type(value).__name__}")
    try:
        text = json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None
    refuse_nul_in_json(what, text, value)
    return dict(json.loads(text))


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: true is not 1, but 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def shown(value: Any) -> str:
    """`value` as an error message quotes it: its repr, cut to about SHOWN_CHARS characters
    with the full length said (`'aaaa…' (102400 characters)`)."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    if isinstance(value, str):
        return f"{value[: SHOWN_CHARS - 20]!r}… ({len(value)} characters)"
    if isinstance(value, int):
        return f"an integer of {len(str(abs(value)))} digits"
    return text[: SHOWN_CHARS - 1] + "…"
