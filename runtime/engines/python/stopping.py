"""Stopping a running Python script: the interrupt and the time limit raise an exception into
the script's thread (again and again, so a bare `except` cannot keep it alive), never while
llmspell's or Python's own code runs."""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from llmspell.runtime.results import (
    ScriptError,
)

if TYPE_CHECKING:
    pass


class ScriptInterrupted(BaseException):
    """Raised asynchronously into the running script by `interrupt()` or the timeout."""


RERAISE_S = 0.2  # how often a stop that has not ended the script is raised again


def host_directories() -> tuple[str, ...]:
    """Where llmspell's and Python's own code lives: a stop is never raised there on purpose
    (half-done storage writes), only in the script's code. Reads the packages already loaded
    (it runs before tracing starts; importing from a trace function would trace the import)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for name in ("llmspell", "llmspell.runtime", "llmspell.storage", "llmspell.kernel"):
        module = sys.modules.get(name)
        dirs |= {str(Path(p)) for p in getattr(module, "__path__", [])}
    return tuple(sorted(dirs))


class Stopper:
    """Stops one running script. Once the deadline passes or `trigger` is called, it stops the
    script's thread, and again every RERAISE_S until `finish`, so `except BaseException:` in a
    loop cannot keep the script alive:

    - on the main thread (the CLI, the kernel) it sends SIGINT: the signal breaks a blocking call
      such as time.sleep, and the runtime's handler calls `interrupt`, which raises there and
      makes every later line of the script's own code raise again (a trace function), so the
      stop also lands after an `except` that swallowed it;
    - on another thread it raises asynchronously (blocking calls finish first)."""

    def __init__(self, thread_id: int, timeout_s: float) -> None:
        self.thread_id = thread_id
        self._host_dirs = host_directories()
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._triggered = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(timeout_s,), name="llmspell-python-stopper", daemon=True
        )
        self._tracing = False
        self._previous_trace: Any = None
        self._script_code: dict[str, bool] = {}

    def start(self) -> None:
        self._thread.start()

    @property
    def active(self) -> bool:
        return not self._done.is_set()

    def trigger(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self._triggered.set()

    def raise_on_every_line(self) -> None:
        """From now on every line of the script's code raises the stop again. Must run in the
        script's thread (the SIGINT handler does)."""
        if self._tracing or not self.active:
            return
        self._tracing = True
        self._previous_trace = sys.gettrace()
        sys.settrace(self._trace)
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:  # frames already running get line events too
            frame.f_trace = self._trace
            frame = frame.f_back

    def finish(self) -> None:
        """The script has ended: nothing more is raised, and a raise still pending is dropped.
        Runs in the script's thread; idempotent (a raise landing in here means: call again)."""
        with self._lock:
            self._done.set()
        self._triggered.set()
        if self._tracing:
            sys.settrace(self._previous_trace)
            self._tracing = False
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join()
        # A raise still pending lands at the next check of the interpreter: here, not in the
        # host's code. (Clearing it with PyThreadState_SetAsyncExc(id, NULL) would leave
        # CPython 3.11's eval breaker set for good.)
        try:
            for _ in range(2):
                pass
        except ScriptInterrupted:
            pass

    def _trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if not self.active or not self._in_script(frame):
            return None
        if event == "line":
            self._raise_async()
        return self._trace

    def _in_script(self, frame: FrameType) -> bool:
        filename = frame.f_code.co_filename
        known = self._script_code.get(filename)
        if known is None:
            host = filename.startswith("<") or filename.startswith(self._host_dirs)
            known = self._script_code[filename] = not host
        return known

    def _watch(self, timeout_s: float) -> None:
        self._triggered.wait(timeout_s if timeout_s > 0 else None)
        if self._done.is_set():
            return  # the script ended first: it was not stopped
        self.trigger("timeout")
        while True:
            with self._lock:
                if self._done.is_set():
                    return
                self._stop_thread()
            if self._done.wait(RERAISE_S):
                return

    def _stop_thread(self) -> None:
        if self.thread_id == threading.main_thread().ident and callable(
            signal.getsignal(signal.SIGINT)
        ):
            # A Python handler is installed (the runtime's, while a script runs), so the
            # signal breaks a blocking system call instead of killing the process.
            signal.pthread_kill(self.thread_id, signal.SIGINT)
        else:
            self._raise_async()

    def _raise_async(self) -> None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self.thread_id), ctypes.py_object(ScriptInterrupted)
        )


def stop_error(stopper: Stopper, timeout_s: float) -> ScriptError:
    if stopper.reason == "timeout":
        return ScriptError("TimeoutError", f"execution exceeded the time limit of {timeout_s:g} s")
    return ScriptError("KeyboardInterrupt", "execution interrupted")
