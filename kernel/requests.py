"""What each shell and control request must carry (Jupyter messaging spec, protocol 5.x): the
kernel checks a request's content before ipykernel's handler reads it, so a malformed request
gets an error reply naming the field instead of no reply at all."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldRule:
    """One content field: whether it must be present, and what a valid value is."""

    required: bool
    check: Callable[[Any], bool]
    expected: str  # "a boolean", for the error message


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_expressions(v: Any) -> bool:
    return isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(e, str) for k, e in v.items()
    )


def _is_cursor(v: Any) -> bool:
    return v is None or (_is_int(v) and v >= 0)


def _is_count(v: Any) -> bool:
    return _is_int(v) and v >= 0


def _is_names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(item, str) for item in v)


BOOLEAN = FieldRule(False, _is_bool, "a boolean")
STRING = FieldRule(False, _is_str, "a string")
INTEGER = FieldRule(False, _is_int, "an integer")
CODE = FieldRule(True, _is_str, "a string")
CURSOR = FieldRule(True, _is_cursor, "a non-negative integer (a position in code)")

RULES: dict[str, dict[str, FieldRule]] = {
    "execute_request": {
        "code": CODE,
        "silent": BOOLEAN,
        "store_history": BOOLEAN,
        "user_expressions": FieldRule(
            False, _is_expressions, "an object mapping names to code strings"
        ),
        "allow_stdin": BOOLEAN,
        "stop_on_error": BOOLEAN,
    },
    "complete_request": {"code": CODE, "cursor_pos": CURSOR},
    "inspect_request": {
        "code": CODE,
        "cursor_pos": CURSOR,
        "detail_level": FieldRule(False, lambda v: v in (0, 1) and _is_int(v), "0 or 1"),
        "omit_sections": FieldRule(False, _is_names, "a list of section names"),
    },
    "is_complete_request": {"code": CODE},
    "history_request": {
        "hist_access_type": FieldRule(
            True, lambda v: v in ("tail", "range", "search"), "one of tail, range, search"
        ),
        "output": BOOLEAN,
        "raw": BOOLEAN,
        "session": INTEGER,
        "start": INTEGER,
        "stop": INTEGER,
        "n": FieldRule(False, _is_count, "a non-negative integer (how many cells)"),
        "pattern": STRING,
        "unique": BOOLEAN,
    },
    "comm_info_request": {"target_name": STRING},
    "shutdown_request": {"restart": FieldRule(True, _is_bool, "a boolean")},
    # Only the content's shape: the kernel answers every debug request with "no debugger".
    "debug_request": {},
    "kernel_info_request": {},
    "connect_request": {},
    "interrupt_request": {},
    "usage_request": {},
    "create_subshell_request": {},
    "delete_subshell_request": {},
    "list_subshell_request": {},
}


def request_problem(msg_type: str, content: Any, metadata: Any = None) -> str | None:
    """What is wrong with a request's content or metadata (naming the field), or None when it
    is valid (or not a request this module knows)."""
    rules = RULES.get(msg_type)
    if rules is None:
        return None
    if not isinstance(content, Mapping):
        return f"{msg_type}: content must be an object, got {_json_type(content)}"
    if metadata is not None and not isinstance(metadata, Mapping):
        return f"{msg_type}: metadata must be an object, got {_json_type(metadata)}"
    for name, rule in rules.items():
        if name not in content:
            if rule.required:
                return f"{msg_type}: content.{name} is missing; it must be {rule.expected}"
            continue
        value = content[name]
        # Optional fields may be null (clients send "not given" that way).
        if value is None and not rule.required:
            continue
        if not rule.check(value):
            return (
                f"{msg_type}: content.{name} must be {rule.expected}, "
                f"got {_json_type(value)} {value!r}"[:300]
            )
    if msg_type in ("complete_request", "inspect_request"):
        cursor = content.get("cursor_pos")
        if cursor is not None and cursor > len(content["code"]):
            return (
                f"{msg_type}: content.cursor_pos {cursor} is past the end of code "
                f"({len(content['code'])} characters)"
            )
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
