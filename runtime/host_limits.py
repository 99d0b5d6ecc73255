"""The running script's limits — interrupt, time limit, memory limit — applied to the work the
host does for it: ingesting and embedding text, tokenizing, parsing CSV and JSON, converting big
values, loading a model or opening storage on first use.

The engines stop script code themselves (Lua's count hook, the Python engine's stopper), but
neither sees a host function that runs for seconds. Such work asks the one `HostLimits` of its
runtime (`Infrastructure.limits`, attached to the engine by `ScriptRuntime`):

- `check_stop()` between steps (a slice of text, a batch of rows, N items): raises `HostStopped`
  once the script must stop; the engine reports it as its own interrupt or timeout;
- `check_size(what, size)` before work whose memory grows with its input: values larger than
  `MEMORY_SHARE` of the engine's memory limit are refused, naming the limit, since the host's
  memory is not counted by it;
- `wait(fn, what)` for slow one-off work that has no steps (a lazy import, opening storage,
  loading the embedding model, an HTTP request): `fn` runs on a helper thread while the script's
  thread watches the limits; on a stop the script goes on at once and `fn` finishes in the
  background (what it loads or opens is there for the next call).

Without a script (the CLI's `llmspell rag ingest`, a library user calling a manager) nothing is
checked and `wait` runs `fn` inline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, TypeVar

from llmspell.runtime.errors import Interrupted, InvalidArgument, ScriptStopping

T = TypeVar("T")
POLL_S = 0.05  # how often a waiting script thread looks for a stop
# A value handed to host work may be at most this share of the engine's memory limit: the work
# holds a few times its input (text, its tokens' offsets, its chunks) outside the script's heap.
MEMORY_SHARE = 16
MIB = 1024 * 1024
SLICE_CHARS = 64 * 1024  # text handled in one step (a tokenizer call: some 50 ms)
CHECK_EVERY = 16_384  # items of a value looked at between two checks (some ms of Python)


class MemoryLimit(NamedTuple):
    """An engine's memory limit and the setting that sets it (for error messages)."""

    mb: int
    setting: str  # "engines.lua.max_memory_mb"


class HostStopped(Interrupted, ScriptStopping):
    """Host work stopped because the script must stop (interrupt or time limit). Code that
    records a failure and carries on (a tool call, a workflow step) re-raises it."""


_helper = threading.local()  # `active` on wait()'s helper threads


class HostLimits:
    """The stop check and memory limit of the script a runtime is running, for host work."""

    def __init__(self) -> None:
        self._stop_requested: Callable[[], bool] | None = None
        self._memory: MemoryLimit | None = None

    def attach(self, stop_requested: Callable[[], bool], memory: MemoryLimit | None) -> None:
        """Follow an engine: `stop_requested` says when its script must stop; `memory` is its
        memory limit (None: it has none, as the Python engine)."""
        self._stop_requested = stop_requested
        self._memory = memory

    def detach(self) -> None:
        self._stop_requested = None
        self._memory = None

    # --- time ---------------------------------------------------------------------------------

    def stop_requested(self) -> bool:
        """Whether the running script must stop (interrupted, or past its time limit)."""
        return self._stop_requested is not None and self._stop_requested()

    def check_stop(self) -> None:
        """Raise HostStopped when the running script must stop."""
        if self.stop_requested():
            raise HostStopped("execution stopped (interrupt or time limit)")

    def wait(self, fn: Callable[[], T], what: str) -> T:
        """`fn()`, run on a helper thread while this thread checks the limits every POLL_S; a
        stop raises HostStopped at once and leaves `fn` to finish in the background. Inline
        when no script is attached, or on a helper thread already (work nested in `fn`)."""
        if self._stop_requested is None or getattr(_helper, "active", False):
            return fn()
        import concurrent.futures  # here: a start that waits for nothing does without it

        self.check_stop()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            _helper.active = True
            try:
                result = fn()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        future.set_running_or_notify_cancel()
        threading.Thread(target=run, name=f"llmspell-{what}", daemon=True).start()
        while True:
            try:
                return future.result(timeout=POLL_S)
            except concurrent.futures.TimeoutError:
                self.check_stop()

    # --- memory -------------------------------------------------------------------------------

    @property
    def max_value_bytes(self) -> int | None:
        """The largest value host work takes (None: no limit)."""
        if self._memory is None:
            return None
        return self._memory.mb * MIB // MEMORY_SHARE

    def check_size(self, what: str, size: int) -> None:
        """InvalidArgument when `size` bytes (`what`: "content", "document 'a'") is more than
        host work may take for the script, naming the limit it comes from."""
        limit = self.max_value_bytes
        if limit is None or size <= limit or self._memory is None:
            return
        raise InvalidArgument(
            f"{what} is {_mb(size)}; the limit is {_mb(limit)} per value handed to host work "
            f"(1/{MEMORY_SHARE} of {self._memory.setting} = {self._memory.mb})"
        )


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB"


UNLIMITED = HostLimits()  # for work no script waits for (and defaults of helpers)


# --- work in steps -----------------------------------------------------------------------------


class Ticker:
    """`tick()` once per item of a long loop: every `every`-th tick calls `check` (a per-item
    check would cost more than the item)."""

    __slots__ = ("_check", "_count", "_every")

    def __init__(self, check: Callable[[], None], every: int = CHECK_EVERY) -> None:
        self._check = check
        self._every = every
        self._count = 0

    def tick(self) -> None:
        self._count += 1
        if self._count >= self._every:
            self._count = 0
            self._check()


def text_slices(text: str, size: int = SLICE_CHARS) -> Iterator[tuple[int, str]]:
    """(offset, slice) steps through `text`, each at most `size` characters. A cut falls on a
    space when there is one in the slice's second half, and the space is left out: a word is
    never split, and a tokenizer that prefixes every text with a space (wordllama's) sees what
    it would have seen in the whole text."""
    start, length = 0, len(text)
    while length - start > size:
        end = start + size
        space = text.rfind(" ", start + size // 2, end)
        if space > start:
            yield start, text[start:space]
            start = space + 1
        else:
            yield start, text[start:end]
            start = end
    yield start, text[start:]


def slice_groups(texts: Sequence[str], group_chars: int) -> Iterator[list[tuple[int, str]]]:
    """The slices of every text as (index of its text, slice), in groups of at most about
    `group_chars` (one call of a batch tokenizer each)."""
    group: list[tuple[int, str]] = []
    size = 0
    for row, text in enumerate(texts):
        for _, piece in text_slices(text):
            if group and size + len(piece) > group_chars:
                yield group
                group, size = [], 0
            group.append((row, piece))
            size += len(piece)
    if group:
        yield group
