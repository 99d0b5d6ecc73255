"""The built-in tools of a runtime, as its `[tools]` config allows them, and the reference
system's (rs-llmspell's) names for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools import (
    archive_tool,
    calculator,
    citation_tool,
    csv_tool,
    datetime_tool,
    diff_tool,
    encoding_tools,
    file_converter,
    file_search,
    file_tool,
    graph_tool,
    json_tool,
    system_tools,
    text_tools,
    unavailable,
    url_tool,
    validation_tool,
)

if TYPE_CHECKING:
    from llmspell.runtime.config import ToolsConfig
    from llmspell.runtime.tools.registry import Tool

# The reference system's names of tools llmspell calls otherwise (its documents also write
# every name with underscores: `file_operations`; the registry reads those as hyphens).
REFERENCE_NAMES = {
    "date-time-handler": "datetime-handler",
    "template-engine": "template-creator",
}


def builtin_tools(config: ToolsConfig, limits: HostLimits = UNLIMITED) -> list[Tool]:
    """Every built-in; `http-request`, `api-tester` and `webhook-caller` only when
    `tools.network_allowed` is true; the reference system's tools llmspell does not offer, as
    tools that say why. Tools that can work long
    check the `limits` of the script that runs them."""
    paths = config.allowed_paths
    tools = [
        calculator.TOOL,
        json_tool.TOOL,
        text_tools.TEXT_MANIPULATOR,
        text_tools.TEMPLATE_CREATOR,
        encoding_tools.HASH_CALCULATOR,
        encoding_tools.BASE64_ENCODER,
        encoding_tools.UUID_GENERATOR,
        datetime_tool.TOOL,
        diff_tool.TOOL,
        validation_tool.TOOL,
        url_tool.TOOL,
        graph_tool.TOOL,
        citation_tool.TOOL,
        system_tools.ENVIRONMENT_READER,
        system_tools.SYSTEM_MONITOR,
        csv_tool.make_tool(paths, limits),
        file_tool.make_tool(paths),
        file_search.make_tool(paths, limits),
        file_converter.make_tool(paths, limits),
        archive_tool.make_tool(paths, limits),
    ]
    if config.network_allowed:
        from llmspell.runtime.tools import http_tool, web_tools

        tools += [http_tool.TOOL, web_tools.API_TESTER, web_tools.make_webhook_caller(limits)]
    offered = {tool.name for tool in tools}
    return tools + [tool for tool in unavailable.unavailable_tools() if tool.name not in offered]
