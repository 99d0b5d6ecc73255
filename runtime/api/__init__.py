"""The script globals: one module per global (`<name>_api.py`), each declaring an
`ApiNamespace` subclass whose `api_name` is the global's name (`State`), or a holder with
`api_name = ""` whose public methods become global functions (`display`, `help`).

`build_globals` finds them: adding a global is adding its module.
"""

from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module
from typing import Any

from llmspell.runtime.api.base import (
    ApiContext,
    ApiError,
    ApiNamespace,
    ValidationError,
    public_functions,
)

__all__ = [
    "ApiContext",
    "ApiError",
    "ApiNamespace",
    "ValidationError",
    "build_globals",
    "global_classes",
]


def global_classes() -> list[type[ApiNamespace]]:
    """Every script global's class, from the `*_api` modules of this package."""
    found: list[type[ApiNamespace]] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.endswith("_api"):
            continue
        module = import_module(f"{__name__}.{info.name}")
        for _, member in inspect.getmembers(module, inspect.isclass):
            if not issubclass(member, ApiNamespace) or member.__module__ != module.__name__:
                continue
            namespace: type[ApiNamespace] = member
            if "." not in namespace.api_name:  # `Memory.episodic` is a sub-table, not a global
                found.append(namespace)
    return found


def build_globals(ctx: ApiContext) -> dict[str, Any]:
    """Name → API namespace (or function) for every global a script sees."""
    out: dict[str, Any] = {}
    for cls in global_classes():
        namespace = cls(ctx)
        if cls.api_name:
            out[cls.api_name] = namespace
        else:
            out.update(public_functions(namespace))
    return dict(sorted(out.items()))
