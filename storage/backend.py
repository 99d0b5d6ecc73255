"""The backend strategy: everything that differs between sqlite, memory and postgres, in one
object chosen once by name (`backend_for`). Storage, admin commands and components never
branch on the backend name; they ask this object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from llmspell.storage.database import EngineSource
    from llmspell.storage.settings import StorageSettings


@dataclass(frozen=True)
class OwnerTarget:
    """An engine logged in as the owner of the schema (migrations, schema reports)."""

    engine: Engine
    database: str  # for messages, never with a password
    app_role: str | None  # PostgreSQL: the role that migrations grant DML to


class Backend(Protocol):
    """One storage backend."""

    name: str  # one of settings.BACKENDS
    dialect: str  # SQLAlchemy dialect name: "sqlite" | "postgresql"
    # True: each transaction sets app.tenant_id for row-level security (PostgreSQL); False:
    # the statements' own tenant filter is the only guard (SQLite).
    sets_tenant: bool
    # True: the database outlives the process, so `storage upgrade|downgrade` applies to it.
    persistent: bool
    # True: `open_storage` connects (and checks or migrates the schema) at once, so a broken
    # setup fails before a script starts; False: on first use (a PostgreSQL pool is costly).
    opens_eagerly: bool
    # True: `Database.driver_transaction` runs its statements on the DBAPI connection (SQLite,
    # in-process: SQLAlchemy's per-statement work would be most of the time); False: through
    # a SQLAlchemy Connection (PostgreSQL: the round-trip dominates).
    driver_transactions: bool

    def source(self, settings: StorageSettings) -> EngineSource:
        """The app's engine, created and prepared (schema checked or migrated) on first use,
        with `explain` turning the database's conditions (busy, read-only, unreachable) into
        StorageErrors a user can act on."""
        ...

    def owner(
        self, settings: StorageSettings, *, create: bool
    ) -> AbstractContextManager[OwnerTarget]:
        """The database as its owner; `create=False` refuses to create a missing one."""
        ...


def backend_for(name: str) -> Backend:
    """The strategy of backend `name` (the one place that dispatches on the name)."""
    if name == "sqlite":
        from llmspell.storage.sqlite import SQLITE

        return SQLITE
    if name == "memory":
        from llmspell.storage.sqlite import MEMORY

        return MEMORY
    if name == "postgres":
        # psycopg loads only here: SQLite users never import it.
        from llmspell.storage.postgres.backend import POSTGRES

        return POSTGRES
    from llmspell.storage.settings import BACKENDS

    raise ValueError(f"storage backend {name!r} is not supported; allowed: {', '.join(BACKENDS)}")


def owned(target: OwnerTarget) -> Iterator[OwnerTarget]:
    """Yield `target` and dispose of its engine afterwards (for the backends' `owner`)."""
    try:
        yield target
    finally:
        target.engine.dispose()
