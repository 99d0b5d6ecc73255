"""The provider types under test and how each one's wire format carries tool calls and tool
results, read back from what the fake server received (a module of its own: a conftest import
is ambiguous across test folders)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from llmspell.runtime.providers import ChatProvider, ProviderManager


@dataclass(frozen=True)
class Vendor:
    """A provider type and its wire format's conventions."""

    type: str
    key_env: str  # where these tests put the key (ollama: only when api_key_env names it)

    @property
    def api(self) -> str:
        """The fake server's name for the wire format."""
        return "anthropic" if self.type == "anthropic" else "openai"

    @staticmethod
    def sent_key(headers: dict[str, str]) -> str | None:
        """The key a request carried: `x-api-key` (Anthropic's header) or a bearer token (the
        installed anthropic client sends its key that way too)."""
        if "x-api-key" in headers:
            return headers["x-api-key"]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token if scheme == "Bearer" else None

    def sent_tool_calls(self, body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, name, arguments) of every assistant tool call in a request body, checking
        the vendor's shape on the way."""
        out = []
        for message in body["messages"]:
            if message["role"] != "assistant":
                continue
            if self.api == "openai":
                for call in message.get("tool_calls") or ():
                    assert call["type"] == "function"
                    assert isinstance(call["function"]["arguments"], str)  # JSON text
                    arguments = json.loads(call["function"]["arguments"])
                    out.append((call["id"], call["function"]["name"], arguments))
            else:
                for block in message["content"]:
                    if block["type"] == "tool_use":
                        out.append((block["id"], block["name"], block["input"]))
        return out

    def sent_tool_results(self, body: dict[str, Any]) -> list[tuple[str, str, bool]]:
        """(tool call id, content, is_error) of every tool result in a request body; for
        Anthropic, results that follow each other must share one user message."""
        out = []
        if self.api == "openai":
            for message in body["messages"]:
                if message["role"] == "tool":
                    out.append((message["tool_call_id"], message["content"], False))
            return out
        carriers = [
            m
            for m in body["messages"]
            if isinstance(m["content"], list)
            and any(b["type"] == "tool_result" for b in m["content"])
        ]
        assert len(carriers) <= 1, "consecutive tool results must share one user message"
        for message in carriers:
            assert message["role"] == "user"
            for block in message["content"]:
                out.append(
                    (block["tool_use_id"], block.get("content", ""), block.get("is_error", False))
                )
        return out

    def sent_system(self, body: dict[str, Any]) -> str | None:
        if self.api == "anthropic":
            return body.get("system")
        first = body["messages"][0]
        return first["content"] if first["role"] == "system" else None


VENDORS = (
    Vendor("openai", "OPENAI_API_KEY"),
    Vendor("anthropic", "ANTHROPIC_API_KEY"),
    Vendor("ollama", "OLLAMA_API_KEY"),
)
TEST_KEY = "sk-test-0123456789abcdef"


@dataclass
class Connection:
    """A provider of the type under test, configured against the fake server."""

    manager: ProviderManager
    provider: ChatProvider
    vendor: Vendor


class Connect(Protocol):
    def __call__(
        self, vendor: Vendor, *, key: str | None = TEST_KEY, **settings: Any
    ) -> Connection:
        """Configure `vendor`'s type against the fake server (`settings` are more of its
        `[providers.<type>]` keys); `key` goes into `vendor.key_env` (None: no key at all)."""
        ...


StopWhen = Callable[[], bool]
