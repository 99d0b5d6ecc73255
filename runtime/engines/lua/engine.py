"""`LuaEngine`: one `lupa.lua54` runtime with the prelude (sandbox, hooks, printing), running
cells under the interrupt/timeout/memory limits; conversion, binding, cell compilation,
introspection, the limits and the sandbox's host side are its parts."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lupa.lua54 as lupa

from llmspell.runtime.api.base import ProducerStep
from llmspell.runtime.api.catalog import Globals
from llmspell.runtime.display import data_bundle
from llmspell.runtime.engines import IMPLEMENTATION, LANGUAGE_INFO
from llmspell.runtime.engines.introspection import Introspection
from llmspell.runtime.engines.lua.binding import LuaBinding, LuaCallbackError, LuaCallbackStopped
from llmspell.runtime.engines.lua.cells import CellCompiler
from llmspell.runtime.engines.lua.conversion import lua_text
from llmspell.runtime.engines.lua.introspection import KEYWORDS, LuaValues, help_argument
from llmspell.runtime.engines.lua.limits import LuaLimits
from llmspell.runtime.engines.lua.sandbox import EnvironmentPolicy, ModuleFinder, SandboxRefusal
from llmspell.runtime.engines.lua.stdlib_docs import StdlibDocs
from llmspell.runtime.host_limits import HostStopped, MemoryLimit
from llmspell.runtime.results import (
    CompletenessCheck,
    OutputSink,
    ScriptError,
    StdinNotAvailable,
)

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig

HOOK_COUNT = 10_000  # VM instructions between interrupt/timeout checks (~0.1 ms)
_MACHINERY_POSITION = re.compile(r"llmspell:\d+: ")
KEPT_SOURCES = 100  # chunk texts kept for messages that quote the script


class LuaEngine:
    """Runs Lua chunks with persistent globals; everything Lua-specific lives in this package."""

    name = "lua"
    implementation = IMPLEMENTATION["lua"]
    language_info = LANGUAGE_INFO["lua"]

    def __init__(self, config: LLMSpellConfig, sink: Callable[[], OutputSink]) -> None:
        lua_cfg = config.engines.lua
        self._config = config
        # fixed for the life of the runtime: the sandbox is installed once, below
        self.trusted = lua_cfg.security == "trusted"
        self._sink = sink
        self._script_dir = Path.cwd()
        self._modules = ModuleFinder(config, lambda: self._script_dir)
        self._environment = EnvironmentPolicy(config)
        self._sources: dict[str, str] = {}
        self.limits = LuaLimits(lambda: self.timeout_s)
        self._lua = lupa.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            max_memory=lua_cfg.max_memory_mb * 1024 * 1024,
            attribute_filter=_deny_attribute_access,
        )
        package = Path(__file__).parent  # bounded.lua and prelude.lua (see stdlib_docs.DOCS)
        host = self._lua.table_from(
            {
                b"check": self.limits.check,
                b"hook_count": HOOK_COUNT,
                b"keywords": self._lua.table_from([k.encode() for k in KEYWORDS]),
                b"write_out": self._write_out,
                b"write_err": self._write_err,
                b"read_line": self._read_line,
                b"bounded_source": package.joinpath("bounded.lua").read_bytes(),
                b"getenv": self._getenv,
                b"find_module": self._find_module,
                b"module_path": lambda: self._modules.search_path().encode(),
            }
        )
        prelude = package.joinpath("prelude.lua").read_bytes()
        self._p = self._lua.execute(prelude, host, not self.trusted, name=b"=llmspell")
        self.limits.attach(self._p)
        self._globals = self._lua.globals()
        # captured before any script runs: %who and %reset read, compare and restore globals raw
        self._rawget, self._rawequal, self._rawset = (
            self._globals[b"rawget"],
            self._globals[b"rawequal"],
            self._globals[b"rawset"],
        )
        self._baseline: dict[bytes, Any] = {}
        self._binding = LuaBinding(self._lua, self._p, self.limits)
        self.conversion = self._binding.conversion
        self._cells = CellCompiler(self._compile_chunk, self._stop_if_asked)
        stdlib = StdlibDocs(self._lua, self._globals)
        self.introspection = Introspection(
            LuaValues(self._globals, self._p, self._binding.call_lua, self._summary_text, stdlib)
        )

    @property
    def timeout_s(self) -> float:
        """The time limit of one execution (`engines.lua.timeout_s`; 0 = none)."""
        return self._config.engines.lua.timeout_s

    @property
    def memory_limit(self) -> MemoryLimit:
        """The Lua heap's limit (`engines.lua.max_memory_mb`)."""
        return MemoryLimit(self._config.engines.lua.max_memory_mb, "engines.lua.max_memory_mb")

    # --- globals ------------------------------------------------------------------------------

    def install_globals(self, globals_: Globals) -> None:
        """Expose API namespaces as tables of wrapped functions and plain values as Lua values;
        `ARGS`/`arg` start empty (a kernel has no script arguments)."""
        self._binding.install(self._globals, globals_)
        if self._globals[b"help"] is not None:
            self._globals[b"help"] = self._p.help_guard(self._globals[b"help"], self._help_of_nil)
        self._globals[b"ARGS"] = self._lua.table()
        self._globals[b"arg"] = self._lua.table()
        self._baseline = {k: v for k, v in self._globals.items() if isinstance(k, bytes)}

    def set_args(self, script_name: str, args: list[str], kwargs: Mapping[str, str]) -> None:
        """`ARGS` (positional at 1..n, script at 0, options by name) and `arg` (positional).

        Each is the byte string the command line held: arguments that are not UTF-8 arrive in
        Python with surrogate escapes, and `os.fsencode` gives their original bytes back."""
        all_args: dict[Any, Any] = {0: os.fsencode(script_name)}
        positional: dict[Any, Any] = {0: os.fsencode(script_name)}
        for i, a in enumerate(args, start=1):
            all_args[i] = positional[i] = os.fsencode(a)
        for k, v in kwargs.items():
            all_args[os.fsencode(k)] = os.fsencode(v)
        for key, value in ((b"ARGS", all_args), (b"arg", positional)):
            self._globals[key] = self._baseline[key] = self._lua.table_from(value)

    def user_globals(self) -> dict[str, str]:
        """Globals the scripts defined or replaced (name → Lua type), for %who."""
        return {
            lua_text(key): lua_text(self._p.type(value))
            for key, value in self._globals.items()
            if isinstance(key, bytes) and not self._is_baseline(key, value)
        }

    def forget_user_globals(self) -> list[str]:
        """%reset: remove what scripts defined, restore the globals they replaced or removed;
        the names it changed."""
        removed = [key for key in self._baseline if self._rawget(self._globals, key) is None]
        names = sorted({*self.user_globals(), *(lua_text(key) for key in removed)})
        for name in names:
            key = name.encode()
            self._rawset(self._globals, key, self._baseline.get(key))
        return names

    def _is_baseline(self, key: bytes, value: Any) -> bool:
        return key in self._baseline and bool(self._rawequal(self._baseline[key], value))

    def timing_source(self, code: str, loops: int) -> str:
        """`code` run `loops` times by Lua itself (%timeit); an expression becomes a statement.
        The loop starts on the code's first line, so error positions stay the cell's."""
        statement = f"for _ = 1, {loops} do {code}\nend"
        if self.is_complete(statement).status == "complete":
            return statement
        return f"for _ = 1, {loops} do local _ = {code}\nend"

    def producer(self, raw: Any) -> ProducerStep:
        """Streaming.create's producer: a Lua function, run as a coroutine."""
        return self._binding.producer(raw)

    # --- execution ----------------------------------------------------------------------------

    def is_complete(self, code: str) -> CompletenessCheck:
        with self.limits.guard():
            return self._cells.is_complete(code)

    def execute(self, code: str, name: str) -> tuple[bool, Any, dict[str, Any]]:
        """Run a cell. Returns (has_value, value, bundle); raises ScriptError.

        Compiling, running and displaying the result are one guarded call: the time limit
        covers all three, and an interrupt stops any of them."""
        self._script_dir = _directory_of(name)
        self._remember_source(name, code)
        with self.limits.guard():
            fn, shows_value = self._cells.compile_cell(code, name)
            self._binding.last_api_error = None
            try:
                ran, payload = self._binding.call_lua(self._p.run, fn)
                if not ran:
                    raise self._script_error(payload)
                if not shows_value or not self._binding.call_lua(self._p.displayable, payload)[0]:
                    return False, None, {}
                n = payload[b"n"]
                raw_values = [payload[i] for i in range(1, n + 1)]
                text = ", ".join(self.format_value(v) for v in raw_values)
            except LuaCallbackStopped:
                raise self._stopped_error() from None
            except LuaCallbackError as exc:
                raise ScriptError("LuaError", f"cannot show the result: {exc}") from None
            try:
                values = [self.conversion.to_python(v) for v in raw_values]
            except HostStopped:
                raise self._stopped_error() from None
            except ValueError:
                return True, None, {"text/plain": text}
        value = values[0] if n == 1 else values
        return True, value, data_bundle(value, text)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a script function the host calls on its own (a widget callback between cells)
        under the limits a cell runs under; ScriptError when it fails or is stopped."""
        with self.limits.guard():
            try:
                return fn(*args)
            except LuaCallbackStopped:
                raise self._stopped_error() from None
            except HostStopped:
                raise self._stopped_error() from None
            except LuaCallbackError as exc:
                raise ScriptError("LuaError", str(exc)) from None

    def _remember_source(self, name: str, code: str) -> None:
        """Keep the text of recent chunks: functions defined in a cell outlive it, and help()
        quotes what the script wrote."""
        self._sources.pop(name, None)
        self._sources[name] = code
        while len(self._sources) > KEPT_SOURCES:
            del self._sources[next(iter(self._sources))]

    def _help_of_nil(self, source: bytes | None, line: int) -> None:
        """help(x) where x is nil: say which part of what the script wrote does not exist."""
        code = self._sources.get(lua_text(source).removeprefix("@")) if source else None
        expression = help_argument(code, line) if code is not None else None
        if expression in KEYWORDS:  # help(nil): nothing was named
            expression = None
        self._sink().page(self.introspection.describe_missing(expression))

    def interrupt(self) -> None:
        self.limits.interrupt()

    def cell(self) -> AbstractContextManager[None]:
        """The scope of one request; see `LuaLimits.cell`."""
        return self.limits.cell()

    def stop_requested(self) -> bool:
        """Whether the running call must stop (interrupted, or past its time limit)."""
        return self.limits.check()

    def _compile_chunk(self, source: bytes, chunk: bytes) -> Any:
        """The prelude's `compile` (text mode, read in pieces that check the limits): a
        function, or (None, message); ScriptError when stopped."""
        try:
            results = self._binding.call_lua(self._p.compile, source, chunk)
        except LuaCallbackStopped:
            raise self._stopped_error() from None
        except LuaCallbackError as exc:
            raise ScriptError("LuaError", str(exc)) from None
        self._stop_if_asked()
        return results if len(results) > 1 else results[0]

    def _stop_if_asked(self) -> None:
        if self.limits.check():
            raise self.limits.stop_error()

    def _stopped_error(self, where: str | None = None) -> ScriptError:
        """`where` is the script position the hook stopped at (`[cell 3]:12`)."""
        return self.limits.stop_error(where) if self.limits.stopping else self._memory_error()

    def _script_error(self, rec: Any) -> ScriptError:
        if self.limits.stopping or rec[b"kind"] == b"abort":
            return self._stopped_error(lua_text(rec[b"where"]) or None)
        if rec[b"kind"] == b"memory":
            return self._memory_error()
        message = lua_text(rec[b"msg"])
        ename = "LuaError"
        last = self._binding.last_api_error
        if last is not None and message == last[1]:
            ename = last[0]
        frames = [
            "  " + line.strip()
            for line in lua_text(rec[b"traceback"] or b"").split("\n")
            if line.strip() and _user_frame(line.strip())
        ]
        machinery = _MACHINERY_POSITION.match(message)
        if machinery and frames:
            # a C library function raised it from inside the prelude's wrapper around it: the
            # position that helps is the script's line that called it
            where = frames[0].strip().split(": ", 1)[0]
            message = f"{where}: {message[machinery.end() :]}"
        traceback = [f"{ename}: {message}"]
        if frames:
            traceback += ["stack traceback:", *frames]
        return ScriptError(ename, message, traceback)

    def _memory_error(self) -> ScriptError:
        self.limits.call(self._p.collect_garbage)
        limit = self._config.engines.lua.max_memory_mb
        return ScriptError(
            "MemoryError", f"not enough memory (engines.lua.max_memory_mb = {limit})"
        )

    # --- host I/O and the sandbox's host side -------------------------------------------------

    def _write_out(self, data: bytes) -> None:
        self._sink().stdout(lua_text(data))

    def _write_err(self, data: bytes) -> None:
        self._sink().stderr(lua_text(data))

    def _read_line(self, prompt: bytes) -> tuple[bool, Any]:
        try:
            line = self._sink().input(lua_text(prompt), False)
        except StdinNotAvailable as exc:
            return False, f"io.read: {exc}".encode()
        except EOFError:
            return True, None
        return True, line.encode()

    def _getenv(self, name: bytes) -> tuple[bool, Any]:
        try:
            value = self._environment.getenv(lua_text(name))
        except SandboxRefusal as exc:
            return False, str(exc).encode()
        return True, value.encode() if value is not None else None

    def _find_module(self, name: bytes) -> tuple[bool, Any, Any]:
        try:
            path, source = self._modules.find(lua_text(name))
        except SandboxRefusal as exc:
            return False, str(exc).encode(), None
        return True, str(path).encode(), source

    # --- presentation ---------------------------------------------------------------------------

    def format_value(self, raw: Any) -> str:
        """A value as Lua writes it (strings quoted, tables as constructors; a table's
        __tostring runs under the limits). Raises LuaCallbackError when __tostring fails."""
        k = self._config.kernel
        (text,) = self._binding.call_lua(
            self._p.pretty, raw, k.display_max_depth, k.display_max_items, k.display_max_string
        )
        return lua_text(text)

    def _summary_text(self, raw: Any) -> str:
        """A value for inspection and help: raw fields only, no script code runs."""
        k = self._config.kernel
        (text,) = self._binding.call_lua(
            self._p.pretty,
            raw,
            k.display_max_depth,
            k.display_max_items,
            k.display_max_string,
            True,
        )
        return lua_text(text)

    def bundle_for(self, raw: Any) -> dict[str, Any]:
        text = self.format_value(raw)
        try:
            value = self.conversion.to_python(raw)
        except ValueError:
            return {"text/plain": text}
        return data_bundle(value, text)

    def close(self) -> None:
        """Nothing to release: the Lua state (and every proxy in it) goes with this object."""


def _directory_of(name: str) -> Path:
    """The script's directory for `require`: the file's when the chunk is a file
    (`llmspell run dir/job.lua`), else the working directory (kernel cells, `exec`)."""
    path = Path(name)
    try:
        if path.is_file():
            return path.resolve().parent
    except (OSError, ValueError):
        pass
    return Path.cwd()


def _deny_attribute_access(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("scripts cannot reach Python attributes")


def _user_frame(line: str) -> bool:
    # Prelude frames, C frames and the traceback header are machinery, not the user's code.
    return not line.startswith(("llmspell:", "[C]:", "stack traceback", "(...tail calls...)"))
