"""Which script globals exist and how each is built, known without importing the `*_api`
modules: a start reads the catalog from the user cache dir (one file, keyed by the size and
mtime of this package's modules) and `Globals` builds each global on first access, so a script
that touches two globals imports two modules, not thirty.

A missing, stale or corrupt catalog is found again by importing every `*_api` module (what every
start did before) and rewritten atomically; an unwritable cache dir only costs that import.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any, NamedTuple

import platformdirs

from llmspell import __version__
from llmspell.runtime.api.base import ApiContext, ApiNamespace

FORMAT = 1
_PACKAGE = "llmspell.runtime.api"
_HERE = Path(__file__).parent


# NamedTuples, not dataclasses: every start reads these, and making a dataclass costs ~0.5 ms.
class GlobalEntry(NamedTuple):
    """One script global: its name and the class that provides it."""

    name: str  # "State", or a global function's name ("help")
    module: str  # "llmspell.runtime.api.state_api"
    cls: str  # "StateApi"
    function: bool  # a public method of a holder class (`api_name = ""`)
    id_methods: tuple[str, ...]  # the namespace's `id_method_names` (methods of id strings)


def _api_modules() -> list[ModuleType]:
    """The `*_api` modules of this package, imported."""
    import pkgutil  # here: a start from the cached catalog does without it

    return [
        import_module(f"{_PACKAGE}.{info.name}")
        for info in pkgutil.iter_modules([str(_HERE)])
        if info.name.endswith("_api")
    ]


def global_classes() -> list[type[ApiNamespace]]:
    """Every script global's class, from the `*_api` modules of this package (imports them)."""
    found: list[type[ApiNamespace]] = []
    for module in _api_modules():
        for member in vars(module).values():
            if not isinstance(member, type):
                continue
            if not issubclass(member, ApiNamespace) or member.__module__ != module.__name__:
                continue
            namespace: type[ApiNamespace] = member
            if "." not in namespace.api_name:  # `Memory.episodic` is a sub-table, not a global
                found.append(namespace)
    return found


class Catalog(NamedTuple):
    """The globals, and the modules that register display renderers (`register_renderer`) as
    they are imported: a value is shown only after they are (see display/bundles.py)."""

    entries: list[GlobalEntry]
    renderer_modules: list[str]


def discover() -> Catalog:
    """The catalog found by importing every `*_api` module."""
    from llmspell.runtime.display.bundles import registered_renderers  # see catalog()

    modules = _api_modules()
    renderers = registered_renderers()
    registered = {id(render) for render in renderers}
    # where a renderer is defined (it registers itself there, `agents/rendering.py`) or the
    # `*_api` module that registers it (`register_renderer(render_rag_value)`)
    renderer_modules = sorted(
        {render.__module__ for render in renderers if render.__module__.startswith("llmspell.")}
        | {
            module.__name__
            for module in modules
            if any(id(value) in registered for value in vars(module).values())
        }
    )
    entries = []
    for cls in global_classes():
        where = {"module": cls.__module__, "cls": cls.__name__}
        if cls.api_name:
            entries.append(
                GlobalEntry(cls.api_name, function=False, id_methods=cls.id_method_names, **where)
            )
            continue
        for name in sorted(dir(cls)):  # a holder: its public methods are global functions
            if not name.startswith("_") and isinstance(getattr(cls, name), FunctionType):
                entries.append(GlobalEntry(name, function=True, id_methods=(), **where))
    return Catalog(sorted(entries, key=lambda e: e.name), renderer_modules)


def catalog_file() -> Path:
    """Where the catalog is kept (the platform's user cache dir, beside the config cache)."""
    return Path(platformdirs.user_cache_dir("llmspell", appauthor=False)) / "globals.json"


def catalog() -> Catalog:
    """The catalog of this installation's globals: cached, or discovered and cached. The
    modules with renderers are imported before the first value is shown."""
    # imported here: display's modules import `api.base`, so this package may be loading
    # because `llmspell.runtime.display` is
    from llmspell.runtime.display.bundles import load_renderers_from

    key = _key()
    path = catalog_file()
    found = _read(path, key)
    if found is None:
        found = discover()
        _write(path, key, found)
    load_renderers_from(found.renderer_modules)
    return found


def _key() -> list[Any]:
    # An edit, an upgrade or another installation sharing the cache dir changes a module's
    # size or mtime, or the directory.
    with os.scandir(_HERE) as listing:
        files = sorted(
            (e.name, e.stat().st_size, e.stat().st_mtime_ns)
            for e in listing
            if e.name.endswith(".py")
        )
    return [FORMAT, __version__, str(_HERE), [list(f) for f in files]]


def _read(path: Path, key: list[Any]) -> Catalog | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        entries = [
            GlobalEntry(
                name=_text(e["name"]),
                module=_text(e["module"]),
                cls=_text(e["cls"]),
                function=_flag(e["function"]),
                id_methods=tuple(_text(m) for m in e["id_methods"]),
            )
            for e in data["entries"]
        ]
        renderer_modules = [_text(m) for m in data["renderer_modules"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not entries or any(not e.module.startswith(f"{_PACKAGE}.") for e in entries):
        return None
    if any(not m.startswith("llmspell.runtime.") for m in renderer_modules):
        return None
    return Catalog(entries, renderer_modules)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a flag")
    return value


def _write(path: Path, key: list[Any], found: Catalog) -> None:
    text = json.dumps(
        {
            "key": key,
            "entries": [e._asdict() for e in found.entries],
            "renderer_modules": found.renderer_modules,
        }
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only cache dir: the next start discovers again


class Globals(Mapping[str, Any]):
    """Name → API namespace (or global function) for every global a script sees, each built on
    first access (`globals_["State"]`); iterating lists the names without building any."""

    def __init__(self, ctx: ApiContext, entries: list[GlobalEntry]) -> None:
        self._ctx = ctx
        self._entries = {e.name: e for e in sorted(entries, key=lambda e: e.name)}
        self._built: dict[tuple[str, str], ApiNamespace] = {}
        self._lock = threading.Lock()

    def entry(self, name: str) -> GlobalEntry:
        return self._entries[name]

    def built(self) -> list[str]:
        """The names of the globals built so far."""
        with self._lock:
            classes = set(self._built)
        return [n for n, e in self._entries.items() if (e.module, e.cls) in classes]

    def __getitem__(self, name: str) -> Any:
        entry = self._entries[name]
        namespace = self._namespace(entry)
        return getattr(namespace, name) if entry.function else namespace

    def _namespace(self, entry: GlobalEntry) -> ApiNamespace:
        where = (entry.module, entry.cls)
        with self._lock:
            namespace = self._built.get(where)
            if namespace is None:
                cls = getattr(import_module(entry.module), entry.cls)
                namespace = self._built[where] = cls(self._ctx)
        return namespace

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class DeferredFunction:
    """A global function that an engine installs before it is built; `resolve()` builds it
    (an engine wrapping it reads the signature of what it resolves to)."""

    def __init__(self, resolve: Callable[[], Callable[..., Any]]) -> None:
        self.resolve = resolve

    def __call__(self, *args: Any) -> Any:
        return self.resolve()(*args)
