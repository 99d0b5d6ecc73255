"""Errors the runtime's managers raise. They say what was wrong and what is allowed, but not
which script function was called: the API layer (`llmspell.runtime.api.base`) adds that."""

from __future__ import annotations

from typing import Any

# How messages name a value's type: in the words scripts use, whatever the engine.
_KINDS = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "table",
    list: "list",
    type(None): "nil",
    bytes: "binary data",
}


class DomainError(Exception):
    """A manager refused an operation; scripts see it as `ApiError` (or `ename`)."""

    ename = "ApiError"


class InvalidArgument(DomainError, ValueError):
    """An argument has the wrong type or value; scripts see it as `ValidationError`."""

    ename = "ValidationError"


class NotFound(DomainError):
    """What a call names does not exist (for this tenant)."""

    ename = "NotFound"


class Disabled(DomainError):
    """The feature is turned off in the configuration."""

    ename = "Disabled"


class ServiceError(DomainError):
    """An outside service (an embedding server, an LLM provider) failed or is not configured."""

    ename = "ServiceError"


def kind_of(value: Any) -> str:
    """`integer`, `table`, `nil`, `binary data`... for a plain value; `function` for callables."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    return "function" if callable(value) else type(value).__name__
