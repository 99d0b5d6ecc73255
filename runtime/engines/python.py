"""The Python engine: a dedicated namespace with the same globals. Trusted only (no sandbox)."""

from __future__ import annotations

import ast
import builtins
import codeop
import ctypes
import inspect
import io
import pprint
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from llmspell.runtime.api.base import (
    ApiNamespace,
    ApiObject,
    public_functions,
    public_members,
)
from llmspell.runtime.config import LLMSpellConfig
from llmspell.runtime.display import data_bundle
from llmspell.runtime.docs import DocEntry, DocIndex, help_target, name_at_cursor
from llmspell.runtime.results import (
    CompletenessCheck,
    Completion,
    OutputSink,
    ScriptError,
    StdinNotAvailable,
)

NAME_AT_END = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\.?)$")
NAME_CHARS = re.compile(r"[A-Za-z0-9_.]")


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

    def __init__(self, config: LLMSpellConfig, sink: Callable[[], OutputSink]) -> None:
        self._config = config
        self._sink = sink
        self._namespace: dict[str, Any] = {"__name__": "__llmspell__", "__builtins__": builtins}
        self._thread_id: int | None = None
        self._abort: str | None = None
        self._timeout_s = 0.0
        self.docs = DocIndex({})
        self.language_info = {
            "name": "python",
            "version": ".".join(map(str, sys.version_info[:3])),
            "mimetype": "text/x-python",
            "file_extension": ".py",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "pygments_lexer": "ipython3",
            "nbconvert_exporter": "python",
        }

    def install_globals(self, globals_: Mapping[str, Any], docs: DocIndex) -> None:
        self.docs = docs
        self._namespace.update(globals_)
        self._namespace["input"] = self._input

    def set_args(self, script_name: str, args: list[str], kwargs: Mapping[str, str]) -> None:
        all_args: dict[Any, Any] = {0: script_name, **dict(enumerate(args, start=1)), **kwargs}
        self._namespace["ARGS"] = all_args
        self._namespace["arg"] = [script_name, *args]

    def _input(self, prompt: str = "") -> str:
        try:
            return self._sink().input(str(prompt), False)
        except StdinNotAvailable as exc:
            raise EOFError(str(exc)) from None

    # --- execution ----------------------------------------------------------------------------

    def execute(
        self, code: str, name: str, timeout_s: float = 0
    ) -> tuple[bool, Any, dict[str, Any]]:
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
        self._timeout_s = timeout_s
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
        return data_bundle(raw, self.format_value(raw))

    def describe(self, raw: Any) -> str:
        if raw is None:
            return self.docs.overview([q for q in self.docs.entries if "." not in q])
        if isinstance(raw, str) and self.docs.get(raw) is not None:
            return self.docs.entries[raw].page()
        name = self._api_name_of(raw)
        if name is not None and self.docs.get(name) is not None:
            return self.docs.entries[name].page()
        doc = inspect.getdoc(raw) if callable(raw) else None
        preview = self.format_value(raw)
        text = f"type: {type(raw).__name__}\nvalue: {preview}\n"
        if doc:
            try:
                text = f"{getattr(raw, '__name__', '')}{inspect.signature(raw)}\n\n{doc}\n"
            except (TypeError, ValueError):
                text = f"{doc}\n"
        return text

    def describe_name(self, name: str) -> str:
        entry = self._doc_entry(name)
        if entry is not None:
            return entry.page()
        try:
            value = self._live(name)
        except LookupError:
            return f"no documentation for {name!r}: it is not an API function or a defined value\n"
        return self.describe(value)

    def _api_name_of(self, raw: Any) -> str | None:
        if isinstance(raw, ApiNamespace):
            return raw.api_name
        owner = getattr(raw, "__self__", None)
        if isinstance(owner, ApiNamespace):
            return f"{owner.api_name}.{raw.__name__}" if owner.api_name else raw.__name__
        if isinstance(owner, ApiObject):
            return f"{owner.api_name}.{raw.__name__}"
        return None

    # --- completion, inspection, completeness ---------------------------------------------------

    def complete(self, code: str, cursor_pos: int) -> Completion:
        m = NAME_AT_END.search(code[:cursor_pos])
        if m is None:
            return Completion([], cursor_pos, cursor_pos)
        text = m.group(1) + m.group(2)
        if "." not in text:
            import keyword

            names = set(self._namespace) | set(dir(builtins)) | set(keyword.kwlist)
            matches = sorted(n for n in names if n.startswith(text) and not n.startswith("__"))
            return Completion(matches, m.start(), cursor_pos)
        base, _, partial = text.rpartition(".")
        try:
            value = self._live(base)
        except LookupError:
            return Completion([], m.start(), cursor_pos)
        if isinstance(value, (ApiNamespace, ApiObject)):
            # What scripts call, not the Python plumbing (`api_name`) the class carries.
            names = {n for n, _ in public_functions(value)}
            if isinstance(value, ApiNamespace):
                names |= {n for n, _ in public_members(value)}
        else:
            names = {n for n in dir(value) if not n.startswith("_") or partial.startswith("_")}
        matches = sorted(f"{base}.{n}" for n in names if n.startswith(partial))
        return Completion(matches, m.start(), cursor_pos)

    def _live(self, dotted: str) -> Any:
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

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> dict[str, str] | None:
        name = name_at_cursor(code, cursor_pos, NAME_CHARS)
        if not name:
            return None
        entry = self._doc_entry(name)
        if entry is not None:
            return {"text/plain": entry.page()}
        try:
            value = self._live(name)
        except LookupError:
            return None
        return {"text/plain": self.describe(value)}

    def _doc_entry(self, name: str) -> DocEntry | None:
        """The API doc for a dotted name, also through variables (`t.stop` of a Timer `t`)."""
        entry = self.docs.get(name)
        base, _, attr = name.rpartition(".")
        if entry is not None or not base:
            return entry
        try:
            owner = self._live(base)
        except LookupError:
            return None
        if isinstance(owner, (ApiNamespace, ApiObject)) and owner.api_name:
            return self.docs.get(f"{owner.api_name}.{attr}")
        return None

    def is_complete(self, code: str) -> CompletenessCheck:
        if not code.strip() or help_target(code) is not None:
            return CompletenessCheck("complete")
        try:
            compiled = codeop.compile_command(code, "<input>", "exec")
        except (SyntaxError, ValueError, OverflowError):
            return CompletenessCheck("invalid")
        if compiled is None:
            return CompletenessCheck("incomplete", "    ")
        return CompletenessCheck("complete")

    def close(self) -> None:
        self._namespace.clear()


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
