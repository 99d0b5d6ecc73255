"""Model calls in flight: they run on one event loop thread per runtime, and the script's
thread waits for them in short slices, so an interrupt or the time limit cancels the HTTP
request at once (the task is cancelled, the connection closed) instead of waiting it out."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from llmspell.runtime.errors import Interrupted

logger = logging.getLogger("llmspell.providers")

POLL_S = 0.05  # how often a waiting script looks for a stop request
T = TypeVar("T")
_DONE = object()


class EventLoopThread:
    """An asyncio loop on a daemon thread, started on first use."""

    def __init__(self, name: str = "llmspell-providers") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the loop; cancelling the returned future cancels the task."""
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run `coro` on the loop and wait for it (host work with no script to stop)."""
        return self.submit(coro).result(timeout_s)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=main, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self, cleanup: Coroutine[Any, Any, Any] | None = None, timeout_s: float = 2) -> None:
        """Run `cleanup` (closing clients), then stop the loop and its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            if cleanup is not None:
                cleanup.close()
            return
        if cleanup is not None:
            try:
                asyncio.run_coroutine_threadsafe(cleanup, loop).result(timeout_s)
            except Exception:
                logger.debug("closing provider clients failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()


class PendingCall:
    """One call running on the loop, seen from the script's thread: the future of its result
    and, for a streamed call, the pieces of text as they arrive."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._pieces: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.future: concurrent.futures.Future[Any] | None = None

    def on_text(self, text: str) -> None:
        """Hand a piece of streamed text to the waiting thread (called on the loop)."""
        self._pieces.put(text)

    def start(self, loop: EventLoopThread, coro: Coroutine[Any, Any, Any]) -> PendingCall:
        self.future = loop.submit(coro)
        self.future.add_done_callback(lambda _: self._pieces.put(_DONE))
        return self

    def wait(
        self,
        stop_requested: Callable[[], bool] = lambda: False,
        on_text: Callable[[str], None] | None = None,
    ) -> Any:
        """The call's result (or its error raised), after `wait_done`."""
        self.wait_done(stop_requested, on_text)
        assert self.future is not None
        return self.future.result()

    def wait_done(
        self,
        stop_requested: Callable[[], bool] = lambda: False,
        on_text: Callable[[str], None] | None = None,
    ) -> None:
        """Wait until the call has finished (well or not), passing each streamed piece to
        `on_text` on this thread as it arrives. When `stop_requested` says so, the call is
        cancelled and Interrupted raised."""
        assert self.future is not None, "start the call first"
        while True:
            try:
                piece = self._pieces.get(timeout=POLL_S)
            except queue.Empty:
                piece = None
            if piece is _DONE:
                return
            if isinstance(piece, str) and on_text is not None:
                try:
                    on_text(piece)
                except BaseException:
                    self.cancel()  # the receiver failed or was stopped: the rest is unwanted
                    raise
            if stop_requested():
                self.cancel()
                raise Interrupted(f"interrupted while waiting for {self.description}")

    def cancel(self) -> None:
        if self.future is not None:
            self.future.cancel()
