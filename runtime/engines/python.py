"""The Python engine: a dedicated namespace with the same globals. Trusted only (no sandbox)."""

from __future__ import annotations

import ast
import builtins
import codeop
import ctypes
import inspect
import io
import keyword
import pprint
import re
import signal
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.base import (
    ApiNamespace,
    ApiObject,
    NotAProducer,
    ProducerStep,
    public_functions,
    public_members,
    type_name,
)
from llmspell.runtime.display import data_bundle, picture_first
from llmspell.runtime.engines import IMPLEMENTATION, LANGUAGE_INFO
from llmspell.runtime.engines.introspection import Introspection, api_name_of, summary_page
from llmspell.runtime.engines.python_display import rich_bundle
from llmspell.runtime.engines.python_modules import MODULE_NAMES
from llmspell.runtime.results import (
    CompletenessCheck,
    Completion,
    OutputSink,
    ScriptError,
    ScriptExit,
    StdinNotAvailable,
)

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig

_MISSING = object()


class _Interrupted(BaseException):
    """Raised asynchronously into the running script by `interrupt()` or the timeout."""


RERAISE_S = 0.2  # how often a stop that has not ended the script is raised again


def _host_directories() -> tuple[str, ...]:
    """Where llmspell's and Python's own code lives: a stop is never raised there on purpose
    (half-done storage writes), only in the script's code. Reads the packages already loaded
    (it runs before tracing starts; importing from a trace function would trace the import)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for name in ("llmspell", "llmspell.runtime", "llmspell.storage", "llmspell.kernel"):
        module = sys.modules.get(name)
        dirs |= {str(Path(p)) for p in getattr(module, "__path__", [])}
    return tuple(sorted(dirs))


class _Stopper:
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
        self._host_dirs = _host_directories()
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
        except _Interrupted:
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
            ctypes.c_ulong(self.thread_id), ctypes.py_object(_Interrupted)
        )


class _SinkWriter(io.TextIOBase):
    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, text: str) -> int:
        self._write(text)
        return len(text)

    def writable(self) -> bool:
        return True


class PythonEngine:
    """Runs Python cells in one namespace that holds the API globals as plain objects."""

    name = "python"
    implementation = IMPLEMENTATION["python"]
    trusted = True  # no sandbox: deployments that need one run only the Lua engine

    def __init__(self, config: LLMSpellConfig, sink: Callable[[], OutputSink]) -> None:
        self._config = config
        self._sink = sink
        self._namespace: dict[str, Any] = {"__name__": "__llmspell__", "__builtins__": builtins}
        self._stopper: _Stopper | None = None
        self._in_cell = False
        self._stop_pending = False  # interrupted while the cell was being prepared
        self._baseline: dict[str, Any] = {}
        self.introspection = _PythonIntrospection(_PythonValues(self._namespace, self.format_value))
        self.language_info = dict(LANGUAGE_INFO["python"])

    @property
    def timeout_s(self) -> float:
        """The time limit of one execution (`engines.python.timeout_s`; 0 = none)."""
        return self._config.engines.python.timeout_s

    @property
    def memory_limit(self) -> None:
        """None: Python scripts are trusted and have no memory limit."""
        return None

    def install_globals(self, globals_: Mapping[str, Any]) -> None:
        self._namespace.update(globals_)
        self._namespace["input"] = self._input
        # a kernel has no script arguments: empty, so scripts can index them anyway
        self._namespace["ARGS"] = {}
        self._namespace["arg"] = []
        self._baseline = dict(self._namespace)

    def set_args(self, script_name: str, args: list[str], kwargs: Mapping[str, str]) -> None:
        all_args: dict[Any, Any] = {0: script_name, **dict(enumerate(args, start=1)), **kwargs}
        self._namespace["ARGS"] = self._baseline["ARGS"] = all_args
        self._namespace["arg"] = self._baseline["arg"] = [script_name, *args]

    def user_globals(self) -> dict[str, str]:
        """Names the scripts defined or replaced (name → type), for %who; `_names` are private,
        as in IPython."""
        return {
            name: type(value).__name__
            for name, value in self._namespace.items()
            if not name.startswith("_") and self._baseline.get(name, _MISSING) is not value
        }

    def forget_user_globals(self) -> list[str]:
        """%reset: remove what scripts defined, restore the names they replaced or deleted;
        the names it changed."""
        removed = [name for name in self._baseline if name not in self._namespace]
        names = sorted({*self.user_globals(), *removed})
        for name in names:
            if name in self._baseline:
                self._namespace[name] = self._baseline[name]
            else:
                del self._namespace[name]
        return names

    def timing_source(self, code: str, loops: int) -> str:
        """`code` run `loops` times by Python itself (%timeit), in the blank lines before it
        if there are any, so error positions stay the cell's."""
        body = code.lstrip("\n")
        blank = len(code) - len(body)
        loop = f"for _ in range({loops}):\n"
        return "\n" * max(blank - 1, 0) + loop + textwrap.indent(body, "    ")

    def producer(self, fn: Any) -> ProducerStep:
        """Streaming.create's producer: a generator function (or any function returning an
        iterable), or an iterable."""
        source = fn() if callable(fn) else fn
        try:
            iterator = iter(source)
        except TypeError:
            raise NotAProducer(
                f"must be a generator function or iterable, got {type_name(fn)}"
            ) from None

        def step() -> tuple[bool, Any, bool]:
            try:
                return True, next(iterator), False
            except StopIteration:
                return False, None, True

        return step

    def _input(self, prompt: str = "") -> str:
        try:
            return self._sink().input(str(prompt), False)
        except StdinNotAvailable as exc:
            raise EOFError(f"input: {exc}") from None

    # --- execution ----------------------------------------------------------------------------

    def execute(self, code: str, name: str) -> tuple[bool, Any, dict[str, Any]]:
        try:
            tree = ast.parse(code, filename=name, mode="exec")
        except SyntaxError as exc:
            raise ScriptError("SyntaxError", f"{exc.msg} ({name}, line {exc.lineno})") from None
        last_expr = None
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr) and not code.rstrip().endswith(";"):
            tree.body.pop()
            last_expr = ast.Expression(last.value)
        body = compile(tree, name, "exec")
        expr = compile(last_expr, name, "eval") if last_expr is not None else None

        def run() -> Any:
            exec(body, self._namespace)
            return eval(expr, self._namespace) if expr is not None else None

        value = self._guarded(run, lambda filename: filename == name)
        if expr is None or value is None:
            return False, None, {}
        return True, value, self.bundle_for(value)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a script function the host calls on its own (a widget callback between cells)
        under the limits a cell runs under; ScriptError when it fails or is stopped."""
        return self._guarded(lambda: fn(*args), lambda filename: filename.startswith("[cell "))

    def _guarded(self, run: Callable[[], Any], script_file: Callable[[str], bool]) -> Any:
        """`run()` with the script's output going to the sink, stopped by the time limit and
        the interrupt; failures as ScriptError (traceback frames of `script_file`s only)."""
        timeout_s = self.timeout_s
        out = _SinkWriter(lambda s: self._sink().stdout(s))
        err = _SinkWriter(lambda s: self._sink().stderr(s))
        stopper = self._stopper = _Stopper(threading.get_ident(), timeout_s)
        # The redirects end after the stopper: no stop may land in their restoring code.
        with redirect_stdout(out), redirect_stderr(err):
            try:
                try:
                    stopper.start()
                    if self._stop_pending:
                        stopper.trigger("interrupt")
                        raise _Interrupted()
                    return run()
                finally:
                    while True:  # a stop raised before finish() took effect: finish again
                        try:
                            self._stopper = None
                            stopper.finish()
                            break
                        except (_Interrupted, KeyboardInterrupt):
                            continue
            except (_Interrupted, KeyboardInterrupt):
                raise _stop_error(stopper, timeout_s) from None
            except MemoryError:
                raise ScriptError("MemoryError", "not enough memory") from None
            except SystemExit as exc:
                # as ipykernel does for user code: report it, never end the host process
                raise ScriptExit(exc.code) from None
            except Exception as exc:
                if stopper.reason is not None:
                    # host work the script called stopped itself (host_limits.HostStopped)
                    raise _stop_error(stopper, timeout_s) from None
                raise _script_error(exc, script_file) from None

    @contextmanager
    def cell(self) -> Iterator[None]:
        """The scope of one request: an interrupt before it is stale, one during it — also
        while the host prepares the cell, before the script runs — stops it."""
        self._in_cell, self._stop_pending = True, False
        try:
            yield
        finally:
            self._in_cell = self._stop_pending = False

    def interrupt(self) -> None:
        stopper = self._stopper
        if stopper is None or not stopper.active:
            if self._in_cell:
                self._stop_pending = True
            return
        stopper.trigger("interrupt")
        if threading.get_ident() == stopper.thread_id:
            # the runtime's SIGINT handler, running in the script's own thread
            stopper.raise_on_every_line()
            raise _Interrupted()

    def stop_requested(self) -> bool:
        """Whether the running cell must stop (interrupted, or past its time limit)."""
        stopper = self._stopper
        return stopper is not None and stopper.reason is not None

    # --- presentation -------------------------------------------------------------------------

    def format_value(self, raw: Any) -> str:
        k = self._config.kernel
        return pprint.pformat(raw, depth=k.display_max_depth, width=88, sort_dicts=True)

    def bundle_for(self, raw: Any) -> dict[str, Any]:
        """text/plain as pprint writes it, plus what the object offers through IPython's
        display methods (`_repr_html_`...; its JSON only when it offers nothing else to look
        at) or, for plain data, a records table."""
        rich = rich_bundle(raw, lambda problem: self._sink().stderr(f"{problem}\n"))
        if rich:
            return picture_first({"text/plain": self.format_value(raw), **rich})
        return data_bundle(raw, self.format_value(raw))

    # --- completeness -------------------------------------------------------------------------

    def is_complete(self, code: str) -> CompletenessCheck:
        try:
            compiled = codeop.compile_command(code, "<input>", "exec")
        except (SyntaxError, ValueError, OverflowError):
            return CompletenessCheck("invalid")
        if compiled is None:
            return CompletenessCheck("incomplete", "    ")
        return CompletenessCheck("complete")

    def close(self) -> None:
        self._namespace.clear()


class _PythonIntrospection(Introspection):
    """The shared introspection, plus module names in `import` lines."""

    def complete(self, code: str, cursor_pos: int) -> Completion:
        return MODULE_NAMES.complete(code, cursor_pos) or super().complete(code, cursor_pos)


class _PythonValues:
    """The `ScriptValues` of the Python namespace (see runtime/engines/introspection.py)."""

    name_chars = re.compile(r"[A-Za-z0-9_.]")
    name_at_end = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\.?)$")
    separators = "."
    private_prefix = "_"
    inspect_names_value = False
    overview_note = "Python objects are documented too: help(len), help(str.split)."

    def __init__(self, namespace: dict[str, Any], format_value: Callable[[Any], str]) -> None:
        self._namespace = namespace
        self._format_value = format_value

    def lookup(self, dotted: str) -> Any:
        # getattr_static: inspecting a name must not run properties or __getattr__
        parts = dotted.split(".")
        if parts[0] in self._namespace:
            value = self._namespace[parts[0]]
        elif hasattr(builtins, parts[0]):
            value = getattr(builtins, parts[0])
        else:
            raise LookupError(dotted)
        for part in parts[1:]:
            try:
                value = inspect.getattr_static(value, part)
            except AttributeError:
                raise LookupError(dotted) from None
        return value

    def api_name_of(self, value: Any) -> str | None:
        return api_name_of(value)

    def text_of(self, value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def language_doc(self, value: Any) -> str | None:
        doc = inspect.getdoc(value) if callable(value) else None
        if not doc:
            return None
        try:
            return f"{getattr(value, '__name__', '')}{inspect.signature(value)}\n\n{doc}\n"
        except (TypeError, ValueError):
            return f"{doc}\n"

    def summary(self, value: Any) -> str:
        return summary_page(type(value).__name__, self._format_value(value))

    def global_names(self) -> Iterable[str]:
        names = set(self._namespace) | set(dir(builtins)) | set(keyword.kwlist)
        return (n for n in names if not n.startswith("__"))

    def member_names(self, value: Any, methods_only: bool) -> Iterable[str]:
        if isinstance(value, (ApiNamespace, ApiObject)):
            # What scripts call, not the Python plumbing (`api_name`) the class carries.
            names = {n for n, _ in public_functions(value)}
            if isinstance(value, ApiNamespace):
                names |= {n for n, _ in public_members(value)}
            return names
        return dir(value)


def _stop_error(stopper: _Stopper, timeout_s: float) -> ScriptError:
    if stopper.reason == "timeout":
        return ScriptError("TimeoutError", f"execution exceeded the time limit of {timeout_s:g} s")
    return ScriptError("KeyboardInterrupt", "execution interrupted")


def _script_error(exc: BaseException, script_file: Callable[[str], bool]) -> ScriptError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if script_file(f.filename)]
    lines = traceback.format_list(frames)
    tb = [
        "Traceback (most recent call last):",
        *[ln.rstrip("\n") for ln in lines],
        f"{type(exc).__name__}: {exc}",
    ]
    ename = getattr(exc, "ename", None) or type(exc).__name__
    return ScriptError(ename, str(exc), tb)
