"""Storage: component protocols, the SQL schema, backends (sqlite, memory, postgres) and tenancy.

`open_storage(StorageSettings.from_config(config), tenant_id)` is the entry point the runtime
uses; `llmspell.storage.admin` holds the operator commands behind `llmspell storage ...`.
The names below are imported on first use, so `import llmspell.storage` stays cheap (SQLAlchemy
costs ~250 ms to import and a kernel that never touches storage should not pay it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.storage.backends import SqlStorage, open_storage
    from llmspell.storage.errors import SchemaVersionError, StorageError
    from llmspell.storage.protocols import KVStore, StateVersion, Storage
    from llmspell.storage.settings import StorageSettings

_EXPORTS = {
    "KVStore": "llmspell.storage.protocols",
    "SchemaVersionError": "llmspell.storage.errors",
    "SqlStorage": "llmspell.storage.backends",
    "StateVersion": "llmspell.storage.protocols",
    "Storage": "llmspell.storage.protocols",
    "StorageError": "llmspell.storage.errors",
    "StorageSettings": "llmspell.storage.settings",
    "open_storage": "llmspell.storage.backends",
}
__all__ = [
    "KVStore",
    "SchemaVersionError",
    "SqlStorage",
    "StateVersion",
    "Storage",
    "StorageError",
    "StorageSettings",
    "open_storage",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmspell.storage' has no attribute {name!r}")
    return getattr(import_module(module), name)
