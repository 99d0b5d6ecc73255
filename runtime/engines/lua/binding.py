"""The script API as Lua values: namespaces and API objects as proxy tables of wrapped functions,
the host call behind each one (argument and result conversion, errors as Lua errors), and Lua
functions called from the host (callbacks, stream producers)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import lupa.lua54 as lupa

from llmspell.runtime.api.base import (
    ApiError,
    ApiNamespace,
    ApiObject,
    NotAProducer,
    ProducerStep,
    RawValue,
    ScriptFunction,
    ValidationError,
    public_functions,
    public_members,
    raw_params,
)
from llmspell.runtime.api.catalog import DeferredFunction, Globals
from llmspell.runtime.engines.lua.conversion import LuaConversion, lua_text
from llmspell.runtime.engines.lua.limits import MEMORY_ERROR, LuaLimits
from llmspell.runtime.errors import ScriptStopping
from llmspell.runtime.host_limits import HostStopped

logger = logging.getLogger("llmspell.engine.lua")

HostCall = Callable[..., tuple[bool, Any]]


class LuaCallbackError(ApiError):
    """A Lua function the host called raised an error. Inside an API call the host call hands
    the original Lua value back to the script, so it sees its own error (and an interrupt stays
    an interrupt); anywhere else this is an ApiError with the error's text."""

    ename = "LuaError"

    def __init__(self, message: str, lua_error: Any) -> None:
        super().__init__(message)
        self.lua_error = lua_error


class LuaCallbackStopped(LuaCallbackError, ScriptStopping):
    """A Lua function the host called was stopped by an interrupt, the timeout or the memory
    limit: whoever called it must let that through."""


class _Arity(NamedTuple):  # not a dataclass: making one costs every start ~0.5 ms
    """What a host call checks before calling: how many arguments, which ones stay raw."""

    min_args: int
    max_args: int | None  # None: any number (varargs)
    raw_positions: frozenset[int]
    usage: str  # "scope, key, value?" for the error message

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> _Arity:
        import inspect  # here: a start that calls no API function does without it

        raw = raw_params(fn)
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        return cls(
            min_args=sum(
                1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
            ),
            max_args=None if any(p.kind is p.VAR_POSITIONAL for p in params) else len(params),
            raw_positions=frozenset(i for i, p in enumerate(params) if p.name in raw),
            usage=", ".join(p.name if p.default is p.empty else f"{p.name}?" for p in params),
        )


class LuaBinding:
    """Wraps Python API values for one LuaRuntime and remembers the last API error raised in it
    (so the script error keeps the API's error class)."""

    def __init__(self, lua: lupa.LuaRuntime, prelude: Any, limits: LuaLimits) -> None:
        self._lua = lua
        self._p = prelude
        self._limits = limits
        self.conversion = LuaConversion(
            lua, prelude, self._host_value, self._script_function, self._check_stop
        )
        self.last_api_error: tuple[str, str] | None = None
        # per API method, not per call: an API object is wrapped every time a script gets one
        self._arities: dict[Callable[..., Any], _Arity] = {}
        self._methods: dict[type, list[str]] = {}

    def install(self, lua_globals: Any, globals_: Globals) -> None:
        """Set every script global without building any: a namespace as a proxy the prelude
        fills on first use (and its id methods), a function wrapped to be built at its first
        call."""
        for name in globals_:
            entry = globals_.entry(name)
            build = functools.partial(globals_.__getitem__, name)
            if entry.function:
                lua_globals[name.encode()] = self._api_function(name, DeferredFunction(build))
                continue
            proxy = self._p.lazy_proxy(
                f"<{name} API>".encode(), name.encode(), self._namespace_loader(name, build)
            )
            lua_globals[name.encode()] = proxy
            for method in entry.id_methods:
                self._p.lazy_id_method(method.encode(), proxy, f"{name.lower()}:{method}".encode())

    def _namespace_loader(
        self, name: str, build: Callable[[], ApiNamespace]
    ) -> Callable[[], tuple[Any, ...]]:
        """The prelude's `load` of a lazy proxy: (True, namespace, functions, members) of the
        built namespace, its id methods added; (False, message) when it cannot be built."""

        def load() -> tuple[Any, ...]:
            try:
                namespace = build()
                for method, fn in namespace._id_methods().items():
                    qualified = f"{name.lower()}:{method}"
                    self._p.add_id_method(
                        method.encode(), self._host_call(qualified, fn), qualified.encode()
                    )
                return (True, namespace, *self._proxy_contents(name, namespace))
            except Exception as exc:
                if self._limits.stopping:
                    return False, b"execution stopped"
                logger.exception("building %s failed", name)
                return False, f"{name}: cannot be built: {type(exc).__name__}: {exc}".encode()

        return load

    def producer(self, raw: Any) -> ProducerStep:
        """Steps of a Lua function run as a coroutine; each value stays a Lua value."""
        if lupa.lua_type(raw) != "function":
            raise NotAProducer(f"must be a function, got {lua_text(self._p.type(raw))}")
        lua_step = self._p.producer(raw)

        def step() -> tuple[bool, Any, bool]:
            has_value, value, finished = self.call_lua(lua_step)
            if not has_value:
                return False, None, finished
            return True, RawValue(value, lambda: self.conversion.to_python(value)), finished

        return step

    def _check_stop(self) -> None:
        """What long host work in this engine checks (converting a big table)."""
        if self._limits.check():
            raise HostStopped(self._limits.stop_error().evalue)

    # --- Python → Lua ---------------------------------------------------------------------------

    def _host_value(self, value: Any) -> Any:
        if isinstance(value, ApiObject):
            return self._object_proxy(value)
        if isinstance(value, ApiNamespace):
            return self._namespace_proxy(value.api_name, value)
        if isinstance(value, ScriptFunction):
            return self._p.api_function(
                self._host_call(value.description, value), b"function", None
            )
        if callable(value):
            return self._api_function(getattr(value, "__name__", "function"), value)
        raise TypeError(f"cannot pass a Python {type(value).__name__} to Lua")

    def _api_function(self, qualified: str, fn: Callable[..., Any]) -> Any:
        return self._p.api_function(self._host_call(qualified, fn), qualified.encode(), None)

    def _namespace_proxy(self, qualified: str, namespace: ApiNamespace) -> Any:
        return self._p.api_proxy(
            f"<{qualified} API>".encode(),
            qualified.encode(),
            namespace,
            *self._proxy_contents(qualified, namespace),
        )

    def _proxy_contents(self, qualified: str, namespace: ApiNamespace) -> tuple[Any, Any]:
        """(functions, members) of a namespace's proxy, as the prelude's api_proxy takes them."""
        functions = {
            name.encode(): self._function_entry(f"{qualified}.{name}", fn)
            for name, fn in public_functions(namespace)
        }
        members = {}
        for name, member in public_members(namespace):
            if isinstance(member, ApiNamespace):
                members[name.encode()] = self._namespace_proxy(f"{qualified}.{name}", member)
            else:
                members[name.encode()] = self.conversion.to_lua(member)
        return self._lua.table_from(functions), self._lua.table_from(members)

    def _object_proxy(self, obj: ApiObject) -> Any:
        methods = self._methods.get(type(obj))
        if methods is None:
            methods = self._methods[type(obj)] = [name for name, _ in public_functions(obj)]
        functions = {
            name.encode(): self._function_entry(f"{obj.api_name}.{name}", getattr(obj, name))
            for name in methods
        }
        label, qualified = repr(obj).encode(), obj.api_name.encode()
        if obj._field_names():
            return self._p.field_proxy(
                label,
                qualified,
                obj,
                self._lua.table_from(functions),
                self._host_call(obj.api_name, obj._get_field),
                self._host_call(obj.api_name, obj._set_field),
                self._lua.table_from([name.encode() for name in obj._field_names()]),
            )
        return self._p.api_proxy(label, qualified, obj, self._lua.table_from(functions), None)

    def _function_entry(self, qualified: str, fn: Callable[..., Any]) -> Any:
        """{host call, qualified name}: what the prelude's api_proxy makes a function of."""
        return self._lua.table(self._host_call(qualified, fn), qualified.encode())

    def _host_call(self, qualified: str, fn: Callable[..., Any]) -> HostCall:
        """Wrap a Python API function: convert arguments and result, turn errors into messages
        (or, for an error a Lua callback raised, into that same Lua value)."""
        # Read at the first call: inspecting the signature of every API function while the
        # globals are installed took a tenth of `llmspell exec`'s start-up.
        known: _Arity | None = None
        to_python, to_lua = self.conversion.to_python, self.conversion.to_lua

        def call(*args: Any) -> tuple[bool, Any]:
            nonlocal known, fn
            if known is None:
                if isinstance(fn, DeferredFunction):
                    fn = fn.resolve()
                known = self._arity(fn)
            arity = known
            # Lua passes trailing nils for omitted arguments only when written; drop them.
            count = len(args)
            while count > arity.min_args and args[count - 1] is None:
                count -= 1
            args = args[:count]
            if len(args) < arity.min_args or (
                arity.max_args is not None and len(args) > arity.max_args
            ):
                message = (
                    f"{qualified}: expected ({arity.usage}), got {len(args)} argument"
                    f"{'' if len(args) == 1 else 's'}"
                )
                self.last_api_error = (ValidationError.ename, message)
                return False, message.encode()
            try:
                py_args = [
                    RawValue(a, functools.partial(to_python, a))
                    if i in arity.raw_positions
                    else to_python(a)
                    for i, a in enumerate(args)
                ]
                return True, to_lua(fn(*py_args))
            except LuaCallbackError as exc:
                return False, exc.lua_error
            except ApiError as exc:
                message = in_lua_words(str(exc))
                self.last_api_error = (exc.ename, message)
                return False, message.encode()
            except (ValueError, TypeError, KeyError, LookupError) as exc:
                message = str(exc) if str(exc).startswith(qualified) else f"{qualified}: {exc}"
                message = in_lua_words(message)
                if isinstance(exc, ValueError):
                    # an argument that is not data (a cycle, keys that collide), as the API's
                    # own checks report bad values
                    self.last_api_error = (ValidationError.ename, message)
                return False, message.encode()
            except lupa.LuaMemoryError:
                return False, MEMORY_ERROR
            except Exception as exc:
                if self._limits.stopping:
                    # the script is being stopped: the error propagates whatever it says
                    return False, b"execution stopped"
                logger.exception("%s failed", qualified)
                return False, f"{qualified}: internal error: {type(exc).__name__}: {exc}".encode()

        return call

    def _arity(self, fn: Callable[..., Any]) -> _Arity:
        # A bound method's signature is its function's; anything else (a ScriptFunction, a
        # lambda) is wrapped once per value, so caching it would only grow the cache.
        key = getattr(fn, "__func__", None)
        if key is None:
            return _Arity.of(fn)
        arity = self._arities.get(key)
        if arity is None:
            arity = self._arities[key] = _Arity.of(fn)
        return arity

    # --- Lua → Python ---------------------------------------------------------------------------

    def _script_function(self, fn: Any) -> ScriptFunction:
        def call_updating(*args: Any) -> tuple[Any, list[Any]]:
            lua_args = [self.conversion.to_lua(a) for a in args]
            results = self.call_lua(fn, *lua_args)
            values = [self.conversion.to_python(v) for v in results]
            value = None if not values else values[0] if len(values) == 1 else values
            return value, [self.conversion.to_python(a) for a in lua_args]

        def call(*args: Any) -> Any:
            results = self.call_lua(fn, *[self.conversion.to_lua(a) for a in args])
            values = [self.conversion.to_python(v) for v in results]
            if not values:
                return None
            return values[0] if len(values) == 1 else values

        return ScriptFunction(call, "Lua function", call_updating)

    def call_lua(self, fn: Any, *args: Any) -> tuple[Any, ...]:
        """Call a Lua function from the host, under the limits (also when no cell runs: a
        stream pulled or a hook fired later): its results as Lua values; its error raised as
        LuaCallbackError, or LuaCallbackStopped when the interrupt, the timeout or the memory
        limit stopped it."""
        ok, results = self._limits.call(fn, *args)
        if ok:
            return results
        error = results[0] if results else None
        if self._limits.stopping or error == MEMORY_ERROR:
            stop = self._limits.stop_error() if self._limits.stopping else None
            stopped = LuaCallbackStopped(stop.evalue if stop else MEMORY_ERROR.decode(), error)
            stopped.ename = stop.ename if stop else "MemoryError"
            raise stopped
        raise LuaCallbackError(self._error_text(error), error)

    def _error_text(self, error: Any) -> str:
        if isinstance(error, bytes):
            return lua_text(error)
        # a table's __tostring is script code: it runs under the limits too
        ok, results = self._limits.call(self._p.error_message, error)
        if ok and results and isinstance(results[0], bytes):
            return lua_text(results[0])
        return f"(error object is a {lupa.lua_type(error) or type(error).__name__} value)"


# Messages are written once for both engines and quote values as Python does; a Lua script
# passed nil, true or false, so that is what it reads.
_PYTHON_CONSTANT = re.compile(r"\b(got|or|not|is) (None|True|False)\b")
_LUA_WORD = {"None": "nil", "True": "true", "False": "false"}


def in_lua_words(message: str) -> str:
    """`message` with the quoted Python constants (`got None`) as Lua names them (`got nil`)."""
    return _PYTHON_CONSTANT.sub(lambda m: f"{m[1]} {_LUA_WORD[m[2]]}", message)
