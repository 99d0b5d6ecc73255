"""The script globals: one module per global (`<name>_api.py`), each declaring an
`ApiNamespace` subclass whose `api_name` is the global's name (`State`), or a holder with
`api_name = ""` whose public methods become global functions (`display`, `help`).

`build_globals` finds them (through the cached catalog, `catalog.py`): adding a global is
adding its module.
"""

from __future__ import annotations

from llmspell.runtime.api.base import (
    ApiContext,
    ApiError,
    ApiNamespace,
    ValidationError,
)
from llmspell.runtime.api.catalog import DeferredFunction, Globals, global_classes
from llmspell.runtime.api.catalog import catalog as globals_catalog

__all__ = [
    "ApiContext",
    "ApiError",
    "ApiNamespace",
    "DeferredFunction",
    "Globals",
    "ValidationError",
    "build_globals",
    "global_classes",
]


def build_globals(ctx: ApiContext) -> Globals:
    """Name → API namespace (or function) for every global a script sees, each built on first
    access."""
    return Globals(ctx, globals_catalog().entries)
