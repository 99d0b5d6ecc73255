"""Tools: the registry scripts reach through `Tool` (and workflows and agents through it), the
built-in tools, and the allowed-paths rule for anything that touches files for a script."""

from llmspell.runtime.tools.paths import PathNotAllowed, resolve_allowed_path
from llmspell.runtime.tools.registry import (
    Tool,
    ToolCall,
    ToolFailure,
    ToolOutput,
    ToolRegistry,
)

__all__ = [
    "PathNotAllowed",
    "Tool",
    "ToolCall",
    "ToolFailure",
    "ToolOutput",
    "ToolRegistry",
    "resolve_allowed_path",
]
