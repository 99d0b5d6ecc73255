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


class ScriptStopping(Exception):
    """Mixed into the error of a script callback that failed because the script is being
    stopped (interrupt, timeout, out of memory): code that records a callback's failure and
    carries on must re-raise this instead."""


class InvalidArgument(DomainError, ValueError):
    """An argument has the wrong type or value; scripts see it as `ValidationError`."""

    ename = "ValidationError"


class Disabled(DomainError):
    """A feature is switched off in the config; the message names the setting."""

    def __init__(self, setting: str) -> None:
        super().__init__(f"disabled in config ({setting} = false)")
        self.setting = setting


class Interrupted(DomainError):
    """A call that waits (a receive with a timeout) was stopped by an interrupt or the
    script's time limit; the engine then ends the script."""

    ename = "KeyboardInterrupt"


class ServiceError(DomainError):
    """An outside service (an embedding server, an LLM provider) failed or is not configured."""

    ename = "ServiceError"


def kind_of(value: Any) -> str:
    """`integer`, `table`, `nil`, `binary data`... for a plain value; `function` for callables."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    return "function" if callable(value) else type(value).__name__


class NotFound(DomainError, LookupError):
    """The named thing (tool, workflow execution, ...) does not exist."""

    ename = "NotFound"


class InvalidState(DomainError):
    """The operation is not allowed in the thing's current state (resuming a finished run)."""

    ename = "InvalidState"
