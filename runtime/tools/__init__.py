"""Tools: the registry scripts reach through `Tool` (and workflows and agents through it), the
built-in tools, and the allowed-paths rule for anything that touches files for a script."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.tools.paths import PathNotAllowed, resolve_allowed_path
    from llmspell.runtime.tools.registry import (
        Tool,
        ToolCall,
        ToolFailure,
        ToolOutput,
        ToolRegistry,
    )

# imported on first use: the sandbox and `display` need only `tools.paths`, and importing it
# runs this file; the registry loads when a script first reaches a tool
_WHERE = {
    "PathNotAllowed": "paths",
    "resolve_allowed_path": "paths",
    "Tool": "registry",
    "ToolCall": "registry",
    "ToolFailure": "registry",
    "ToolOutput": "registry",
    "ToolRegistry": "registry",
}

__all__ = [
    "PathNotAllowed",
    "Tool",
    "ToolCall",
    "ToolFailure",
    "ToolOutput",
    "ToolRegistry",
    "resolve_allowed_path",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
