"""Storage: the component registry, the SQL schema, backends (sqlite, memory, postgres), tenancy.

`open_storage(settings, tenant_id)` is the entry point the runtime uses (the runtime builds the
`StorageSettings` from its config); `storage.<component>` is a component's store, e.g.
`storage.kv`. `llmspell.storage.admin` holds the operator commands behind `llmspell storage ...`.
Each component's own names (its Protocol, records, settings) are exported here too, from its
module in `llmspell.storage.components`.

The names are imported on first use, so `import llmspell.storage` stays cheap (SQLAlchemy
costs ~250 ms to import and a kernel that never touches storage should not pay it).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.storage.errors import SchemaVersionError, StorageError
    from llmspell.storage.registry import Component
    from llmspell.storage.settings import StorageSettings
    from llmspell.storage.sql_storage import SqlStorage, open_storage

_EXPORTS = {
    "Component": "llmspell.storage.registry",
    "SchemaVersionError": "llmspell.storage.errors",
    "SqlStorage": "llmspell.storage.sql_storage",
    "StorageError": "llmspell.storage.errors",
    "StorageSettings": "llmspell.storage.settings",
    "open_storage": "llmspell.storage.sql_storage",
}
__all__ = [
    "Component",
    "SchemaVersionError",
    "SqlStorage",
    "StorageError",
    "StorageSettings",
    "open_storage",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        return getattr(import_module(module), name)
    if not name.startswith("_") and not _is_submodule(name):
        from llmspell.storage import registry

        # A component's public names (`KVStore`, `StateVersion`, `KVSettings`, ...): the
        # `__all__` of its module or package (one registered at run time: its store's module).
        for component in registry.components():
            owner = sys.modules.get(f"{registry.COMPONENTS_PACKAGE}.{component.name}")
            if owner is None:
                owner = import_module(component.store.__module__)
            if name in getattr(owner, "__all__", ()):
                return getattr(owner, name)
    raise AttributeError(f"module 'llmspell.storage' has no attribute {name!r}")


def _is_submodule(name: str) -> bool:
    # `from llmspell.storage import registry` asks this module first; answering it must not
    # load every component (and SQLAlchemy) on the cheap start-up path.
    import pkgutil  # here: a start that asks for no storage name does without it

    return any(info.name == name for info in pkgutil.iter_modules(__path__))
