"""The vendor client a provider keeps: made on first use on the event loop that runs the calls
(its connection pool belongs to that loop), shared by concurrent calls, and copied with the new
key when the key changes (a rotated key is used at once; the copy shares the connections)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, Protocol, Self, TypeVar


class VendorClient(Protocol):
    """What `openai.AsyncOpenAI` and `anthropic.AsyncAnthropic` both offer."""

    def with_options(self, *, api_key: str | None = None) -> Self: ...

    async def close(self) -> None: ...


C = TypeVar("C", bound=VendorClient)


class ClientCache(Generic[C]):
    """One provider's client, made by `make(key)`."""

    def __init__(self, make: Callable[[str], C]) -> None:
        self._make = make
        self._client: C | None = None
        self._key = ""
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self, key: str) -> C:
        """The client to send with `key` (call it on the event loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # a client made on a loop that has gone cannot be closed from this one: dropped
            self._client, self._key, self._loop = self._make(key), key, loop
        elif key != self._key:
            self._client, self._key = self._client.with_options(api_key=key), key
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.close()
