"""`Streaming`: pull values from a producer one at a time.

The engine turns its producer into steps (`ApiContext.producer`): in Lua a function run as a
coroutine, resumed once per step inside Lua (a yield cannot cross into the host); in Python a
generator function or iterable. `Stream` is the one object both engines' scripts use."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.api.base import (
    ApiNamespace,
    ApiObject,
    NotAProducer,
    ProducerStep,
    ValidationError,
    raw_args,
    raw_of,
)


class Stream(ApiObject):
    """Values pulled one at a time from `Streaming.create`. They stay the engine's own values
    (a Lua producer's as `RawValue`), so a script gets back exactly what it yielded."""

    api_name = "Stream"

    def __init__(self, step: ProducerStep) -> None:
        self._step = step
        self._done = False

    def next(self) -> Any:
        """The next value, or nil when the producer has finished."""
        if self._done:
            return None
        has_value, value, self._done = self._step()
        return value if has_value else None

    def isDone(self) -> bool:
        """Whether the producer has finished."""
        return self._done

    def collect(self) -> list[Any]:
        """All remaining values as a list."""
        out: list[Any] = []
        while not self._done:
            has_value, value, self._done = self._step()
            if has_value:
                out.append(value)
        return out


class StreamingApi(ApiNamespace):
    """Pull values from a producer one at a time. In Lua, `Streaming.yield(v)` inside a
    producer is `coroutine.yield(v)` (a Lua function of the prelude, as a yield cannot cross
    into the host)."""

    api_name = "Streaming"

    @raw_args("fn")
    def create(self, fn: Any) -> Stream:
        """A stream over `fn`: in Lua a function run as a coroutine whose `coroutine.yield(v)`
        values the stream returns; in Python a generator function or iterable.
        Methods: `:next()` (nil when done), `:isDone()`, `:collect()`."""
        try:
            return Stream(self._ctx.producer(raw_of(fn)))
        except NotAProducer as exc:
            raise ValidationError(f"Streaming.create: fn {exc}") from None
