"""The `mock` provider: a deterministic offline model for tests, notebooks and demos.

It answers, in this order: the next reply a script or test queued (`script`); for a tool
result, a sentence naming what each tool returned; the first `[[providers.<name>.replies]]`
rule whose `when` occurs in the last user message; otherwise the line of its context (earlier
turns, and the lines of the system prompt after a heading such as "Relevant context from
memory:") that shares the most words with the question — so an agent with memory answers a
follow-up from what it was told — or, with no such line, an echo.
Streamed replies arrive word by word. Usage counts words, so it is deterministic too.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.providers.base import Capabilities, ChatProvider
from llmspell.runtime.providers.messages import (
    ChatRequest,
    ChatResponse,
    Message,
    TextSink,
    ToolCallRequest,
    Usage,
)

_PIECE = re.compile(r"\S+\s*|\s+")
# "[3] user: " before a line of assembled memory context
_CONTEXT_LABEL = re.compile(r"^(?:\[\d+\]\s*)?(?:(?:user|assistant|system):\s*)?")
_MAX_SCRIPTED = 10_000


@dataclass(frozen=True)
class ScriptedReply:
    """A reply the mock gives next: text and/or tool calls."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()

    @classmethod
    def parse(cls, value: Any) -> ScriptedReply:
        """From a string (the text) or `{text?, tool_calls?=[{name, arguments?}]}`."""
        if isinstance(value, str):
            return cls(text=value)
        if not isinstance(value, Mapping):
            raise InvalidArgument(
                f"a mock reply must be a string or a table {{text?, tool_calls?}}, got {value!r}"
            )
        unknown = sorted(set(value) - {"text", "tool_calls"})
        if unknown:
            raise InvalidArgument(
                f"unknown mock reply field {unknown[0]!r}; allowed: text, tool_calls"
            )
        text = value.get("text", "")
        if not isinstance(text, str):
            raise InvalidArgument(f"a mock reply's text must be a string, got {text!r}")
        calls = []
        raw_calls = value.get("tool_calls") or []
        if isinstance(raw_calls, Mapping):  # an empty Lua table
            raw_calls = list(raw_calls.values())
        for call in raw_calls:
            name = call.get("name") if isinstance(call, Mapping) else None
            if not isinstance(name, str) or not name:
                raise InvalidArgument(f"a mock tool call needs a name, got {call!r}")
            arguments = call.get("arguments") or {}
            if not isinstance(arguments, Mapping):
                raise InvalidArgument(
                    f"the arguments of mock tool call {name!r} must be a table, got {arguments!r}"
                )
            calls.append((name, dict(arguments)))
        if not text and not calls:
            raise InvalidArgument("a mock reply needs text or tool_calls")
        return cls(text=text, tool_calls=tuple(calls))


@dataclass
class MockProvider(ChatProvider):
    """Answers offline, deterministically (see the module's docstring)."""

    type = "mock"
    default_model = "mock-1"

    _scripted: deque[ScriptedReply] = field(default_factory=deque, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _calls: int = field(default=0, init=False, repr=False)

    def needs_key(self) -> bool:
        return False

    def capabilities(self) -> Capabilities:
        base = super().capabilities()
        return Capabilities(max_context_tokens=1_000_000, available_models=base.available_models)

    def script(self, replies: Iterable[Any]) -> int:
        """Queue replies to give next, in order; returns how many are queued."""
        parsed = [ScriptedReply.parse(r) for r in replies]
        with self._lock:
            if len(self._scripted) + len(parsed) > _MAX_SCRIPTED:
                raise InvalidArgument(f"at most {_MAX_SCRIPTED} mock replies can be queued")
            self._scripted.extend(parsed)
            return len(self._scripted)

    def clear_script(self) -> int:
        with self._lock:
            dropped = len(self._scripted)
            self._scripted.clear()
            return dropped

    async def chat(self, request: ChatRequest, on_text: TextSink | None = None) -> ChatResponse:
        reply = self._reply(request)
        calls: list[ToolCallRequest] = []
        if request.tool_choice != "none":
            # as scripted, even a tool that was not offered: real models name those too
            for name, arguments in reply.tool_calls:
                with self._lock:
                    self._calls += 1
                    number = self._calls
                calls.append(ToolCallRequest(id=f"call_{number}", name=name, arguments=arguments))
        text = reply.text
        delay = self.config.delay_ms / 1000
        if on_text is not None and text:
            pieces = _PIECE.findall(text)
            for piece in pieces:
                if delay:
                    await asyncio.sleep(delay / len(pieces))
                else:
                    await asyncio.sleep(0)
                on_text(piece)
        elif delay:
            await asyncio.sleep(delay)
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        return ChatResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=Usage(prompt_tokens=prompt_words, completion_tokens=len(text.split())),
            model=request.model,
            finish_reason="tool_calls" if calls else "stop",
        )

    def _reply(self, request: ChatRequest) -> ScriptedReply:
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
        conversation = request.conversation
        last = conversation[-1] if conversation else None
        if last is not None and last.role == "tool":
            results = [m for m in _trailing_tool_results(conversation)]
            return ScriptedReply(
                text="; ".join(f"{m.name or 'tool'} returned {m.content}" for m in results)
            )
        question = next((m.content for m in reversed(conversation) if m.role == "user"), "")
        folded = question.casefold()
        for rule in self.config.replies:
            if rule.when.casefold() in folded:
                return ScriptedReply(
                    text=rule.text,
                    tool_calls=tuple((c.name, dict(c.arguments)) for c in rule.tool_calls),
                )
        line = _best_line(question, request)
        if line:
            return ScriptedReply(text=f"From what I know: {line}")
        return ScriptedReply(text=f"You said: {question}" if question else "Hello.")


def _trailing_tool_results(conversation: tuple[Message, ...]) -> list[Message]:
    out: list[Message] = []
    for message in reversed(conversation):
        if message.role != "tool":
            break
        out.append(message)
    return list(reversed(out))


def _words(text: str) -> set[str]:
    # the stems a keyword index would look for: no stop words ("what", "my", "is")
    from llmspell.runtime.retrieval.keyword import query_terms, stem

    return {stem(word) for word in query_terms(text)}


def _best_line(question: str, request: ChatRequest) -> str:
    """The context line sharing the most words with `question` (first of equals), or ""."""
    wanted = _words(question)
    if not wanted:
        return ""
    lines: list[str] = []
    if request.system:
        # the system prompt's instructions are not facts: only what follows a heading
        # ("Relevant context from memory:") is
        system = request.system.splitlines()
        heading = next((i for i, line in enumerate(system) if line.rstrip().endswith(":")), None)
        if heading is not None:
            lines += system[heading + 1 :]
    conversation = request.conversation
    for message in conversation[:-1]:
        if message.role in ("user", "assistant"):
            lines += message.content.splitlines()
    best, best_score = "", 0
    for line in lines:
        cleaned = _CONTEXT_LABEL.sub("", line.strip().lstrip("-*• ").strip())
        if not cleaned or cleaned.casefold() == question.strip().casefold():
            continue
        score = len(wanted & _words(cleaned))
        if score > best_score:
            best, best_score = cleaned, score
    return best
