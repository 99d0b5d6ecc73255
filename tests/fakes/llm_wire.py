"""The fake LLM server's wire formats: OpenAI's Chat Completions and Anthropic's Messages
bodies — a reply as JSON or as the events of a stream, an error in the vendor's error shape, the
model listing — made from the same scripted answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fakes.llm_script import Reply, ToolCall

# Makes the next id with a prefix ("call_" -> "call_7").
NextId = Callable[[str], str]


def reply_body(api: str, reply: Reply, body: dict[str, Any], next_id: NextId) -> dict[str, Any]:
    """The JSON answer of `api` ("openai" or "anthropic") to the request `body`."""
    if api == "openai":
        return _openai_completion(reply, body, next_id)
    return _anthropic_message(reply, body, next_id)


def reply_events(
    api: str, reply: Reply, body: dict[str, Any], next_id: NextId, stall: bool = False
) -> Iterator[Event]:
    """The streamed answer of `api`; with `stall`, only its beginning and the text."""
    events = _openai_events if api == "openai" else _anthropic_events
    return events(reply, body, next_id, stall)


def models_body(models: Sequence[str]) -> dict[str, Any]:
    # one listing both clients can read: OpenAI's fields and Anthropic's
    data = [
        {
            "id": model,
            "object": "model",
            "type": "model",
            "created": 1_700_000_000,
            "owned_by": "fake",
            "display_name": model,
            "created_at": "2024-01-01T00:00:00Z",
        }
        for model in models
    ]
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }


_STOCK_MESSAGES = {
    400: "invalid request",
    401: "invalid API key",
    403: "this key may not use this model",
    404: "no such model",
    429: "rate limit reached, slow down",
    500: "internal server error",
    503: "service unavailable",
    529: "overloaded",
}
_OPENAI_ERROR_TYPES = {401: "invalid_request_error", 429: "requests", 500: "server_error"}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def stock_message(status: int) -> str:
    return _STOCK_MESSAGES.get(status, f"error {status}")


def error_body(api: str, status: int, message: str) -> dict[str, Any]:
    if api == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    kind = _OPENAI_ERROR_TYPES.get(status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _openai_calls(reply: Reply, next_id: NextId) -> list[tuple[str, ToolCall]]:
    return [(call.id or next_id("call_"), call) for call in reply.tool_calls]


def _openai_finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _openai_usage(reply: Reply) -> dict[str, int]:
    out = reply.output_tokens()
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": out,
        "total_tokens": reply.prompt_tokens + out,
    }


def _openai_completion(reply: Reply, body: dict[str, Any], next_id: NextId) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    calls = _openai_calls(reply, next_id)
    if calls:
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_text},
            }
            for call_id, call in calls
        ]
    return {
        "id": next_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": _openai_finish(reply)}],
        "usage": _openai_usage(reply),
    }


# An event as sent, and whether it carries a piece of text (streamed with a delay between).
Event = tuple[str, bool]


def _sse(data: Any, event: str | None = None, piece: bool = False) -> Event:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n", piece


def _argument_pieces(text: str) -> list[str]:
    return [text[i : i + 8] for i in range(0, len(text), 8)] or [""]


def _openai_events(
    reply: Reply, body: dict[str, Any], next_id: NextId, stall: bool = False
) -> Iterator[Event]:
    reply_id, created, model = next_id("chatcmpl-"), int(time.time()), body.get("model", "")

    def chunk(delta: dict[str, Any], finish: str | None = None, piece: bool = False) -> Event:
        return _sse(
            {
                "id": reply_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            },
            piece=piece,
        )

    yield chunk({"role": "assistant", "content": ""})
    for piece in reply.text_pieces():
        yield chunk({"content": piece}, piece=True)
    if stall:
        return
    for index, (call_id, call) in enumerate(_openai_calls(reply, next_id)):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in _argument_pieces(call.arguments_text):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _openai_finish(reply))
    if (body.get("stream_options") or {}).get("include_usage"):
        yield _sse(
            {
                "id": reply_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _openai_usage(reply),
            }
        )
    yield _sse("[DONE]")


def _anthropic_stop(reply: Reply) -> str:
    return reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")


def _anthropic_input(call: ToolCall) -> Any:
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        return json.loads(call.arguments)
    except ValueError:
        return call.arguments  # not what the API would send: a test of a broken server


def _anthropic_message(reply: Reply, body: dict[str, Any], next_id: NextId) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id or next_id("toolu_"),
                "name": call.name,
                "input": _anthropic_input(call),
            }
        )
    return {
        "id": next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": _anthropic_stop(reply),
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.output_tokens()},
    }


def _anthropic_events(
    reply: Reply, body: dict[str, Any], next_id: NextId, stall: bool = False
) -> Iterator[Event]:
    message = {
        "id": next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": 1},
    }
    yield _sse({"type": "message_start", "message": message}, "message_start")
    yield _sse({"type": "ping"}, "ping")
    index = 0
    pieces = reply.text_pieces()
    if pieces:
        yield _sse(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        )
        for piece in pieces:
            yield _sse(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                },
                "content_block_delta",
                piece=True,
            )
        if stall:
            return
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    for call in reply.tool_calls:
        block = {
            "type": "tool_use",
            "id": call.id or next_id("toolu_"),
            "name": call.name,
            "input": {},
        }
        yield _sse(
            {"type": "content_block_start", "index": index, "content_block": block},
            "content_block_start",
        )
        for piece in _argument_pieces(call.arguments_text):
            yield _sse(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
                "content_block_delta",
            )
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    yield _sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": _anthropic_stop(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens()},
        },
        "message_delta",
    )
    yield _sse({"type": "message_stop"}, "message_stop")
