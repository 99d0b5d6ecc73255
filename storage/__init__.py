"""Storage: component protocols, the SQL schema, backends (sqlite, memory, postgres) and tenancy.

`open_storage(StorageSettings.from_config(config), tenant_id)` is the entry point the runtime
uses; `llmspell.storage.admin` holds the operator commands behind `llmspell storage ...`.
"""

from llmspell.storage.backends import SqlStorage, open_storage
from llmspell.storage.errors import SchemaVersionError, StorageError
from llmspell.storage.protocols import KVStore, StateVersion, Storage
from llmspell.storage.settings import StorageSettings

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
