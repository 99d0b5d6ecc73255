"""The script globals, one module per global, built once per runtime by `build_globals`."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.api.base import ApiContext, ApiError, ApiNamespace, ValidationError
from llmspell.runtime.api.config_api import ConfigApi
from llmspell.runtime.api.debug_api import DebugApi
from llmspell.runtime.api.display_api import DisplayApi, DisplayFunction
from llmspell.runtime.api.help_api import HelpFunction
from llmspell.runtime.api.json_api import JsonApi
from llmspell.runtime.api.state_api import StateApi
from llmspell.runtime.api.streaming_api import StreamingApi
from llmspell.runtime.api.tenant_api import TenantApi

__all__ = ["ApiContext", "ApiError", "ApiNamespace", "ValidationError", "build_globals"]


def build_globals(ctx: ApiContext) -> dict[str, Any]:
    """Name → API namespace (or function) for every global a script sees."""
    display = DisplayFunction(ctx)
    helper = HelpFunction(ctx)
    return {
        "JSON": JsonApi(ctx),
        "State": StateApi(ctx),
        "Config": ConfigApi(ctx),
        "Debug": DebugApi(ctx),
        "Streaming": StreamingApi(ctx),
        "Tenant": TenantApi(ctx),
        "Display": DisplayApi(ctx),
        "display": display.display,
        "help": helper.help,
    }
