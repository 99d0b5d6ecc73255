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
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from llmspell.runtime.api.base import (
    ApiNamespace,
    ApiObject,
    NotAProducer,
    ProducerStep,
    public_functions,
    public_members,
    type_name,
)
from llmspell.runtime.config import LLMSpellConfig
from llmspell.runtime.display import data_bundle
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

_MISSING = object()


class _Interrupted(BaseException):
    """Raised asynchronously into the running script by `interrupt()` or the timeout."""


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
    implementation = "Python"
    trusted = True  # no sandbox: deployments that need one run only the Lua engine

    def __init__(self, config: LLMSpellConfig, sink: Callable[[], OutputSink]) -> None:
        self._config = config
        self._sink = sink
        self._namespace: dict[str, Any] = {"__name__": "__llmspell__", "__builtins__": builtins}
        self._thread_id: int | None = None
        self._baseline: dict[str, Any] = {}
        self._abort: str | None = None
        self.introspection = _PythonIntrospection(_PythonValues(self._namespace, self.format_value))
        self.language_info = {
            "name": "python",
            "version": ".".join(map(str, sys.version_info[:3])),
            "mimetype": "text/x-python",
            "file_extension": ".py",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "pygments_lexer": "ipython3",
            "nbconvert_exporter": "python",
        }

    @property
    def timeout_s(self) -> float:
        """The time limit of one execution (`engines.python.timeout_s`; 0 = none)."""
        return self._config.engines.python.timeout_s

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
        self._abort = None
        timeout_s = self.timeout_s
        self._thread_id = threading.get_ident()
        timer = threading.Timer(timeout_s, self._on_timeout) if timeout_s > 0 else None
        out = _SinkWriter(lambda s: self._sink().stdout(s))
        err = _SinkWriter(lambda s: self._sink().stderr(s))
        try:
            if timer is not None:
                timer.start()
            with redirect_stdout(out), redirect_stderr(err):
                exec(body, self._namespace)
                value = eval(expr, self._namespace) if expr is not None else None
        except (_Interrupted, KeyboardInterrupt):
            reason = self._abort
            if reason == "timeout":
                raise ScriptError(
                    "TimeoutError", f"execution exceeded the time limit of {timeout_s:g} s"
                ) from None
            raise ScriptError("KeyboardInterrupt", "execution interrupted") from None
        except MemoryError:
            raise ScriptError("MemoryError", "not enough memory") from None
        except SystemExit as exc:
            # as ipykernel does for user code: report it, never end the host process
            raise ScriptExit(exc.code) from None
        except Exception as exc:
            raise _script_error(exc, name) from None
        finally:
            if timer is not None:
                timer.cancel()
            self._thread_id = None
        if expr is None or value is None:
            return False, None, {}
        return True, value, self.bundle_for(value)

    def _on_timeout(self) -> None:
        self._abort = "timeout"
        self._raise_in_script()

    def interrupt(self) -> None:
        self._abort = "interrupt"
        self._raise_in_script()

    def stop_requested(self) -> bool:
        """Whether the running cell must stop (interrupted, or past its time limit)."""
        return self._abort is not None

    def _raise_in_script(self) -> None:
        thread_id = self._thread_id
        if thread_id is None:
            return
        if thread_id == threading.get_ident():
            raise _Interrupted()
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread_id), ctypes.py_object(_Interrupted)
        )

    # --- presentation -------------------------------------------------------------------------

    def format_value(self, raw: Any) -> str:
        k = self._config.kernel
        return pprint.pformat(raw, depth=k.display_max_depth, width=88, sort_dicts=True)

    def bundle_for(self, raw: Any) -> dict[str, Any]:
        """text/plain as pprint writes it, plus what the object offers through IPython's
        display methods (`_repr_html_`...) or, for plain data, JSON and a records table."""
        rich = rich_bundle(raw, lambda problem: self._sink().stderr(f"{problem}\n"))
        if rich:
            return {"text/plain": self.format_value(raw), **rich}
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


def _script_error(exc: BaseException, name: str) -> ScriptError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == name]
    lines = traceback.format_list(frames)
    tb = [
        "Traceback (most recent call last):",
        *[ln.rstrip("\n") for ln in lines],
        f"{type(exc).__name__}: {exc}",
    ]
    ename = getattr(exc, "ename", None) or type(exc).__name__
    return ScriptError(ename, str(exc), tb)
