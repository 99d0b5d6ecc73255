"""How tools travel on the vendors' wire: names the APIs accept (OpenAI and Anthropic allow only
`[a-zA-Z0-9_-]`, at most 64 characters, while llmspell tools may be called `file.read`), mapped
reversibly per request, and tool-call arguments that arrive as JSON text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from llmspell.runtime.providers.messages import ChatRequest, ToolCallRequest

MAX_NAME = 64
_VALID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_NAME}}}")
_INVALID_CHAR = re.compile(r"[^A-Za-z0-9_-]")


class ToolNames:
    """The names of one request's tools as sent (`wire`) and as llmspell knows them (`local`).
    A valid name is sent as it is; another becomes its characters with `_` for the ones not
    allowed (`file.read` → `file_read`), with a `_2`, `_3`... suffix when that name is taken."""

    def __init__(self, names: Iterable[str]) -> None:
        self._wire: dict[str, str] = {}
        self._local: dict[str, str] = {}
        unique = list(dict.fromkeys(names))
        # valid names first, so they keep their spelling whatever order the tools come in
        for name in unique:
            if _VALID.fullmatch(name):
                self._add(name, name)
        for name in unique:
            if name not in self._wire:
                self._add_renamed(name)

    @classmethod
    def of(cls, request: ChatRequest) -> ToolNames:
        """Every tool name a request mentions: its tools, earlier calls and tool results."""
        names = [tool.name for tool in request.tools]
        for message in request.messages:
            names += [call.name for call in message.tool_calls]
            if message.role == "tool" and message.name:
                names.append(message.name)
        return cls(names)

    def wire(self, name: str) -> str:
        """The name to send for llmspell's tool `name`."""
        if name not in self._wire:
            self._add_renamed(name)
        return self._wire[name]

    def local(self, wire_name: str) -> str:
        """The llmspell tool a name the model sent means (a name never offered stays as is)."""
        return self._local.get(wire_name, wire_name)

    def _add(self, name: str, wire_name: str) -> None:
        self._wire[name] = wire_name
        self._local[wire_name] = name

    def _add_renamed(self, name: str) -> None:
        self._add(name, self._free(_INVALID_CHAR.sub("_", name)[:MAX_NAME] or "tool"))

    def _free(self, base: str) -> str:
        candidate, number = base, 1
        while candidate in self._local:
            number += 1
            suffix = f"_{number}"
            candidate = base[: MAX_NAME - len(suffix)] + suffix
        return candidate


def tool_call_from_json(call_id: str, name: str, text: str) -> ToolCallRequest:
    """A tool call whose arguments came as JSON text: a JSON object becomes `arguments`
    (no text at all: no arguments); anything else is kept as `invalid_arguments`."""
    if not text.strip():
        return ToolCallRequest(id=call_id, name=name)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return ToolCallRequest(id=call_id, name=name, arguments=value)
    return ToolCallRequest(id=call_id, name=name, invalid_arguments=text)
