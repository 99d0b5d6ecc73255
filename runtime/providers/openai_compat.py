"""OpenAI's Chat Completions API, which OpenAI and every compatible server speak (vLLM, LM
Studio, Groq, Ollama's /v1): a `ChatRequest` translated to the wire format and the reply back,
streamed piece by piece when asked. The official `openai` client does the HTTP, with its
retries (429, 5xx, dropped connections; `Retry-After` honoured) and timeout."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlparse

import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from llmspell.runtime.providers.base import Capabilities, ChatProvider, ProviderError
from llmspell.runtime.providers.messages import (
    ChatRequest,
    ChatResponse,
    Message,
    TextSink,
    ToolCallRequest,
    Usage,
)
from llmspell.runtime.providers.tool_wire import ToolNames, tool_call_from_json
from llmspell.runtime.providers.vendor_client import ClientCache
from llmspell.runtime.providers.vendor_errors import CallSite, VendorErrors, translated_errors

logger = logging.getLogger("llmspell.providers")

OPENAI_URL = "https://api.openai.com/v1"
OLLAMA_URL = "http://localhost:11434/v1"
# The client insists on a key; a server that needs none (Ollama) ignores this one.
PLACEHOLDER_KEY = "no-key-needed"

ERRORS = VendorErrors(
    client=openai.OpenAIError,
    status=openai.APIStatusError,
    timeout=openai.APITimeoutError,
    connection=openai.APIConnectionError,
)
# Context windows of OpenAI's models, by name prefix (the first match counts).
_CONTEXT_TOKENS = (
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("o4-mini", 200_000),
    ("o3", 200_000),
    ("o1", 200_000),
)
_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


@dataclass
class OpenAIProvider(ChatProvider):
    """Type "openai": OpenAI itself (no `base_url`) or any server with the same API."""

    type = "openai"
    default_model = "gpt-4o-mini"
    default_base_url: ClassVar[str] = OPENAI_URL

    _clients: ClientCache[AsyncOpenAI] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._clients = ClientCache(self._make_client)

    @property
    def base_url(self) -> str:
        return self.config.base_url or self.default_base_url

    @property
    def is_openai(self) -> bool:
        """Whether the server is OpenAI's own (not a compatible one)."""
        return urlparse(self.base_url).hostname == urlparse(OPENAI_URL).hostname

    def capabilities(self) -> Capabilities:
        models = super().capabilities().available_models
        window = None
        if self.is_openai:
            window = next(
                (n for prefix, n in _CONTEXT_TOKENS if self.model.startswith(prefix)), None
            )
        return Capabilities(max_context_tokens=window, available_models=models)

    async def chat(self, request: ChatRequest, on_text: TextSink | None = None) -> ChatResponse:
        key = self.api_key()  # MissingApiKey before anything is sent
        client = self._clients.get(key or PLACEHOLDER_KEY)
        names = ToolNames.of(request)
        params = self.request_params(request, names)
        site = CallSite(self.name, request.model, self.base_url, self.config, key)
        async with translated_errors(ERRORS, site, self.list_models):
            if on_text is None:
                completion = await client.chat.completions.create(**params)
                return _from_completion(completion, names)
            stream = await client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
            return await _from_stream(stream, names, on_text)

    async def list_models(self) -> list[str]:
        """The models the server lists (GET /models); [] when it cannot say."""
        try:
            return await _model_ids(self._clients.get(self.api_key() or PLACEHOLDER_KEY))
        except (ProviderError, ERRORS.client):
            logger.debug("provider %r did not list its models", self.name, exc_info=True)
            return []

    async def aclose(self) -> None:
        await self._clients.aclose()

    def request_params(self, request: ChatRequest, names: ToolNames) -> dict[str, Any]:
        """The body of POST /chat/completions for `request` (without the streaming options)."""
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [_wire_message(m, names) for m in request.messages],
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": names.wire(tool.name),
                        "description": tool.description,
                        "parameters": tool.parameters or {"type": "object", "properties": {}},
                    },
                }
                for tool in request.tools
            ]
            if request.tool_choice == "none":
                params["tool_choice"] = "none"
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI's reasoning models take only max_completion_tokens (max_tokens is
            # deprecated there); compatible servers (Ollama, LM Studio, vLLM) know max_tokens
            limit = "max_completion_tokens" if self.is_openai else "max_tokens"
            params[limit] = request.max_tokens
        return params

    def _make_client(self, key: str) -> AsyncOpenAI:
        return AsyncOpenAI(
            api_key=key,
            base_url=self.base_url,
            timeout=self.config.timeout_s,
            max_retries=self.config.max_retries,
        )


@dataclass
class OllamaProvider(OpenAIProvider):
    """Type "ollama": a local Ollama server through its OpenAI-compatible /v1 API; no key
    unless `api_key_env` names one (an Ollama behind an authenticating proxy)."""

    type = "ollama"
    default_model = "llama3.2"
    default_base_url = OLLAMA_URL

    def needs_key(self) -> bool:
        return bool(self.config.api_key_env)

    def capabilities(self) -> Capabilities:
        # the context window is whatever the server was started with (num_ctx)
        return Capabilities(available_models=ChatProvider.capabilities(self).available_models)


def _wire_message(message: Message, names: ToolNames) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    # arguments the model got wrong go back as {}: servers that render the
                    # conversation through a chat template would refuse text that is not JSON
                    "function": {
                        "name": names.wire(call.name),
                        "arguments": json.dumps(call.arguments),
                    },
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _from_completion(completion: ChatCompletion, names: ToolNames) -> ChatResponse:
    choice = completion.choices[0] if completion.choices else None
    text, calls, reason = "", [], None
    if choice is not None:
        text = choice.message.content or ""
        reason = choice.finish_reason
        for number, call in enumerate(choice.message.tool_calls or ()):
            function = getattr(call, "function", None)  # not a custom (free-text) tool call
            if function is not None:
                calls.append(
                    tool_call_from_json(
                        call.id or f"call_{number}",
                        names.local(function.name),
                        function.arguments or "",
                    )
                )
    return ChatResponse(
        text=text,
        tool_calls=tuple(calls),
        usage=_usage(completion.usage),
        model=completion.model or "",
        finish_reason=_finish_reason(reason, calls),
        id=completion.id or "",
    )


@dataclass
class _PartialCall:
    """A tool call arriving in pieces: its id and name first, then its arguments' text."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


async def _from_stream(
    stream: AsyncStream[ChatCompletionChunk], names: ToolNames, on_text: TextSink
) -> ChatResponse:
    pieces: list[str] = []
    partial: dict[int, _PartialCall] = {}
    usage, reason, model, reply_id = Usage(), None, "", ""
    try:
        async for chunk in stream:
            model, reply_id = chunk.model or model, chunk.id or reply_id
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                reason = choice.finish_reason or reason
                delta = choice.delta
                if delta.content:
                    pieces.append(delta.content)
                    on_text(delta.content)
                for part in delta.tool_calls or ():
                    # a server that leaves out the index sends each call whole
                    index = part.index if getattr(part, "index", None) is not None else len(partial)
                    call = partial.setdefault(index, _PartialCall())
                    call.id = call.id or part.id or ""
                    if part.function is not None:
                        call.name = call.name or part.function.name or ""
                        call.arguments.append(part.function.arguments or "")
    finally:
        await stream.close()  # at once, also when the call is cancelled: the server sees it
    calls = [
        tool_call_from_json(
            call.id or f"call_{index}", names.local(call.name), "".join(call.arguments)
        )
        for index, call in sorted(partial.items())
    ]
    return ChatResponse(
        text="".join(pieces),
        tool_calls=tuple(calls),
        usage=usage,
        model=model,
        finish_reason=_finish_reason(reason, calls),
        id=reply_id,
    )


def _usage(usage: CompletionUsage | None) -> Usage:
    if usage is None:
        return Usage()
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0)


def _finish_reason(reason: str | None, calls: list[ToolCallRequest]) -> str:
    # some servers (Ollama) say "stop" for a reply that asks for tools
    if calls and reason in (None, "stop"):
        return "tool_calls"
    return _FINISH_REASONS.get(reason or "stop", reason or "stop")


async def _model_ids(client: AsyncOpenAI) -> list[str]:
    quick = client.with_options(max_retries=0)
    return [model.id async for model in quick.models.list()]
