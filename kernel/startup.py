"""The kernel's runtime and history, built on a thread of their own.

Building them (the config, pydantic, the engine, the globals) is most of a kernel's start-up
and holds the GIL most of the time, so the kernel answers its first kernel_info before it
starts (`begin`, a moment later), and a request that needs the runtime sooner starts the build
itself and waits (`wait`), where Ctrl-C ends the wait.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from llmspell.kernel.errors import internal_error
from llmspell.kernel.history import KernelHistory
from llmspell.runtime.results import ScriptError

if TYPE_CHECKING:
    from llmspell.runtime import ScriptRuntime
    from llmspell.runtime.results import OutputSink


class RuntimeStartup:
    """Builds one ScriptRuntime of `engine` with output to `sink`, and the kernel history, once.
    A broken config must not kill the kernel: `error` then says why, for every request.
    `on_done` runs on the building thread when the build ended either way."""

    def __init__(
        self,
        engine: str,
        sink: OutputSink,
        log: logging.Logger,
        on_done: Callable[[], None],
    ) -> None:
        self.engine = engine
        self.runtime: ScriptRuntime | None = None
        self.history: KernelHistory | None = None
        self.error: ScriptError | None = None
        self._sink = sink
        self._log = log
        self._on_done = on_done
        self._done = threading.Event()
        self._starting = threading.Lock()
        self._builder: threading.Thread | None = None

    @property
    def done(self) -> bool:
        """Whether the build has ended (with a runtime, or with `error`)."""
        return self._done.is_set()

    def begin(self) -> None:
        """Start building on a thread of its own (once)."""
        with self._starting:
            if self._builder is None:
                self._builder = threading.Thread(
                    target=self._build, name="llmspell-runtime", daemon=True
                )
                self._builder.start()

    def _build(self) -> None:
        try:
            from llmspell.runtime import LLMSpellConfig, ScriptRuntime, load_config

            history_file = LLMSpellConfig().resolved_history_file()
            try:
                loaded = load_config()
                history_file = loaded.config.resolved_history_file()
                runtime = ScriptRuntime(loaded.config, engine=self.engine, loaded_config=loaded)
                runtime.set_output(self._sink)
                runtime.widgets.connect()
                self.runtime = runtime
            except Exception as exc:
                self.error = ScriptError(
                    type(exc).__name__, f"the llmspell runtime could not start: {exc}"
                )
                self._log.error("llmspell runtime failed to start", exc_info=True)
            self.history = KernelHistory(history_file, self.engine)
        except BaseException as exc:  # a request waiting for the runtime must learn of it
            self.error = internal_error(exc)
            self._log.error("llmspell runtime failed to start", exc_info=True)
        finally:
            self._done.set()
            self._on_done()

    def wait(self) -> ScriptRuntime | None:
        """Wait until the build is done (starting it if need be) and return the runtime (None
        when it failed: see `error`). Ctrl-C (SIGINT, also from an interrupt_request) ends the
        wait with a KeyboardInterrupt ScriptError."""
        if not self._done.is_set():
            self.begin()
            on_main_thread = threading.current_thread() is threading.main_thread()
            # outside a cell the kernel ignores SIGINT; this wait is part of a request
            previous = (
                signal.signal(signal.SIGINT, signal.default_int_handler) if on_main_thread else None
            )
            try:
                while not self._done.wait(0.1):
                    pass
            except KeyboardInterrupt:
                raise ScriptError(
                    "KeyboardInterrupt", "interrupted while the llmspell runtime was starting"
                ) from None
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
        return self.runtime

    def require(self) -> ScriptRuntime:
        """The runtime, once built; raises the start-up error when there is none."""
        runtime = self.wait()
        if runtime is None:
            assert self.error is not None
            raise self.error
        return runtime
