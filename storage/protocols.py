"""The storage contract the runtime programs against: one Protocol per component.

Every method runs for the tenant the store was opened for; there is no way to name another.
Values are JSON-able Python values (dict/list/str/int/float/bool/None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class StateVersion:
    """One kept version of a state value (`State.history`)."""

    value: Any
    version: int
    updated_at: datetime  # timezone-aware, UTC


class KVStore(Protocol):
    """Component 0: scoped key/value state with kept versions."""

    def get(self, scope: str, key: str) -> Any | None: ...
    def put(self, scope: str, key: str, value: Any) -> int:
        """Store `value`; return its new version (1 for a new key)."""
        ...

    def delete(self, scope: str, key: str) -> bool: ...
    def exists(self, scope: str, key: str) -> bool: ...
    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        """Sorted keys of `scope` (optionally only those starting with `prefix`)."""
        ...

    def count(self, scope: str) -> int:
        """How many keys `scope` holds."""
        ...

    def clear(self, scope: str) -> int:
        """Delete every key of `scope`; return how many."""
        ...

    def history(self, scope: str, key: str, limit: int | None = None) -> list[StateVersion]:
        """Kept versions, current first."""
        ...


class Storage(Protocol):
    """An opened storage for one tenant: its components plus lifecycle."""

    tenant_id: str
    backend: str  # "sqlite" | "memory" | "postgres"
    kv: KVStore

    def close(self) -> None: ...
