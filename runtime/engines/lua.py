"""The Lua engine: one `lupa.lua54` runtime with the sandbox, interrupt/timeout/memory limits,
generic wrapping of the API globals, auto-display, completion and inspection."""

from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime.api.base import (
    ApiError,
    ApiNamespace,
    ApiObject,
    OpaqueValue,
    RawValue,
    ScriptFunction,
    ValidationError,
    public_functions,
    public_members,
    raw_params,
)
from llmspell.runtime.config import LLMSpellConfig
from llmspell.runtime.display import data_bundle
from llmspell.runtime.docs import DocIndex, help_target, name_at_cursor
from llmspell.runtime.results import (
    CompletenessCheck,
    Completion,
    OutputSink,
    ScriptError,
    StdinNotAvailable,
)

logger = logging.getLogger("llmspell.engine.lua")

HOOK_COUNT = 1000  # VM instructions between interrupt/timeout checks
MAX_DEPTH = 200  # nesting beyond this is treated as a cycle when converting tables
LUA_INT_MIN, LUA_INT_MAX = -(2**63), 2**63 - 1
KEYWORDS = [
    "and",
    "break",
    "do",
    "else",
    "elseif",
    "end",
    "false",
    "for",
    "function",
    "goto",
    "if",
    "in",
    "local",
    "nil",
    "not",
    "or",
    "repeat",
    "return",
    "then",
    "true",
    "until",
    "while",
]
# A line starting with one of these continues the previous expression, so it is never split
# off as "the last expression" of a cell.
CONTINUATION = re.compile(r"^\s*(and\b|or\b|\.\.|==|~=|<=|>=|//|<<|>>|[-+*/%^<>&|~.:(\[{\"'])")
NAME_AT_END = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:[.:][A-Za-z_][A-Za-z0-9_]*)*)([.:]?)$")
NAME_CHARS = re.compile(r"[A-Za-z0-9_.:]")
LANGUAGE_INFO = {
    "name": "lua",
    "version": "5.4",
    "mimetype": "text/x-lua",
    "file_extension": ".lua",
    "codemirror_mode": "lua",
    "pygments_lexer": "lua",
}


class LuaEngine:
    """Runs Lua chunks with persistent globals; everything Lua-specific lives here."""

    name = "lua"
    language_info = LANGUAGE_INFO

    def __init__(self, config: LLMSpellConfig, sink: Callable[[], OutputSink]) -> None:
        lua_cfg = config.engines.lua
        self._config = config
        self._sink = sink
        self._abort: str | None = None
        self._deadline: float | None = None
        self._timeout_s = 0.0
        self._refs: dict[Any, Any] = {}
        self._last_api_error: tuple[str, str] | None = None
        self.docs = DocIndex({})
        self._lua = lupa.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            max_memory=lua_cfg.max_memory_mb * 1024 * 1024,
            attribute_filter=_deny_attribute_access,
        )
        host = self._lua.table_from(
            {
                b"check": self._check,
                b"hook_count": HOOK_COUNT,
                b"write_out": self._write_out,
                b"write_err": self._write_err,
                b"read_line": self._read_line,
            }
        )
        prelude = resources.files("llmspell.runtime.engines").joinpath("prelude.lua").read_bytes()
        self._p = self._lua.execute(prelude, host, lua_cfg.security == "safe", name=b"=llmspell")
        self._globals = self._lua.globals()

    # --- globals ------------------------------------------------------------------------------

    def install_globals(self, globals_: Mapping[str, Any], docs: DocIndex) -> None:
        """Expose API namespaces as tables of wrapped functions and plain values as Lua values."""
        self.docs = docs
        for name, value in globals_.items():
            if isinstance(value, ApiNamespace):
                self._globals[name.encode()] = self._namespace_proxy(name, value)
            elif callable(value):
                self._globals[name.encode()] = self._p.api_function(
                    self._host_call(name, value), name.encode(), None
                )
            else:
                self._globals[name.encode()] = self.to_lua(value)
        streaming = self._globals[b"Streaming"]
        if streaming is not None:
            streaming[b"create"] = self._p.streaming_create

    def _namespace_proxy(self, qualified: str, namespace: ApiNamespace) -> Any:
        functions = {}
        for fname, fn in public_functions(namespace):
            q = f"{qualified}.{fname}"
            functions[fname.encode()] = self._lua.table(self._host_call(q, fn), q.encode())
        members = {}
        for mname, member in public_members(namespace):
            if isinstance(member, ApiNamespace):
                members[mname.encode()] = self._namespace_proxy(f"{qualified}.{mname}", member)
            else:
                members[mname.encode()] = self.to_lua(member)
        self._refs[qualified] = namespace
        return self._p.api_proxy(
            f"<{qualified} API>".encode(),
            qualified.encode(),
            self._lua.table_from(functions),
            self._lua.table_from(members),
        )

    def _object_proxy(self, obj: ApiObject) -> Any:
        ref = id(obj)
        self._refs[ref] = obj
        functions = {
            fname.encode(): self._lua.table(
                self._host_call(f"{obj.api_name}.{fname}", fn), f"{obj.api_name}.{fname}".encode()
            )
            for fname, fn in public_functions(obj)
        }
        return self._p.api_proxy(
            repr(obj).encode(), ref, self._lua.table_from(functions), self._lua.table()
        )

    def _host_call(self, qualified: str, fn: Callable[..., Any]) -> Callable[..., tuple[bool, Any]]:
        """Wrap a Python API function: convert arguments and result, turn errors into messages."""
        raw = raw_params(fn)
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        raw_positions = {i for i, p in enumerate(params) if p.name in raw}
        accepts_varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        max_args = len(params)
        min_args = sum(
            1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
        )
        usage = ", ".join(p.name if p.default is p.empty else f"{p.name}?" for p in params)

        def call(*args: Any) -> tuple[bool, Any]:
            # Lua passes trailing nils for omitted arguments only when written; drop them.
            count = len(args)
            while count > min_args and args[count - 1] is None:
                count -= 1
            args = args[:count]
            if len(args) < min_args or (not accepts_varargs and len(args) > max_args):
                message = (
                    f"{qualified}: expected ({usage}), got {len(args)} argument"
                    f"{'' if len(args) == 1 else 's'}"
                )
                self._last_api_error = (ValidationError.ename, message)
                return False, message.encode()
            try:
                py_args = [
                    RawValue(a, lambda a=a: self.to_python(a))
                    if i in raw_positions
                    else self.to_python(a)
                    for i, a in enumerate(args)
                ]
                result = fn(*py_args)
                return True, self.to_lua(result)
            except ApiError as exc:
                message = str(exc)
                self._last_api_error = (exc.ename, message)
                return False, message.encode()
            except (ValueError, TypeError, KeyError, LookupError) as exc:
                message = str(exc) if str(exc).startswith(qualified) else f"{qualified}: {exc}"
                return False, message.encode()
            except lupa.LuaMemoryError:
                return False, b"not enough memory"
            except Exception as exc:
                logger.exception("%s failed", qualified)
                return False, f"{qualified}: internal error: {type(exc).__name__}: {exc}".encode()

        return call

    # --- conversion (spec: architecture.md, Value conversion) -----------------------------------

    def to_python(self, value: Any, _depth: int = 0) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value
        kind = lupa.lua_type(value)
        if kind == "table":
            ref = self._p.proxy_ref(value)
            if ref is not None:
                return self._refs.get(ref.decode() if isinstance(ref, bytes) else ref)
            if _depth >= MAX_DEPTH:
                raise ValueError(
                    f"table nested deeper than {MAX_DEPTH} levels (or it contains a cycle)"
                )
            items = list(value.items())
            n = len(items)
            if n and all(type(k) is int for k, _ in items):
                keys = sorted(k for k, _ in items)
                if keys[0] == 1 and keys[-1] == n:
                    by_key = dict(items)
                    return [self.to_python(by_key[i], _depth + 1) for i in range(1, n + 1)]
            converted: dict[str, Any] = {}
            for k, v in items:
                key = self._key(k)
                if key in converted:
                    raise ValueError(
                        f"table has two keys that both become {key!r} as text; keep one of them"
                    )
                converted[key] = self.to_python(v, _depth + 1)
            # Lua tables have no key order; sorted keys make output reproducible.
            return dict(sorted(converted.items()))
        if kind == "function":
            return ScriptFunction(
                lambda *args, fn=value: self.call_function(fn, *args), "Lua function"
            )
        return OpaqueValue(kind or type(value).__name__)

    def _key(self, key: Any) -> str:
        if isinstance(key, bytes):
            return key.decode("utf-8", errors="replace")
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, float) and key.is_integer():
            return str(int(key))
        if isinstance(key, (int, float)):
            return str(key)
        raise ValueError(f"table keys must be strings or numbers, got {lupa.lua_type(key)}")

    def to_lua(self, value: Any) -> Any:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not LUA_INT_MIN <= value <= LUA_INT_MAX
        ):
            return float(value)  # as Lua reads an integer literal too big for 64 bits
        if value is None or isinstance(value, (bool, int, float, bytes)):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, dict):
            return self._lua.table_from(
                {
                    (k.encode() if isinstance(k, str) else k): self.to_lua(v)
                    for k, v in value.items()
                }
            )
        if isinstance(value, (list, tuple)):
            return self._lua.table_from([self.to_lua(v) for v in value])
        if isinstance(value, ApiObject):
            return self._object_proxy(value)
        if isinstance(value, ApiNamespace):
            return self._namespace_proxy(value.api_name, value)
        if isinstance(value, RawValue):
            return value.raw
        if isinstance(value, ScriptFunction):
            return self._p.api_function(
                self._host_call(value.description, value), b"function", None
            )
        if callable(value):
            name = getattr(value, "__name__", "function")
            return self._p.api_function(self._host_call(name, value), name.encode(), None)
        if hasattr(value, "isoformat"):
            from llmspell.runtime.times import format_time

            return format_time(value).encode()
        raise TypeError(f"cannot pass a Python {type(value).__name__} to Lua")

    def call_function(self, fn: Any, *args: Any) -> Any:
        """Call a Lua function from the host; its error becomes an ApiError."""
        packed = self._p.pack(*[self.to_lua(a) for a in args])
        ok, result = self._p.call_function(fn, packed)
        if not ok:
            if self._p.type(result) == b"table" and result[b"kind"] == b"abort":
                raise ApiError("script callback aborted")
            message = result[b"msg"] if self._p.type(result) == b"table" else result
            raise ApiError(self.to_python(message) or "script callback failed")
        n = result[b"n"]
        if not n:
            return None
        values = [self.to_python(result[i]) for i in range(1, n + 1)]
        return values[0] if n == 1 else values

    # --- execution ----------------------------------------------------------------------------

    def execute(
        self, code: str, name: str, timeout_s: float = 0
    ) -> tuple[bool, Any, dict[str, Any]]:
        """Run a cell. Returns (has_value, value, bundle); raises ScriptError."""
        # Clear a stale interrupt first, so one that arrives while the cell compiles still counts.
        self._abort = None
        fn, shows_value = self._compile_cell(code, name)
        self._last_api_error = None
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
        try:
            ok, payload = self._p.run(fn)
        except lupa.LuaMemoryError:
            raise self._memory_error() from None
        except lupa.LuaError as exc:
            raise ScriptError("LuaError", str(exc)) from None
        finally:
            self._deadline = None
        if not ok:
            raise self._script_error(payload)
        self._abort = None
        if not shows_value or not self._p.displayable(payload):
            return False, None, {}
        n = payload[b"n"]
        raw_values = [payload[i] for i in range(1, n + 1)]
        text = ", ".join(self.format_value(v) for v in raw_values)
        try:
            values = [self.to_python(v) for v in raw_values]
        except ValueError:
            return True, None, {"text/plain": text}
        value = values[0] if n == 1 else values
        return True, value, data_bundle(value, text)

    def _load(self, source: bytes, chunk: bytes) -> tuple[Any, str]:
        """Compile without running: (function, "") or (None, syntax error message)."""
        result = self._p.compile(source, chunk)
        if isinstance(result, tuple):
            return None, _text(result[1])
        return result, ""

    def _compile_cell(self, code: str, name: str) -> tuple[Any, bool]:
        """Compile a cell. Returns (function, whether its result is shown): when the last
        statement is an expression its value is the result; a trailing `;` suppresses that,
        also after an expression (`x;`, which Lua alone would reject)."""
        chunk = name.encode()
        stripped = code.rstrip()
        suppressed = stripped.endswith(";")
        err = ""
        if suppressed:
            fn, err = self._load(code.encode(), chunk)
            if fn is not None:
                return fn, False
        fn = self._compile_with_result(stripped[:-1] if suppressed else code, chunk)
        if fn is not None:
            return fn, not suppressed
        if not suppressed:
            fn, err = self._load(code.encode(), chunk)
            if fn is not None:
                return fn, True
        raise ScriptError("LuaError", err, [f"LuaError: {err}"])

    def _compile_with_result(self, code: str, chunk: bytes) -> Any:
        """The cell with its last statement compiled as `return expr`, or None when that
        statement is not an expression."""
        fn = self._compile_returning("", code, chunk)
        if fn is not None:
            return fn
        lines = code.split("\n")
        for i in range(len(lines) - 1, 0, -1):
            suffix = "\n".join(lines[i:])
            if _only_comments(suffix) or CONTINUATION.match(suffix):
                continue
            # The split must fall between statements: the lines after must be an expression on
            # their own (`end` is not, so `...\nreturn end` cannot end a loop after its first
            # pass) and the lines before must compile on their own.
            if self._load(f"return {suffix}".encode(), chunk)[0] is None:
                continue
            statements = "\n".join(lines[:i])
            if self._load(statements.encode(), chunk)[0] is None:
                continue
            return self._compile_returning(statements + "\n", suffix, chunk)
        return None

    def _compile_returning(self, statements: str, expr: str, chunk: bytes) -> Any:
        """`statements` then `return expr`, compiled, or None when `expr` is not an expression.

        The values pass through a function call: `return f()` would be a tail call, which drops
        the cell's own line from the traceback when `f` fails."""
        fn, _ = self._load(f"{statements}return {expr}".encode(), chunk)
        if fn is None:
            return None
        source = f"{statements}return (function(...) return ... end)({expr}\n)"
        wrapped, _ = self._load(source.encode(), chunk)
        return wrapped if wrapped is not None else fn

    def _script_error(self, rec: Any) -> ScriptError:
        if self._abort is not None or rec[b"kind"] == b"abort":
            return self._abort_error()
        if rec[b"kind"] == b"memory":
            return self._memory_error()
        message = _text(rec[b"msg"])
        ename = "LuaError"
        if self._last_api_error is not None and message == self._last_api_error[1]:
            ename = self._last_api_error[0]
        frames = [
            "  " + line.strip()
            for line in _text(rec[b"traceback"] or b"").split("\n")
            if line.strip() and _user_frame(line.strip())
        ]
        traceback = [f"{ename}: {message}"]
        if frames:
            traceback += ["stack traceback:", *frames]
        return ScriptError(ename, message, traceback)

    def _abort_error(self) -> ScriptError:
        reason, self._abort = self._abort, None
        if reason == "timeout":
            msg = f"execution exceeded the time limit of {self._timeout_s:g} s"
            return ScriptError("TimeoutError", msg)
        return ScriptError("KeyboardInterrupt", "execution interrupted")

    def _memory_error(self) -> ScriptError:
        self._abort = None
        self._lua.execute(b"collectgarbage()")
        limit = self._config.engines.lua.max_memory_mb
        return ScriptError(
            "MemoryError", f"not enough memory (engines.lua.max_memory_mb = {limit})"
        )

    def interrupt(self) -> None:
        self._abort = "interrupt"

    def stop_requested(self) -> bool:
        """Whether the running cell must stop (interrupted, or past its time limit)."""
        return self._check()

    def _check(self) -> bool:
        if self._abort is not None:
            return True
        if self._deadline is not None and time.monotonic() > self._deadline:
            self._abort = "timeout"
            return True
        return False

    # --- host I/O -----------------------------------------------------------------------------

    def _write_out(self, data: bytes) -> None:
        self._sink().stdout(_text(data))

    def _write_err(self, data: bytes) -> None:
        self._sink().stderr(_text(data))

    def _read_line(self, prompt: bytes) -> tuple[bool, Any]:
        try:
            line = self._sink().input(_text(prompt), False)
        except StdinNotAvailable as exc:
            return False, str(exc).encode()
        except EOFError:
            return True, None
        return True, line.encode()

    # --- presentation -------------------------------------------------------------------------

    def format_value(self, raw: Any) -> str:
        """A value as Lua writes it (strings quoted, tables as constructors)."""
        k = self._config.kernel
        return _text(
            self._p.pretty(raw, k.display_max_depth, k.display_max_items, k.display_max_string)
        )

    def bundle_for(self, raw: Any) -> dict[str, Any]:
        text = self.format_value(raw)
        try:
            value = self.to_python(raw)
        except ValueError:
            return {"text/plain": text}
        return data_bundle(value, text)

    def describe(self, raw: Any) -> str:
        """Help text for a value: API docs for API functions/tables, a summary otherwise."""
        if raw is None:
            return self.docs.overview(sorted(self._doc_globals()))
        if isinstance(raw, bytes):
            entry = self.docs.get(raw.decode("utf-8", "replace"))
            if entry is not None:
                return entry.page()
        name = self._api_name_of(raw)
        if name is not None:
            entry = self.docs.get(name)
            if entry is not None:
                return entry.page()
        return self._summary(raw)

    def _doc_globals(self) -> list[str]:
        return [q for q in self.docs.entries if "." not in q]

    def _api_name_of(self, raw: Any) -> str | None:
        kind = lupa.lua_type(raw)
        if kind == "function":
            name = self._p.api_name(raw)
            return _text(name) if name is not None else None
        if kind == "table":
            ref = self._p.proxy_ref(raw)
            if isinstance(ref, bytes):
                return ref.decode()
        return None

    def _summary(self, raw: Any) -> str:
        kind = _text(self._p.type(raw))
        preview = self.format_value(raw)
        size = ""
        if kind == "table":
            size = f", {self._p.count_keys(raw)} entries"
        elif kind == "string":
            size = f", {len(raw)} bytes"
        return f"type: {kind}{size}\nvalue: {preview}\n"

    # --- completion, inspection, completeness ---------------------------------------------------

    def complete(self, code: str, cursor_pos: int) -> Completion:
        before = code[:cursor_pos]
        m = NAME_AT_END.search(before)
        if m is None:
            return Completion([], cursor_pos, cursor_pos)
        path, trailing = m.group(1), m.group(2)
        start = m.start()
        text = path + trailing
        sep_index = max(text.rfind("."), text.rfind(":"))
        if sep_index < 0:
            names = self._keys(self._globals, methods_only=False) + KEYWORDS
            matches = sorted({n for n in names if n.startswith(text)})
            return Completion(matches, start, cursor_pos)
        base, sep, partial = text[:sep_index], text[sep_index], text[sep_index + 1 :]
        target = self._resolve(base)
        if target is None:
            return Completion([], start, cursor_pos)
        keys = self._keys(target, methods_only=sep == ":")
        # `__index`, `__name`... are metatable plumbing: offered only once the user types `__`
        hidden = () if partial.startswith("__") else ("__",)
        matches = sorted(
            {f"{base}{sep}{k}" for k in keys if k.startswith(partial) and not k.startswith(hidden)}
        )
        return Completion(matches, start, cursor_pos)

    def _keys(self, value: Any, methods_only: bool) -> list[str]:
        flat = self._p.keys_of(value)
        out = []
        i = 1
        while flat[i] is not None:
            key, kind = _text(flat[i]), _text(flat[i + 1])
            if (not methods_only or kind == "function") and re.fullmatch(r"[A-Za-z_]\w*", key):
                out.append(key)
            i += 2
        return out

    def _resolve(self, dotted: str) -> Any:
        value: Any = self._globals
        for part in re.split(r"[.:]", dotted):
            if value is None or lupa.lua_type(value) != "table":
                return None
            try:
                value = value[part.encode()]
            except lupa.LuaError:
                return None
        return value

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> dict[str, str] | None:
        name = name_at_cursor(code, cursor_pos, NAME_CHARS)
        if not name:
            return None
        entry = self.docs.get(name.replace(":", "."))
        if entry is not None:
            return {"text/plain": entry.page()}
        value = self._resolve(name)
        if value is None:
            return None
        api_name = self._api_name_of(value)
        if api_name is not None and self.docs.get(api_name) is not None:
            return {"text/plain": self.docs.entries[api_name].page()}
        return {"text/plain": f"{name}\n" + self._summary(value)}

    def is_complete(self, code: str) -> CompletenessCheck:
        if not code.strip() or help_target(code) is not None:
            return CompletenessCheck("complete")
        source = code.encode()
        fn, _ = self._load(b"return " + source, b"input")
        if fn is not None:
            return CompletenessCheck("complete")
        fn, err = self._load(source, b"input")
        if fn is not None:
            return CompletenessCheck("complete")
        if err.rstrip().endswith("<eof>"):
            return CompletenessCheck("incomplete", "  ")
        return CompletenessCheck("invalid")

    def describe_name(self, name: str) -> str:
        """Help text for a dotted name typed as `?name`."""
        entry = self.docs.get(name.replace(":", "."))
        if entry is not None:
            return entry.page()
        value = self._resolve(name)
        if value is None:
            return f"no documentation for {name!r}: it is not an API function or a defined value\n"
        return self.describe(value)

    def set_args(self, script_name: str, args: list[str], kwargs: Mapping[str, str]) -> None:
        """`ARGS` (positional at 1..n, script at 0, options by name) and `arg` (positional)."""
        all_args: dict[Any, Any] = {0: script_name.encode()}
        positional: dict[Any, Any] = {0: script_name.encode()}
        for i, a in enumerate(args, start=1):
            all_args[i] = a.encode()
            positional[i] = a.encode()
        for k, v in kwargs.items():
            all_args[k.encode()] = v.encode()
        self._globals[b"ARGS"] = self._lua.table_from(all_args)
        self._globals[b"arg"] = self._lua.table_from(positional)

    def close(self) -> None:
        self._refs.clear()


def _deny_attribute_access(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("scripts cannot reach Python attributes")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.split("\n"))


def _user_frame(line: str) -> bool:
    # Prelude frames, C frames and the traceback header are machinery, not the user's code.
    return not line.startswith(("llmspell:", "[C]:", "stack traceback", "(...tail calls...)"))
