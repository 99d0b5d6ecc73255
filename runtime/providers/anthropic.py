"""Anthropic's Messages API: a `ChatRequest` translated to it (the system prompt apart, tool
calls as `tool_use` blocks, tool results as `tool_result` blocks of a user message) and the
reply back, streamed event by event when asked. The official `anthropic` client does the HTTP,
with its retries (429, 5xx, 529, dropped connections; `Retry-After` honoured) and timeout.

The installed client's Messages API has no `temperature`: a request's temperature is not sent."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic import AsyncAnthropic, AsyncStream
from anthropic.types import Message as WireMessage
from anthropic.types import RawMessageStreamEvent

from llmspell.runtime.providers.base import Capabilities, ChatProvider, ProviderError
from llmspell.runtime.providers.messages import (
    ChatRequest,
    ChatResponse,
    TextSink,
    ToolCallRequest,
    Usage,
)
from llmspell.runtime.providers.tool_wire import ToolNames, tool_call_from_json
from llmspell.runtime.providers.vendor_client import ClientCache
from llmspell.runtime.providers.vendor_errors import CallSite, VendorErrors, translated_errors

logger = logging.getLogger("llmspell.providers")

ANTHROPIC_URL = "https://api.anthropic.com"
# The API wants a limit on every request; 4096 is one every Claude model accepts.
DEFAULT_MAX_TOKENS = 4096
CONTEXT_TOKENS = 200_000  # every current Claude model's window

ERRORS = VendorErrors(
    client=anthropic.AnthropicError,
    status=anthropic.APIStatusError,
    timeout=anthropic.APITimeoutError,
    connection=anthropic.APIConnectionError,
)
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}


@dataclass
class AnthropicProvider(ChatProvider):
    """Type "anthropic": Anthropic's API, or a server with the same one (`base_url`)."""

    type = "anthropic"
    default_model = "claude-sonnet-4-5"

    _clients: ClientCache[AsyncAnthropic] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._clients = ClientCache(self._make_client)

    @property
    def base_url(self) -> str:
        return self.config.base_url or ANTHROPIC_URL

    def capabilities(self) -> Capabilities:
        models = super().capabilities().available_models
        window = CONTEXT_TOKENS if self.model.startswith("claude") else None
        return Capabilities(max_context_tokens=window, available_models=models)

    async def chat(self, request: ChatRequest, on_text: TextSink | None = None) -> ChatResponse:
        key = self.api_key()  # MissingApiKey before anything is sent
        client = self._clients.get(key or "")
        names = ToolNames.of(request)
        params = request_params(request, names)
        site = CallSite(self.name, request.model, self.base_url, self.config, key)
        async with translated_errors(ERRORS, site, self.list_models):
            if on_text is None:
                message = await client.messages.create(**params)
                return _from_message(message, names)
            stream = await client.messages.create(**params, stream=True)
            return await _from_stream(stream, names, on_text)

    async def list_models(self) -> list[str]:
        """The models the server lists (GET /v1/models); [] when it cannot say."""
        try:
            client = self._clients.get(self.api_key() or "").with_options(max_retries=0)
            return [model.id async for model in client.models.list()]
        except (ProviderError, ERRORS.client):
            logger.debug("provider %r did not list its models", self.name, exc_info=True)
            return []

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _make_client(self, key: str) -> AsyncAnthropic:
        # every setting explicit: the client would otherwise read ANTHROPIC_BASE_URL & co
        return AsyncAnthropic(
            api_key=key,
            base_url=self.base_url,
            timeout=self.config.timeout_s,
            max_retries=self.config.max_retries,
        )


def request_params(request: ChatRequest, names: ToolNames) -> dict[str, Any]:
    """The body of POST /v1/messages for `request` (without `stream`)."""
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _wire_messages(request, names),
    }
    # the API has no system messages: every one (normally only the first) joins the prompt
    system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
    if system:
        params["system"] = system
    if request.tools:
        params["tools"] = [
            {
                "name": names.wire(tool.name),
                "description": tool.description,
                "input_schema": tool.parameters or {"type": "object", "properties": {}},
            }
            for tool in request.tools
        ]
        if request.tool_choice == "none":
            params["tool_choice"] = {"type": "none"}
    return params


def _wire_messages(request: ChatRequest, names: ToolNames) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the user message collecting tool results
    for message in request.messages:
        if message.role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
            }
            if message.content:
                block["content"] = message.content
            if message.is_error:
                block["is_error"] = True
            if results is None:
                results = []
                out.append({"role": "user", "content": results})
            results.append(block)
            continue
        results = None
        if message.role == "user":
            out.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            content: list[dict[str, Any]] = []
            if message.content:
                content.append({"type": "text", "text": message.content})
            content += [
                {"type": "tool_use", "id": c.id, "name": names.wire(c.name), "input": c.arguments}
                for c in message.tool_calls
            ]
            if content:  # the API refuses an empty turn
                out.append({"role": "assistant", "content": content})
    return out


def _from_message(message: WireMessage, names: ToolNames) -> ChatResponse:
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            name = names.local(block.name)
            if isinstance(block.input, dict):
                calls.append(ToolCallRequest(id=block.id, name=name, arguments=block.input))
            else:  # a server that does not keep to the schema
                calls.append(tool_call_from_json(block.id, name, _as_text(block.input)))
    usage = message.usage
    return ChatResponse(
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=Usage(_prompt_tokens(usage), usage.output_tokens or 0),
        model=message.model or "",
        finish_reason=_stop_reason(message.stop_reason),
        id=message.id or "",
    )


@dataclass
class _PartialCall:
    """A tool_use block arriving in pieces: its id and name, then its input's JSON text."""

    id: str
    name: str
    start_input: Any
    pieces: list[str] = field(default_factory=list)

    def request(self, names: ToolNames) -> ToolCallRequest:
        text = "".join(self.pieces)
        if not text and self.start_input:  # a server that sends the input whole
            text = _as_text(self.start_input)
        return tool_call_from_json(self.id, names.local(self.name), text)


async def _from_stream(
    stream: AsyncStream[RawMessageStreamEvent], names: ToolNames, on_text: TextSink
) -> ChatResponse:
    pieces: list[str] = []
    partial: dict[int, _PartialCall] = {}
    prompt_tokens = completion_tokens = 0
    reason, model, reply_id = None, "", ""
    try:
        async for event in stream:
            if event.type == "message_start":
                message = event.message
                model, reply_id = message.model or "", message.id or ""
                prompt_tokens = _prompt_tokens(message.usage)
                completion_tokens = message.usage.output_tokens or 0
            elif event.type == "content_block_start":
                block = event.content_block
                if block.type == "tool_use":
                    partial[event.index] = _PartialCall(block.id, block.name, block.input)
                elif block.type == "text" and block.text:
                    pieces.append(block.text)
                    on_text(block.text)
            elif event.type == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta" and delta.text:
                    pieces.append(delta.text)
                    on_text(delta.text)
                elif delta.type == "input_json_delta" and event.index in partial:
                    partial[event.index].pieces.append(delta.partial_json)
            elif event.type == "message_delta":
                reason = event.delta.stop_reason or reason
                # the counts here are totals so far
                completion_tokens = event.usage.output_tokens or completion_tokens
                if event.usage.input_tokens is not None:
                    prompt_tokens = _prompt_tokens(event.usage)
    finally:
        await stream.close()  # at once, also when the call is cancelled: the server sees it
    return ChatResponse(
        text="".join(pieces),
        tool_calls=tuple(call.request(names) for _, call in sorted(partial.items())),
        usage=Usage(prompt_tokens, completion_tokens),
        model=model,
        finish_reason=_stop_reason(reason),
        id=reply_id,
    )


def _prompt_tokens(usage: Any) -> int:
    # input_tokens leaves out what was written to or read from the prompt cache
    return sum(
        getattr(usage, name, None) or 0
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def _stop_reason(reason: str | None) -> str:
    return _STOP_REASONS.get(reason or "end_turn", reason or "stop")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
