"""The component registry: every storage component declares itself once; the rest is derived.

A component is one module in `llmspell.storage.components` whose name is the component's
config name and which ends with `COMPONENT = Component(...)`: its Protocol, tables, SQL store
class and settings. From the registry come an opened storage's attributes (`storage.kv`),
`storage schema --component`, the names `[storage.components]` accepts, the tables that
migrations, grants and RLS checks cover, and the parametrisation of the contract suites.

Listing the names is cheap (a directory listing, no SQLAlchemy import), so config validation
can ask for them at start-up; the modules themselves load when storage opens.
"""

from __future__ import annotations

import functools
import pkgutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table

    from llmspell.storage.database import Database
    from llmspell.storage.tenancy import Tenant

COMPONENTS_PACKAGE = "llmspell.storage.components"


@dataclass(frozen=True, eq=False)
class Component:
    """One storage component: what it is called, what it offers, where its rows live.

    `store(db, tenant, settings)` builds the store of one tenant on the component's database;
    `settings` is a frozen dataclass whose defaults apply when the runtime gives none.
    """

    name: str  # the config name: `[storage.components] <name> = "postgres"`, `storage.<name>`
    title: str  # one line for `storage schema` and the docs
    protocol: type
    tables: tuple[Table, ...]
    store: Callable[[Database, Tenant, Any], Any]
    settings: type | None = None
    # the settings object from the `[storage]` config section (an object with its keys as
    # attributes: `max_value_mb`, ...); None: the component has no config keys
    from_config: Callable[[Any], Any] | None = None
    # "module:Class" of the runtime manager that deletes what this component keeps for a
    # session (`delete_session_data(session_id)`); `Session.delete` asks it. Named, not
    # imported: storage does not depend on the runtime.
    session_data_owner: str | None = None
    table_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_names", tuple(t.name for t in self.tables))
        for table in self.tables:
            first = next(iter(table.columns)).name
            if first != "tenant_id":
                raise ValueError(
                    f"component {self.name!r}: table {table.name!r} must start with tenant_id, "
                    f"not {first!r}"
                )

    def default_settings(self) -> Any:
        """The settings this component uses when the runtime passes none."""
        return None if self.settings is None else self.settings()


# Components registered at run time (tests, extensions) beside the package's own modules.
_extra: dict[str, Component] = {}
_loaded: dict[str, Component] = {}
_lock = threading.Lock()


@functools.cache
def _package_modules() -> tuple[str, ...]:
    """The components' modules: every module or sub-package of the package except private
    ones (`_name.py`), which are helpers components share. Listed once per process (every
    open of a store asks)."""
    package = import_module(COMPONENTS_PACKAGE)
    return tuple(
        sorted(
            info.name
            for info in pkgutil.iter_modules(package.__path__)
            if not info.name.startswith("_")
        )
    )


def component_names() -> list[str]:
    """Every component's config name, sorted; imports no component module."""
    return sorted({*_package_modules(), *_extra})


def get(name: str) -> Component:
    """The component called `name`, loading its module on first use."""
    if name in _extra:
        return _extra[name]
    component = _loaded.get(name)
    if component is not None:
        return component
    if name not in _package_modules():
        raise KeyError(
            f"unknown storage component {name!r}; components: {', '.join(component_names())}"
        )
    with _lock:
        module = import_module(f"{COMPONENTS_PACKAGE}.{name}")
        component = getattr(module, "COMPONENT", None)
        if not isinstance(component, Component) or component.name != name:
            raise TypeError(
                f"{module.__name__} must define COMPONENT = Component(name={name!r}, ...)"
            )
        _loaded[name] = component
    return component


def components() -> list[Component]:
    """Every component, loaded, in name order."""
    return [get(name) for name in component_names()]


def tables() -> list[Table]:
    """Every table of every component (the schema migrations and RLS checks cover)."""
    return [table for component in components() for table in component.tables]


def metadata() -> MetaData:
    """The schema's MetaData with every component's tables declared on it."""
    from llmspell.storage.schema import metadata as shared

    components()
    return shared


def component_of_table(table: str) -> str:
    """The name of the component that owns `table` ("" when none does)."""
    return next((c.name for c in components() if table in c.table_names), "")


def register(component: Component) -> None:
    """Add a component that is not a module of the package (an extension, a test)."""
    if component.name in component_names():
        raise ValueError(f"a storage component named {component.name!r} already exists")
    _extra[component.name] = component


def unregister(name: str) -> None:
    """Remove a component added with `register`, and its tables from the schema metadata."""
    component = _extra.pop(name)
    from llmspell.storage.schema import metadata as shared

    for table in component.tables:
        if table.metadata is shared:
            shared.remove(table)


@contextmanager
def registered(component: Component) -> Iterator[Component]:
    """`register` for the length of a block (tests)."""
    register(component)
    try:
        yield component
    finally:
        unregister(component.name)
