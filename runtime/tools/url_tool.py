"""The `url-analyzer` tool: a URL's parts and whether it is a usable http(s) URL. It parses
only; it never fetches the URL (that is `http-request`, when the network is allowed)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from llmspell.runtime.tools.registry import Tool

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["analyze", "validate"]},
        "input": {"type": "string", "maxLength": 8192},
    },
    "required": ["input"],
    "additionalProperties": False,
}


def analyze(params: dict[str, Any]) -> dict[str, Any]:
    url: str = params["input"]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return {"valid": False, "url": url, "reason": str(exc)}
    problems = []
    if parts.scheme not in ("http", "https"):
        problems.append(f"scheme must be http or https, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        problems.append("no host")
    result: dict[str, Any] = {"valid": not problems, "url": url}
    if problems:
        result["reason"] = "; ".join(problems)
    if params.get("operation", "analyze") == "validate":
        return result
    return {
        **result,
        "scheme": parts.scheme,
        "host": parts.hostname or "",
        "port": port,
        "path": parts.path,
        "query": parts.query,
        "query_params": {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query).items()},
        "fragment": parts.fragment,
        "username": parts.username,
        "has_password": parts.password is not None,
    }


TOOL = Tool(
    name="url-analyzer",
    description="Splits a URL into its parts and checks that it is a usable http(s) URL "
    "(parsing only; nothing is fetched)",
    category="web",
    schema=SCHEMA,
    run=analyze,
    tags=("url", "offline"),
    aliases={"url": "input"},
)
