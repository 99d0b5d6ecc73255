"""Provider-neutral chat messages, requests and responses: what an agent sends to a model and
gets back, whichever vendor's wire format carries them (each provider module translates)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")

# Receives each piece of reply text as it arrives (a streamed call); runs on the provider's
# event-loop thread, so it must only hand the text over (a queue), never call a script.
TextSink = Callable[[str], None]


@dataclass(frozen=True)
class ToolCallRequest:
    """A model asking for one tool call. `arguments` is the parsed JSON object; when the model
    sent text that is not a JSON object, `arguments` is empty and `invalid_arguments` holds the
    text (the call is answered with an error instead of running)."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    invalid_arguments: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.invalid_arguments is not None:
            out["invalid_arguments"] = self.invalid_arguments
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCallRequest:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            arguments=dict(data.get("arguments") or {}),
            invalid_arguments=data.get("invalid_arguments"),
        )


@dataclass(frozen=True)
class Message:
    """One message of a conversation. An assistant message may carry `tool_calls`; a `tool`
    message answers the call `tool_call_id` (tool `name`) with `content`, `is_error` when the
    call failed."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form (agent state keeps conversations in it)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [call.as_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.is_error:
            out["is_error"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        role = data.get("role")
        if role not in ROLES:
            raise ValueError(f"message role must be one of {', '.join(ROLES)}, got {role!r}")
        return cls(
            role=role,
            content=str(data.get("content") or ""),
            tool_calls=tuple(ToolCallRequest.from_dict(c) for c in data.get("tool_calls") or ()),
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
            is_error=bool(data.get("is_error", False)),
        )


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, and a JSON Schema of its
    parameters (an object schema)."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    """One request to a model. `messages` may start with a system message; `tool_choice`
    "none" asks the model to answer in text even though tools are listed (the last round of a
    tool loop)."""

    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none"] = "auto"
    temperature: float | None = None
    max_tokens: int | None = None

    @property
    def system(self) -> str | None:
        """The system prompt (the first message when it is a system message)."""
        if self.messages and self.messages[0].role == "system":
            return self.messages[0].content
        return None

    @property
    def conversation(self) -> tuple[Message, ...]:
        """The messages after the system prompt."""
        return self.messages[1:] if self.system is not None else self.messages

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [m.as_dict() for m in self.messages],
            "tools": [
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in self.tools
            ],
            "tool_choice": self.tool_choice,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }


@dataclass(frozen=True)
class Usage:
    """Tokens a call used, as the server counted them (0 when it did not say)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class ChatResponse:
    """A model's reply: its text, the tool calls it asks for, and what it cost.
    `finish_reason` is normalised: "stop", "tool_calls", "length" or the vendor's own word."""

    text: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    usage: Usage = Usage()
    model: str = ""
    finish_reason: str = "stop"
    id: str = ""
