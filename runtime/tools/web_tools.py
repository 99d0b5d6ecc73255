"""The reference system's request tools built on `http-request` (only present when
`tools.network_allowed` is true): `api-tester` (a request checked against an expected status)
and `webhook-caller` (a JSON payload sent, retried on a failure or a 5xx answer)."""

from __future__ import annotations

import time
from typing import Any

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools import http_tool
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_RETRIES = 5
MAX_RETRY_DELAY_MS = 10_000
_URL = {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}
_METHOD = {"enum": [*http_tool.METHODS, *(m.lower() for m in http_tool.METHODS)]}
_HEADERS = {"type": "object", "additionalProperties": {"type": "string"}}
_TIMEOUT = {"type": "number", "exclusiveMinimum": 0, "maximum": 600}
API_TESTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["test"]},
        "input": _URL,
        "method": _METHOD,
        "headers": _HEADERS,
        "body": {"type": "string"},
        "json": {},
        "expected_status": {"type": "integer", "minimum": 100, "maximum": 599},
        "timeout_s": _TIMEOUT,
    },
    "required": ["input"],
    "additionalProperties": False,
    "not": {"required": ["body", "json"]},
}
WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["call", "call_with_retry"]},
        "input": _URL,
        "method": _METHOD,
        "headers": _HEADERS,
        "payload": {},
        "max_retries": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES},
        "retry_delay": {"type": "integer", "minimum": 0, "maximum": MAX_RETRY_DELAY_MS},
        "timeout_s": _TIMEOUT,
    },
    "required": ["input"],
    "additionalProperties": False,
}


def _request(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return http_tool.request({key: params[key] for key in keys if key in params})


def check_api(params: dict[str, Any]) -> dict[str, Any]:
    """The response, its time and whether its status is the expected one (default 2xx)."""
    started = time.monotonic()
    response = _request(params, ("input", "method", "headers", "body", "json", "timeout_s"))
    elapsed = (time.monotonic() - started) * 1000
    expected = params.get("expected_status")
    status = response["status"]
    passed = status == expected if expected is not None else 200 <= status < 300
    return {**response, "passed": passed, "response_time_ms": round(elapsed, 1)}


def make_webhook_caller(limits: HostLimits = UNLIMITED) -> Tool:
    """webhook-caller, waiting between retries within the `limits` of the script."""

    def call(params: dict[str, Any]) -> dict[str, Any]:
        request = {
            "input": params["input"],
            "method": params.get("method", "POST"),
            "headers": params.get("headers", {}),
            "timeout_s": params.get("timeout_s", http_tool.DEFAULT_TIMEOUT_S),
        }
        if "payload" in params:
            request["json"] = params["payload"]
        retries = params.get(
            "max_retries", 3 if params.get("operation") == "call_with_retry" else 0
        )
        delay_s = params.get("retry_delay", 1000) / 1000
        failure = ""
        for attempt in range(1, retries + 2):
            limits.check_stop()
            try:
                response = http_tool.request(request)
            except ToolFailure as exc:
                failure = str(exc)
            else:
                if response["status"] < 500:
                    return {**response, "delivered": response["status"] < 400, "attempts": attempt}
                failure = f"the server answered {response['status']}"
            if attempt <= retries:
                deadline = time.monotonic() + delay_s
                while time.monotonic() < deadline:
                    limits.check_stop()
                    time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        raise ToolFailure(f"webhook not delivered after {retries + 1} attempt(s): {failure}")

    return Tool(
        name="webhook-caller",
        description="Sends a JSON payload to a webhook URL (POST by default), retrying on a "
        "failure or a 5xx answer",
        category="network",
        schema=WEBHOOK_SCHEMA,
        run=call,
        tags=("http", "webhook", "network"),
        aliases={"url": "input"},
    )


API_TESTER = Tool(
    name="api-tester",
    description="Sends an HTTP request and checks its status (expected_status, default any "
    "2xx), with the response time",
    category="network",
    schema=API_TESTER_SCHEMA,
    run=check_api,
    tags=("http", "testing", "network"),
    aliases={"url": "input", "endpoint": "input"},
)
