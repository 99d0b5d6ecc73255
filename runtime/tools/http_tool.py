"""The `http-request` tool (httpx): only present when `tools.network_allowed` is true; every
request has a timeout and the response body a size cap."""

from __future__ import annotations

import json
from typing import Any

import httpx

from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"},
        "method": {"enum": [*METHODS, *(m.lower() for m in METHODS)]},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": "string"},
        "json": {},
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
    },
    "required": ["input"],
    "additionalProperties": False,
    "not": {"required": ["body", "json"]},
}


def request(params: dict[str, Any]) -> dict[str, Any]:
    """`{status, headers, body, json?}` of the response (any status: a 404 is an answer)."""
    method = params.get("method", "GET").upper()
    timeout = httpx.Timeout(params.get("timeout_s", DEFAULT_TIMEOUT_S))
    body = params.get("body")
    content = body.encode("utf-8") if isinstance(body, str) else None
    headers = dict(params.get("headers") or {})
    if "json" in params:
        content = json.dumps(params["json"]).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream(method, params["input"], headers=headers, content=content) as response,
        ):
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ToolFailure(
                        f"the response is larger than {MAX_RESPONSE_BYTES} bytes; refused"
                    )
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise ToolFailure(f"{method} {params['input']} timed out") from None
    except httpx.HTTPError as exc:
        raise ToolFailure(f"{method} {params['input']} failed: {exc}") from None
    raw = b"".join(chunks)
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    out: dict[str, Any] = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": text,
    }
    if "json" in response.headers.get("content-type", ""):
        try:
            out["json"] = json.loads(text)
        except json.JSONDecodeError:
            pass
    return out


TOOL = Tool(
    name="http-request",
    description="Sends an HTTP request (input = URL) and returns status, headers and body",
    category="network",
    schema=SCHEMA,
    run=request,
    tags=("http", "network"),
    aliases={"url": "input"},
)
