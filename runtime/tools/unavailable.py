"""The reference system's tools llmspell does not offer, each with the reason. They are in the
registry so `Tool.exists` and `Tool.get_info` know them; running one fails with its reason."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.tools.registry import ANY_PARAMS, Tool, ToolFailure

_NETWORK = (
    "llmspell does not offer it; with tools.network_allowed = true, http-request makes the "
    "requests it would make"
)
# Offered when the network is allowed (web_tools.py).
_NEEDS_NETWORK = (
    "it sends requests, and tools.network_allowed is false; set it to true to enable it"
)
UNAVAILABLE: dict[str, tuple[str, str]] = {
    # name: (category, why)
    "process-executor": (
        "system",
        "scripts never start processes (Config.getSecurity().allow_process_spawn is always "
        "false); no setting enables it",
    ),
    "email-sender": (
        "web",
        "sending mail would need SMTP credentials in reach of scripts; no setting enables it",
    ),
    "database-connector": (
        "data",
        "scripts reach databases only through llmspell's storage (State, Memory, RAG), which "
        "keeps tenants apart; no setting enables a raw connection",
    ),
    "file-watcher": (
        "filesystem",
        "watching needs a background thread outliving the call; poll with file-operations "
        "(exists/list) instead",
    ),
    "audio-processor": ("media", "llmspell has no audio library; no setting enables it"),
    "video-processor": ("media", "llmspell has no video library; no setting enables it"),
    "image-processor": ("media", "llmspell has no image library; no setting enables it"),
    "pdf-processor": ("document", "llmspell has no PDF library; no setting enables it"),
    "web-search": (
        "web",
        "it needs a search provider's API key in reach of scripts; use http-request "
        "(tools.network_allowed = true) against an API you choose",
    ),
    "web-scraper": ("web", _NETWORK),
    "api-tester": ("web", _NEEDS_NETWORK),
    "webhook-caller": ("web", _NEEDS_NETWORK),
    "webpage-monitor": ("web", _NETWORK),
    "sitemap-crawler": ("web", _NETWORK),
    "service-checker": ("system", _NETWORK),
    "graphql-query": ("web", _NETWORK),
}


def unavailable_tools() -> list[Tool]:
    """A tool for each reference tool llmspell does not offer; running it fails with why."""
    return [_unavailable(name, category, why) for name, (category, why) in UNAVAILABLE.items()]


def _unavailable(name: str, category: str, why: str) -> Tool:
    message = f"{name} is disabled in llmspell: {why}"

    def refuse(params: dict[str, Any]) -> Any:
        raise ToolFailure(message)

    return Tool(
        name=name,
        description=f"Disabled: {why}",
        category=category,
        schema=dict(ANY_PARAMS),
        run=refuse,
        tags=("disabled",),
        disabled=message,
    )
