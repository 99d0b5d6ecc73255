"""The Python engine: a dedicated namespace with the same globals. Trusted only (no sandbox)."""

from __future__ import annotations

import ast
import builtins
import codeop
import io
import pprint
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import type_name
from llmspell.runtime.api.base import NotAProducer, ProducerStep
from llmspell.runtime.display import data_bundle, picture_first
from llmspell.runtime.engines import IMPLEMENTATION, LANGUAGE_INFO
from llmspell.runtime.engines.python.display import rich_bundle
from llmspell.runtime.engines.python.stopping import ScriptInterrupted, Stopper, stop_error
from llmspell.runtime.engines.python.values import PythonIntrospection, PythonValues
from llmspell.runtime.results import (
    CompletenessCheck,
    OutputSink,
    ScriptError,
    ScriptExit,
    StdinNotAvailable,
)

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig

_MISSING = object()


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
        self._stopper: Stopper | None = None
        self._in_cell = False
        self._stop_pending = False  # interrupted while the cell was being prepared
        self._baseline: dict[str, Any] = {}
        self.introspection = PythonIntrospection(PythonValues(self._namespace, self.format_value))
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
        stopper = self._stopper = Stopper(threading.get_ident(), timeout_s)
        # The redirects end after the stopper: no stop may land in their restoring code.
        with redirect_stdout(out), redirect_stderr(err):
            try:
                try:
                    stopper.start()
                    if self._stop_pending:
                        stopper.trigger("interrupt")
                        raise ScriptInterrupted()
                    return run()
                finally:
                    while True:  # a stop raised before finish() took effect: finish again
                        try:
                            self._stopper = None
                            stopper.finish()
                            break
                        except (ScriptInterrupted, KeyboardInterrupt):
                            continue
            except (ScriptInterrupted, KeyboardInterrupt):
                raise stop_error(stopper, timeout_s) from None
            except MemoryError:
                raise ScriptError("MemoryError", "not enough memory") from None
            except SystemExit as exc:
                # as ipykernel does for user code: report it, never end the host process
                raise ScriptExit(exc.code) from None
            except Exception as exc:
                if stopper.reason is not None:
                    # host work the script called stopped itself (host_limits.HostStopped)
                    raise stop_error(stopper, timeout_s) from None
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
            raise ScriptInterrupted()

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
