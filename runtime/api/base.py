"""What every script global is built from: an `ApiNamespace` of documented Python methods.

Engines expose namespaces generically: the Python engine hands the objects over as they are,
the Lua engine wraps each public method once (argument/return conversion, errors → Lua errors).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from types import FunctionType
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import DomainError
from llmspell.storage.errors import StorageError

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig
    from llmspell.runtime.display.widgets import WidgetHost
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.results import OutputSink


class ApiError(Exception):
    """A script called an API function wrongly or the call failed; the message starts with the
    function name (`State.save: key must be a non-empty string`)."""

    ename = "ApiError"


class ValidationError(ApiError):
    """An argument has the wrong type or value."""

    ename = "ValidationError"


def as_api_error(qualified: str, exc: Exception) -> ApiError:
    """The one place a failure below the API becomes the error scripts see: a message that
    starts with the function's name, and the error class users know it by."""
    message = str(exc)
    if isinstance(exc, StorageError):
        message = f"storage error: {message}"
    if not message.startswith(f"{qualified}:"):
        message = f"{qualified}: {message}"
    if isinstance(exc, DomainError):
        error = ApiError(message)
        error.ename = exc.ename
        return error
    if isinstance(exc, ValueError):
        return ValidationError(message)
    return ApiError(message)


# What the layers below an API function raise for a script's mistake or a failed operation;
# anything else is a bug and keeps its own class and traceback.
TRANSLATED = (DomainError, ValueError, StorageError)


def _names_failures(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an API method so domain, value, lookup and storage errors name the function."""

    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except ApiError:
            raise
        except TRANSLATED as exc:
            raise as_api_error(_qualified(self, fn.__name__), exc) from None

    return call


def _qualified(owner: Any, name: str) -> str:
    api_name = getattr(owner, "api_name", "")
    return f"{api_name}.{name}" if api_name else name


def _wrap_public_methods(cls: type) -> None:
    for name, attr in list(vars(cls).items()):
        if not name.startswith("_") and isinstance(attr, FunctionType) and name != "api_name":
            setattr(cls, name, _names_failures(attr))


class ScriptFunction:
    """A function written in the script's language, callable from Python (engine-neutral).
    `call_updating` also returns the arguments as the function left them, for an engine
    whose tables are copies (Lua): a table the function changed in place comes back changed."""

    def __init__(
        self,
        call: Callable[..., Any],
        description: str = "function",
        call_updating: Callable[..., tuple[Any, list[Any]]] | None = None,
    ) -> None:
        self._call = call
        self._call_updating = call_updating
        self.description = description

    def __call__(self, *args: Any) -> Any:
        return self._call(*args)

    def call_updating(self, *args: Any) -> tuple[Any, list[Any]]:
        """(the result, the arguments after the call)."""
        if self._call_updating is None:  # arguments are shared objects
            return self._call(*args), list(args)
        return self._call_updating(*args)

    def __repr__(self) -> str:
        return f"<{self.description}>"


class OpaqueValue:
    """A script value with no data form (a coroutine, userdata); data checks reject it by kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


class JsonNull:
    """`JSON.null`: JSON's null where a script needs a value that is not nil, so a Lua array
    keeps its length (`JSON.parse(text, {keep_null = true})`). There is one; it is falsy, data
    checks store it as null and JSON text writes it as `null`."""

    _instance: JsonNull | None = None

    def __new__(cls) -> JsonNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "JSON.null"

    def __bool__(self) -> bool:
        return False


JSON_NULL = JsonNull()


class RawValue:
    """A script value passed through unconverted (for display and dumping in the engine's own
    syntax); `python` is its converted form for when a plain value is needed."""

    def __init__(self, raw: Any, python: Callable[[], Any]) -> None:
        self.raw = raw
        self._python = python

    def to_python(self) -> Any:
        return self._python()


def raw_of(value: Any) -> Any:
    """The engine-native value behind a raw parameter (engines without wrapping pass it as is)."""
    return value.raw if isinstance(value, RawValue) else value


def raw_args(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark parameters an engine passes as `RawValue` instead of converting them."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__llmspell_raw__ = frozenset(names)  # type: ignore[attr-defined]
        return fn

    return mark


def raw_params(fn: Callable[..., Any]) -> frozenset[str]:
    return getattr(fn, "__llmspell_raw__", frozenset())


# One pull from a script's producer (a Lua coroutine, a Python generator):
# (whether it gave a value, the value, whether the producer has finished).
ProducerStep = Callable[[], tuple[bool, Any, bool]]


class NotAProducer(Exception):
    """A value cannot produce a stream; the message says what can (`must be a function, got
    number`)."""


def _needs_an_engine(value: Any) -> ProducerStep:
    raise NotAProducer("can only be made by a script engine")


class ApiContext:
    """What the globals share: config, infrastructure, the current output sink, the engine.

    A plain class, not a dataclass: a start makes none, so `llmspell exec` does without
    `dataclasses` and the `inspect` it imports (with `ast` and `dis`, ~4 ms)."""

    def __init__(
        self,
        config: LLMSpellConfig,
        infrastructure: Infrastructure,
        sink: OutputSink,
        # what the engine says about itself, set once it exists; untrusted until then
        engine_trusted: bool = False,  # scripts run without a sandbox (Python, Lua "trusted")
        bundle_for: Callable[[Any], dict[str, Any]] = lambda value: {"text/plain": repr(value)},
        format_value: Callable[[Any], str] = repr,
        describe: Callable[[Any], str | None] = lambda value: None,
        # a script value that produces values (Lua function, Python generator) → its steps;
        # NotAProducer for any other value
        producer: Callable[[Any], ProducerStep] = _needs_an_engine,
        # true once the running script must stop (interrupt, timeout): the runtime passes
        # `infrastructure.limits.stop_requested` (runtime/host_limits.py), for code that hands
        # the check on as a callable (a workflow between steps, Event.receive between waits)
        stop_requested: Callable[[], bool] = lambda: False,
        # widgets' link to a Jupyter front end and their callbacks' way back into the script
        # (runtime/display/widgets.py); None where no runtime made one (a bare ApiContext)
        widgets: WidgetHost | None = None,
    ) -> None:
        self.config = config
        self.infrastructure = infrastructure
        self.sink = sink
        self.engine_trusted = engine_trusted
        self.bundle_for = bundle_for
        self.format_value = format_value
        self.describe = describe
        self.producer = producer
        self.stop_requested = stop_requested
        self.widgets = widgets

    @property
    def tenant_id(self) -> str:
        return self.config.tenancy.tenant_id


class ApiNamespace:
    """A script global such as `State`: public methods are its functions, public attributes that
    are namespaces are its sub-tables (`Memory.episodic`)."""

    api_name: str = ""
    # the names `_id_methods` offers: an engine installs them before the namespace is built
    id_method_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _wrap_public_methods(cls)

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        # only reached when `name` is not there: say so in the script's terms (`State.nope`)
        if name.startswith("_"):
            raise AttributeError(name)
        offered = [n for n, _ in public_functions(self)] + [n for n, _ in public_members(self)]
        raise AttributeError(
            f"{self.api_name}.{name} does not exist; {self.api_name} has: {', '.join(offered)}"
        )

    def __repr__(self) -> str:
        return f"<{self.api_name} API>"

    def _id_methods(self) -> dict[str, Callable[..., Any]]:
        """Functions a script may call as methods of an id string or of a RecordWithMethods
        (`id:get_status()`), each taking that id (or record) first, one per name in
        `id_method_names`; none by default."""
        return {}


class RecordWithMethods(dict[str, Any]):
    """A record (data) whose script table also has its namespace's id methods (see
    `ApiNamespace._id_methods`): `Session.get(id):get_status()` as well as `.status`."""


class ApiObject:
    """An object a function returns that scripts call methods on (`handle:id()`, builders).

    An object may also have fields scripts read and assign (`w.value = 3`): `_field_names`
    lists them, `_get_field`/`_set_field` do the work (ApiError for a name not listed)."""

    api_name: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _wrap_public_methods(cls)

    def _field_names(self) -> tuple[str, ...]:
        return ()

    def _get_field(self, name: str) -> Any:
        raise ApiError(f"{self.api_name} has no field {name!r}")

    def _set_field(self, name: str, value: Any) -> None:
        raise ApiError(f"{self.api_name} has no field {name!r}")

    def __repr__(self) -> str:
        return f"<{self.api_name}>"


def public_functions(obj: object) -> Iterator[tuple[str, Callable[..., Any]]]:
    """(name, bound method) for every function a namespace or object offers to scripts."""
    for name in sorted(dir(type(obj))):
        if name.startswith("_") or name == "api_name":
            continue
        attr = getattr(type(obj), name)
        if isinstance(attr, FunctionType):
            yield name, getattr(obj, name)


def public_members(obj: ApiNamespace) -> Iterator[tuple[str, Any]]:
    """(name, value) of public non-function attributes: sub-namespaces and constants."""
    for name, value in sorted(vars(obj).items()):
        if not name.startswith("_"):
            yield name, value


def signature_of(qualified: str, fn: Callable[..., Any]) -> str:
    """`State.save(scope, key, value)` for a bound method."""
    import inspect  # here: only help and inspection read signatures; a start does without it

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return f"{qualified}(...)"
    parts = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"...{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            continue
        elif p.default is not p.empty:
            parts.append(f"{p.name}?")
        else:
            parts.append(p.name)
    return f"{qualified}({', '.join(parts)})"


def doc_of(fn: Callable[..., Any]) -> str:
    import inspect

    return inspect.cleandoc(fn.__doc__ or "")
