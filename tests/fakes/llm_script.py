"""What the fake LLM server answers: a reply (text, tool calls), an HTTP error, or a hang. The
same script serves both wire formats (see `llm_wire`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class ToolCall:
    """A tool call in a scripted reply. `arguments` as a dict is sent as JSON; as a string it
    is sent as it is (so a test can send arguments that are not JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str = ""  # "" = call_<n> (OpenAI) / toolu_<n> (Anthropic)

    @property
    def arguments_text(self) -> str:
        args = self.arguments
        return args if isinstance(args, str) else json.dumps(dict(args))


@dataclass(frozen=True)
class Reply:
    """A model's answer: text and/or tool calls. Streamed, the text goes out in `pieces`
    (default: word by word) with `piece_delay_s` between them; tool-call arguments go out in
    pieces of 8 characters. `delay_s` is waited before the answer starts."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    pieces: Sequence[str] | None = None
    piece_delay_s: float = 0.0
    delay_s: float = 0.0
    finish_reason: str | None = None  # None: the vendor's word for "stop" or "tool calls"
    prompt_tokens: int = 12
    completion_tokens: int | None = None  # None: words of the text + 5 per tool call

    def text_pieces(self) -> list[str]:
        if self.pieces is not None:
            return list(self.pieces)
        return _WORD.findall(self.text)

    def output_tokens(self) -> int:
        if self.completion_tokens is not None:
            return self.completion_tokens
        return max(1, len(self.text.split()) + 5 * len(self.tool_calls))


@dataclass(frozen=True)
class Error:
    """An HTTP error in the vendor's error format (`message` None: a stock message for the
    status), with `Retry-After` when `retry_after` is given."""

    status: int
    message: str | None = None
    retry_after: float | str | None = None
    delay_s: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """No answer, ever. A streamed request with `after_text` first gets the response headers
    and that text (a reply that stalls half-way); otherwise not even the headers."""

    after_text: str = ""


Answer = Reply | Error | Hang
