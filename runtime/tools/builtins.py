"""The built-in tools of a runtime, as its `[tools]` config allows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools import (
    calculator,
    csv_tool,
    datetime_tool,
    encoding_tools,
    file_tool,
    json_tool,
    text_tools,
)

if TYPE_CHECKING:
    from llmspell.runtime.config import ToolsConfig
    from llmspell.runtime.tools.registry import Tool


def builtin_tools(config: ToolsConfig, limits: HostLimits = UNLIMITED) -> list[Tool]:
    """Every built-in; `http-request` only when `tools.network_allowed` is true. Tools that
    can work long check the `limits` of the script that runs them."""
    tools = [
        calculator.TOOL,
        json_tool.TOOL,
        text_tools.TEXT_MANIPULATOR,
        text_tools.TEMPLATE_CREATOR,
        encoding_tools.HASH_CALCULATOR,
        encoding_tools.BASE64_ENCODER,
        encoding_tools.UUID_GENERATOR,
        datetime_tool.TOOL,
        csv_tool.make_tool(config.allowed_paths, limits),
        file_tool.make_tool(config.allowed_paths),
    ]
    if config.network_allowed:
        from llmspell.runtime.tools import http_tool

        tools.append(http_tool.TOOL)
    return tools
