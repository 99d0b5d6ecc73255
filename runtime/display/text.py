"""How a value reads inside text (a template, a workflow placeholder): as Lua writes it."""

from __future__ import annotations

import json
from typing import Any


def text_of(value: Any) -> str:
    """Numbers as Lua writes them (`42`, `3.5`, `2.0`), booleans and nil by name, tables as
    JSON with sorted keys, binary strings decoded as UTF-8 (invalid bytes replaced)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return f"{value:.1f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
