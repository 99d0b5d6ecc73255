"""ScriptRuntime: the one path the CLI, the kernel and library users take to run scripts.
(Over ~450 lines: it is the runtime's one facade — execute, complete, inspect, interrupt,
callbacks — each a few lines over the engine, infrastructure and magics.)"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from llmspell import __version__
from llmspell.runtime.api import ApiContext, Globals, build_globals
from llmspell.runtime.api.base import ProducerStep
from llmspell.runtime.api.docs import DocIndex, help_target
from llmspell.runtime.config import LoadedConfig, describe_sources
from llmspell.runtime.display.widgets import WidgetHost
from llmspell.runtime.engines.introspection import Introspection
from llmspell.runtime.errors import ScriptStopping
from llmspell.runtime.hooks import HookCancelled, HookRegistry
from llmspell.runtime.hooks.code import execute_with_hooks
from llmspell.runtime.host_limits import MemoryLimit
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.magics import CellMagic, Code, cell_parts
from llmspell.runtime.results import (
    CapturingSink,
    CompletenessCheck,
    Completion,
    ExecutionResult,
    OutputSink,
    ScriptError,
)

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig
    from llmspell.runtime.magics import Magics

ENGINES = ("lua", "python")
INCOMPLETE = CompletenessCheck("incomplete", "")


class Engine(Protocol):
    """A script engine (runtime/engines/): it runs code and states the facts about itself that
    the runtime and the APIs ask for."""

    name: str  # "lua" | "python"
    implementation: str  # for the banner: "Lua 5.4"
    language_info: dict[str, Any]  # Jupyter's kernel_info language_info

    @property
    def introspection(self) -> Introspection:
        """Help, inspect and complete (its `docs` are set by the runtime)."""
        ...

    @property
    def trusted(self) -> bool:
        """Whether scripts run without a sandbox (ApiContext.engine_trusted)."""
        ...

    @property
    def timeout_s(self) -> float:
        """The time limit of one execution from the engine's config section; 0 = none."""
        ...

    @property
    def memory_limit(self) -> MemoryLimit | None:
        """The memory limit of its scripts, which also bounds host work (None: none)."""
        ...

    def install_globals(self, globals_: Globals) -> None:
        """Give scripts the globals (building each on first use where the engine can)."""
        ...

    def user_globals(self) -> dict[str, str]:
        """Globals scripts defined or replaced, name → type name (%who)."""
        ...

    def forget_user_globals(self) -> list[str]:
        """Remove what scripts defined, restore what they replaced; the names (%reset)."""
        ...

    def timing_source(self, code: str, loops: int) -> str:
        """Source that runs `code` `loops` times in the engine's own loop (%timeit)."""
        ...

    def set_args(self, script_name: str, args: list[str], kwargs: Mapping[str, str]) -> None: ...
    def execute(self, code: str, name: str) -> tuple[bool, Any, dict[str, Any]]: ...
    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a script function outside any cell (a widget callback) under the limits a
        cell runs under; ScriptError when it fails or is stopped."""
        ...

    def is_complete(self, code: str) -> CompletenessCheck: ...
    def format_value(self, raw: Any) -> str: ...
    def bundle_for(self, raw: Any) -> dict[str, Any]: ...
    def producer(self, raw: Any) -> ProducerStep: ...
    def interrupt(self) -> None: ...
    def cell(self) -> AbstractContextManager[None]:
        """The scope of one request: interrupts from its start on stop it."""
        ...

    def stop_requested(self) -> bool: ...
    def close(self) -> None: ...


class _SinkRouter:
    """The sink the globals write to: forwards to whatever sink the running call uses."""

    def __init__(self) -> None:
        self.target: OutputSink = CapturingSink(ExecutionResult())

    def stdout(self, text: str) -> None:
        self.target.stdout(text)

    def stderr(self, text: str) -> None:
        self.target.stderr(text)

    def display(
        self,
        bundle: dict[str, Any],
        metadata: dict[str, Any],
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        if display_id is None:
            self.target.display(bundle, metadata)
        else:
            self.target.display(bundle, metadata, display_id=display_id, update=update)

    def clear(self, wait: bool) -> None:
        self.target.clear(wait)

    def page(self, text: str) -> None:
        self.target.page(text)

    def input(self, prompt: str, password: bool) -> str:
        return self.target.input(prompt, password)


class ScriptRuntime:
    """A script engine with the llmspell globals over one Infrastructure.

    >>> rt = ScriptRuntime(load_config(profile="memory").config)
    >>> rt.execute("return 6 * 7").value
    42
    """

    def __init__(
        self,
        config: LLMSpellConfig,
        engine: str | None = None,
        infrastructure: Infrastructure | None = None,
        *,
        loaded_config: LoadedConfig | None = None,
        host_defaults: Mapping[str, tuple[Any, str]] | None = None,
    ) -> None:
        """`loaded_config` (what load_config returned) says where each value of `config` came
        from and `host_defaults` what the host uses where no layer set a value; `%config`
        shows both."""
        engine = engine or config.default_engine
        if engine not in ENGINES:
            raise ValueError(
                f"ScriptRuntime: engine must be one of {', '.join(ENGINES)}, got {engine!r}"
            )
        if engine == "python" and not config.engines.python.enabled:
            raise ValueError(
                "ScriptRuntime: the Python engine is disabled (engines.python.enabled = false): "
                "it runs scripts without a sandbox; use the Lua engine"
            )
        self.config = config
        self.engine_name = engine
        self._owns_infrastructure = infrastructure is None
        self.infrastructure = infrastructure or Infrastructure.from_config(config)
        self._router = _SinkRouter()
        self._sink: OutputSink | None = None
        self._lock = threading.Lock()
        self._running_thread: int | None = None  # the thread inside execute/run_callback
        self._closed = False
        self._engine: Engine = self._make_engine(engine)
        # host work for a script (ingest, parsing, conversion...) stops with it
        self.infrastructure.limits.attach(self._engine.stop_requested, self._engine.memory_limit)
        self.widgets = WidgetHost(self.run_callback)
        ctx = ApiContext(
            config=config,
            infrastructure=self.infrastructure,
            sink=self._router,
            engine_trusted=self._engine.trusted,
            bundle_for=self._engine.bundle_for,
            format_value=self._engine.format_value,
            describe=self._engine.introspection.describe,
            producer=self._engine.producer,
            stop_requested=self.infrastructure.limits.stop_requested,
            widgets=self.widgets,
        )
        self._globals = build_globals(ctx)  # each built on first use
        self._engine.introspection.docs = DocIndex(self._globals)
        self._engine.install_globals(self._globals)
        self._loaded_config = loaded_config
        self._host_defaults = dict(host_defaults or {})
        self._inputs: list[str] = []  # every cell run, in order (%history)
        self._magics_made: Magics | None = None

    @property
    def _magics(self) -> Magics:
        """The magics, made when a cell first has one (or completion or an interrupt asks)."""
        if self._magics_made is None:
            from llmspell.runtime.magics import Magics

            self._magics_made = Magics(self._engine, self._config_rows, self.config, self._inputs)
        return self._magics_made

    @classmethod
    def with_engine(cls, config: LLMSpellConfig, engine: str) -> ScriptRuntime:
        """A runtime using `engine` ("lua" or "python") whatever `default_engine` says."""
        return cls(config, engine=engine)

    def _make_engine(self, engine: str) -> Engine:
        if engine == "lua":
            from llmspell.runtime.engines.lua import LuaEngine

            return LuaEngine(self.config, lambda: self._router)
        from llmspell.runtime.engines.python import PythonEngine

        return PythonEngine(self.config, lambda: self._router)

    # --- host-facing properties ---------------------------------------------------------------

    @property
    def language_info(self) -> dict[str, Any]:
        return dict(self._engine.language_info)

    @property
    def banner(self) -> str:
        storage: str = self.config.storage.backend
        if storage == "sqlite":
            storage += f" ({self.config.resolved_storage_path()})"
        return (
            f"llmspell {__version__} - {self._engine.implementation} engine, storage: {storage}, "
            f"tenant: {self.config.tenancy.tenant_id}\nhelp() lists the globals; ?name shows docs."
        )

    @property
    def docs(self) -> DocIndex:
        """The documentation of every global this runtime installed."""
        return self._engine.introspection.docs

    def set_output(self, sink: OutputSink | None) -> None:
        """Stream output to `sink` as it happens (None: capture it into each ExecutionResult)."""
        self._sink = sink

    # --- the calls ----------------------------------------------------------------------------

    def execute(
        self,
        code: str,
        name: str = "script",
        args: Sequence[str] | None = None,
        kwargs: Mapping[str, str] | None = None,
    ) -> ExecutionResult:
        """Run `code` as one chunk named `name`; raise ScriptError on failure.

        `args`/`kwargs` become `ARGS`/`arg` (ARGS[0] = name)."""
        if self._closed:
            raise RuntimeError("ScriptRuntime.execute: the runtime is closed")
        result = ExecutionResult()
        sink = self._sink or CapturingSink(result)
        with self._lock, self._running():
            self._router.target = sink
            if args is not None or kwargs is not None:
                self._engine.set_args(name, list(args or []), dict(kwargs or {}))
            with self._engine.cell(), _sigint_sets_interrupt(self), _stopping_as_script_error():
                target = help_target(code)
                if target is not None:
                    sink.page(self._engine.introspection.describe_name(target))
                    return result
                has_value, value, bundle = execute_with_hooks(
                    self.infrastructure.get(HookRegistry),
                    self.engine_name,
                    code,
                    name,
                    lambda source: self._run_cell(source, name, sink),
                )
        result.has_value, result.value, result.bundle = has_value, value, bundle
        return result

    def run_callback(
        self, fn: Callable[..., Any], args: Sequence[Any], sink: OutputSink | None = None
    ) -> None:
        """Run a script function the host calls back (a widget's on_change), its output going
        to `sink` (default: where the last call's went).

        Called by the running script itself (it set a widget's value), `fn` runs inside that
        call, under its limits, and its error is the script's. Called from outside (a front
        end's message between cells), it runs as a cell does: under the time limit, stopped by
        an interrupt; an error or stop is written to the sink's stderr, never raised."""
        if self._running_thread == threading.get_ident():
            previous = self._router.target
            self._router.target = sink or previous
            try:
                fn(*args)
            finally:
                self._router.target = previous
            return
        if self._closed:
            return
        with self._lock, self._running():
            target = sink or self._sink or self._router.target
            previous, self._router.target = self._router.target, target
            try:
                with self._engine.cell(), _sigint_sets_interrupt(self):
                    try:
                        with _stopping_as_script_error():
                            self._engine.call(fn, *args)
                    except ScriptError as err:
                        target.stderr("\n".join(err.traceback) + "\n")
            finally:
                self._router.target = previous

    @contextmanager
    def _running(self) -> Iterator[None]:
        self._running_thread = threading.get_ident()
        try:
            yield
        finally:
            self._running_thread = None

    def _run_cell(self, code: str, name: str, sink: OutputSink) -> tuple[bool, Any, dict[str, Any]]:
        """Run a cell: plain code on the engine, a cell with magic lines (runtime/magics/)
        part by part."""
        self._inputs.append(code)
        parts = cell_parts(code, self._compiles)
        if parts is None:
            return self._engine.execute(code, name)
        return self._magics.run(parts, name, sink)

    def _compiles(self, code: str) -> bool:
        """Whether `code` is complete code of the engine (how `cell_parts` tells a magic line)."""
        return self._engine.is_complete(code).status == "complete"

    def _config_rows(self) -> list[tuple[str, Any, str]]:
        loaded = self._loaded_config or LoadedConfig(self.config)
        return describe_sources(loaded, self._host_defaults)

    def complete(self, code: str, cursor_pos: int | None = None) -> Completion:
        """Completions for the name before `cursor_pos` (default: end of code)."""
        pos = _cursor("ScriptRuntime.complete", code, cursor_pos)
        magic = self._magics.complete(code, pos)
        if magic is not None:
            return magic
        with self._lock, _sigint_sets_interrupt(self), _stopping_as_script_error():
            return self._engine.introspection.complete(code, pos)

    def inspect(
        self, code: str, cursor_pos: int | None = None, detail_level: int = 0
    ) -> dict[str, str] | None:
        """Signature and docs of the API function at the cursor, or a summary of the value.
        Jupyter's `detail_level` is accepted; both levels show the same page."""
        pos = _cursor("ScriptRuntime.inspect", code, cursor_pos)
        with self._lock, _sigint_sets_interrupt(self), _stopping_as_script_error():
            return self._engine.introspection.inspect(code, pos)

    def is_complete(self, code: str) -> CompletenessCheck:
        """Whether `code` is a complete chunk, needs more lines, or is invalid."""
        if not code.strip() or help_target(code) is not None:
            return CompletenessCheck("complete")
        with self._lock, _sigint_sets_interrupt(self):
            return self._is_complete(code)

    def _is_complete(self, code: str) -> CompletenessCheck:
        try:
            parts = cell_parts(code, self._compiles)
        except ScriptError:
            return CompletenessCheck("invalid")
        if parts is None:
            return self._engine.is_complete(code)
        for part in parts:
            if isinstance(part, CellMagic):
                # `%%time` alone: the body comes on the next lines; as in IPython, a cell
                # magic's body ends with an empty line (the console ran the first line alone)
                if not part.body.strip() or code.rsplit("\n", 1)[-1].strip():
                    return INCOMPLETE
                if help_target(part.body) is not None:
                    return CompletenessCheck("complete")
                return self._is_complete(part.body)
            if isinstance(part, Code):
                check = self._engine.is_complete(part.text)
                if check.status != "complete":
                    return check
        return CompletenessCheck("complete")

    def interrupt(self) -> None:
        """Stop the running script (thread-safe); it fails with KeyboardInterrupt."""
        self._engine.interrupt()
        if self._magics_made is not None:  # no magic ran, so none is running
            self._magics_made.interrupt()

    def close(self) -> None:
        """Release the engine and (if this runtime built it) the infrastructure. Idempotent."""
        if self._closed:
            return
        self._run_shutdown_hooks()
        self._closed = True
        self.infrastructure.limits.detach()
        self._engine.close()
        if self._owns_infrastructure:
            self.infrastructure.close()

    def _run_shutdown_hooks(self) -> None:
        """SystemShutdown: the hooks a script registered there run once as the runtime closes,
        under a cell's limits, their output going where the last call's went. A cancel cannot
        stop a close; an error or stop is written to stderr. Skipped when the runtime closes
        from another thread while a cell still runs (that cell holds the engine)."""
        try:
            registry = self.infrastructure.get(HookRegistry)
        except (RuntimeError, ScriptStopping):  # a shared infrastructure closed first; a stop
            return
        if not registry.hooks("SystemShutdown") or not self._lock.acquire(blocking=False):
            return
        try:
            data = {"engine": self.engine_name, "reason": "close"}
            with self._running(), self._engine.cell(), _sigint_sets_interrupt(self):
                try:
                    with _stopping_as_script_error():
                        self._engine.call(registry.run, "SystemShutdown", "runtime", data)
                except HookCancelled:
                    pass
                except ScriptError as err:
                    self._router.target.stderr("\n".join(err.traceback) + "\n")
        finally:
            self._lock.release()

    def __enter__(self) -> ScriptRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cursor(function: str, code: str, cursor_pos: int | None) -> int:
    if cursor_pos is None:
        return len(code)
    if not 0 <= cursor_pos <= len(code):
        raise ValueError(
            f"{function}: cursor_pos must be between 0 and len(code) = {len(code)}, "
            f"got {cursor_pos}"
        )
    return cursor_pos


@contextmanager
def _stopping_as_script_error() -> Iterator[None]:
    """A script callback stopped by the interrupt or the timeout outside a running script
    (help, inspection) ends the call like a stopped script does."""
    try:
        yield
    except ScriptStopping as exc:
        raise ScriptError(getattr(exc, "ename", "KeyboardInterrupt"), str(exc)) from None


class _sigint_sets_interrupt:
    """While a script runs on the main thread, SIGINT only sets the interrupt flag: a Python
    KeyboardInterrupt could land inside the Lua glue where a pcall would swallow it."""

    def __init__(self, runtime: ScriptRuntime) -> None:
        self._runtime = runtime
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handle)
                self._installed = True
            except (ValueError, OSError):
                self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._runtime.interrupt()

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


__all__ = ["ScriptError", "ScriptRuntime"]
