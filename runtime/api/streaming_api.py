"""`Streaming`: pull values from a producer one at a time.

In Lua the producer is a coroutine (the Lua engine supplies `create`); in Python a generator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmspell.runtime.api.base import ApiNamespace, ApiObject, ValidationError, type_name


class Stream(ApiObject):
    """Values pulled one at a time from `Streaming.create`."""

    api_name = "Stream"

    def __init__(self, source: Iterator[Any]) -> None:
        self._source = source
        self._done = False

    def next(self) -> Any:
        """The next value, or nil when the producer has finished."""
        if self._done:
            return None
        try:
            return next(self._source)
        except StopIteration:
            self._done = True
            return None

    def isDone(self) -> bool:
        """Whether the producer has finished."""
        return self._done

    def collect(self) -> list[Any]:
        """All remaining values as a list."""
        out: list[Any] = []
        while True:
            value = self.next()
            if self._done:
                return out
            out.append(value)


class StreamingApi(ApiNamespace):
    """Pull values from a producer one at a time."""

    api_name = "Streaming"

    def create(self, fn: Any) -> Stream:
        """A stream over `fn`: in Lua a function run as a coroutine whose `coroutine.yield(v)`
        values the stream returns; in Python a generator function or iterable.
        Methods: `:next()` (nil when done), `:isDone()`, `:collect()`."""
        source = fn() if callable(fn) else fn
        try:
            iterator = iter(source)
        except TypeError:
            raise ValidationError(
                "Streaming.create: fn must be a generator function or iterable, "
                f"got {type_name(fn)}"
            ) from None
        return Stream(iterator)
