"""`Database`: an engine plus how a transaction starts on it (write locks, the tenant setting).

Components never touch engines; they ask for `db.transaction()` / `db.transaction(write=True)`
and get a SQLAlchemy Connection inside a transaction that is already scoped to their tenant.
Several tenants can share one engine (and one PostgreSQL pool) through `db.for_tenant(id)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, func, select

from llmspell.storage.errors import StorageError
from llmspell.storage.tenancy import TENANT_SETTING

if TYPE_CHECKING:
    from llmspell.storage.backend import Backend

# Transaction-local (`is_local = true`): a pooled connection never carries a tenant into the
# next transaction.
SET_TENANT = select(func.set_config(TENANT_SETTING, bindparam("tenant"), True))

WRITE_OPTION = "llmspell_write"


class EngineSource:
    """A lazily created engine, prepared once (schema check / upgrade) before first use.

    `serialize` guards a single shared connection (`memory`); `on_close` releases what
    `connect` built besides the engine (a psycopg pool); `explain` turns a failed statement into
    a StorageError a user can act on, or None when it is not the database's condition (a bug,
    which keeps its own class).
    """

    def __init__(
        self,
        connect: Callable[[], Engine],
        *,
        prepare: Callable[[Engine], None] | None = None,
        serialize: bool = False,
        on_close: Callable[[], None] | None = None,
        explain: Callable[[Exception], StorageError | None] = lambda exc: None,
    ) -> None:
        self._connect = connect
        self._prepare = prepare
        self._on_close = on_close
        self.explain = explain
        self.serial: threading.RLock | None = threading.RLock() if serialize else None
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is not None:
            return engine
        with self._lock:
            if self._closed:
                raise RuntimeError("storage is closed")
            if self._engine is None:
                engine = self._connect()
                try:
                    if self._prepare is not None:
                        self._prepare(engine)
                except BaseException:
                    engine.dispose()
                    if self._on_close is not None:
                        self._on_close()
                    raise
                self._engine = engine
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()
        if self._on_close is not None:
            self._on_close()


class Database:
    """Transactions on an `EngineSource` of one backend, for one tenant.

    On a backend that `sets_tenant` (PostgreSQL) every transaction first sets `app.tenant_id`
    for row-level security; on SQLite the statements' own tenant filter is the only guard.
    """

    def __init__(self, backend: Backend, source: EngineSource, tenant_id: str) -> None:
        self.backend = backend
        self.dialect_name = backend.dialect
        self.source = source
        self.tenant_id = tenant_id
        self._tenant_setting = tenant_id if backend.sets_tenant else None

    @property
    def engine(self) -> Engine:
        """The engine, created (and prepared) on first use."""
        return self.source.engine

    def for_tenant(self, tenant_id: str) -> Database:
        """The same engine and pool, with transactions for another tenant."""
        return Database(self.backend, self.source, tenant_id)

    def _serialized(self) -> AbstractContextManager[Any]:
        return self.source.serial if self.source.serial is not None else nullcontext()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        `write=True` takes SQLite's write lock up front (BEGIN IMMEDIATE), so a read-then-write
        never fails half-way for lack of the lock.
        """
        engine = self.engine
        try:
            with self._serialized(), engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    if self._tenant_setting is not None:
                        conn.execute(SET_TENANT, {"tenant": self._tenant_setting})
                    yield conn
        except Exception as exc:
            # What the user can act on (a busy or read-only file, a lost server), not a driver
            # message with a link to SQLAlchemy's error pages.
            error = self.source.explain(exc)
            if error is None:
                raise
            raise error from None

    def close(self) -> None:
        """Release connections and pools of the shared source (idempotent)."""
        self.source.close()
