"""The limits every call into Lua runs under: the interrupt flag and the deadline that the count
hook polls. One guard is armed for the outermost call — a cell, a display, a completion, a
callback a host object makes after its cell ended — and the calls nested in it share it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime.results import ScriptError

MEMORY_ERROR = b"not enough memory"


class LuaLimits:
    """Interrupt and timeout of one LuaRuntime. `check` is what the prelude's count hook asks;
    `guard` arms the hook around the outermost call; `call` runs a Lua function under it."""

    def __init__(self, timeout_s: Callable[[], float]) -> None:
        self._timeout_s = timeout_s
        self._abort: str | None = None
        self._deadline: float | None = None
        self._depth = 0
        self._cells = 0  # nesting of `cell` scopes
        # One thread at a time in the Lua state; nested calls come from the same thread.
        self._lock = threading.RLock()
        self._arm: Callable[[], Any] = lambda: None
        self._disarm: Callable[[], Any] = lambda: None
        self._protected_call: Callable[..., Any] | None = None
        self.running_timeout_s = 0.0

    def attach(self, prelude: Any) -> None:
        """Use the prelude's hook switch and protected call (the prelude needs `check` first)."""
        self._arm, self._disarm = prelude.arm, prelude.disarm
        self._protected_call = prelude.protected_call

    # --- what the hook and the host ask -------------------------------------------------------

    def check(self) -> bool:
        """True when the running call must stop; the prelude's count hook polls this."""
        if self._abort is not None:
            return True
        if self._deadline is not None and time.monotonic() > self._deadline:
            self._abort = "timeout"
            return True
        return False

    def interrupt(self) -> None:
        """Stop the running call (thread-safe; a timeout already under way stays a timeout)."""
        if self._abort is None:
            self._abort = "interrupt"

    @property
    def stopping(self) -> bool:
        """Whether the current guard was interrupted or timed out."""
        return self._abort is not None

    def stop_error(self, where: str | None = None) -> ScriptError:
        """The error a stopped call ends with; `where` is the script position it stopped at."""
        if self._abort == "timeout":
            msg = f"execution exceeded the time limit of {self.running_timeout_s:g} s"
            return ScriptError("TimeoutError", f"{msg} (stopped at {where})" if where else msg)
        msg = "execution interrupted"
        return ScriptError("KeyboardInterrupt", f"{msg} at {where}" if where else msg)

    # --- the guard ----------------------------------------------------------------------------

    @contextmanager
    def cell(self) -> Iterator[None]:
        """The scope of one request (a cell): an interrupt that came before it is stale and
        cleared; one that comes during it — also while the host prepares the cell, before any
        Lua runs — stops it."""
        with self._lock:
            if not self._cells:
                self._abort = None
            self._cells += 1
            try:
                yield
            finally:
                self._cells -= 1

    @contextmanager
    def guard(self) -> Iterator[None]:
        """The outermost guard clears a stale interrupt (outside a `cell`), starts the deadline
        (`engines.lua.timeout_s`) and arms the count hook on the main Lua thread; nested guards
        share it."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            if not self._cells:
                self._abort = None
            timeout_s = self._timeout_s()
            self.running_timeout_s = timeout_s
            self._deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
            self._depth = 1
            try:
                self._arm()
                yield
            finally:
                self._depth = 0
                self._deadline = None
                self._disarm()

    def call(self, fn: Any, *args: Any) -> tuple[bool, tuple[Any, ...]]:
        """`fn(*args)` in Lua under the guard: (True, results) or (False, (error value,)).
        The call goes through a C pcall, so no Lua code runs unprotected around it."""
        assert self._protected_call is not None, "LuaLimits.attach was not called"
        with self.guard():
            try:
                outcome = self._protected_call(fn, *args)
            except lupa.LuaMemoryError:
                return False, (MEMORY_ERROR,)
        ok, *results = outcome if isinstance(outcome, tuple) else (outcome,)
        return bool(ok), tuple(results)
