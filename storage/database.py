"""`Database`: an engine plus how a transaction starts on it (write locks, the tenant setting).

Components never touch engines; they ask for `db.transaction()` / `db.transaction(write=True)`
and get a SQLAlchemy Connection inside a transaction that is already scoped to their tenant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select

# Transaction-local (`is_local = true`): a pooled connection never carries a tenant into the
# next transaction.
SET_TENANT = select(func.set_config("app.tenant_id", bindparam("tenant"), True))

WRITE_OPTION = "llmspell_write"


class Database:
    """A lazily created engine and the transactions components run in.

    `connect` builds the engine; `prepare` runs once on it before the first transaction
    (schema revision check / upgrade). `serialize` guards a single shared connection
    (`memory`); `tenant_setting` is the value for `app.tenant_id` on PostgreSQL.
    """

    def __init__(
        self,
        backend: str,
        connect: Callable[[], Engine],
        *,
        prepare: Callable[[Engine], None] | None = None,
        tenant_setting: str | None = None,
        serialize: bool = False,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.dialect_name = "postgresql" if backend == "postgres" else "sqlite"
        self._connect = connect
        self._prepare = prepare
        self._tenant_setting = tenant_setting
        self._serial: threading.RLock | None = threading.RLock() if serialize else None
        self._on_close = on_close
        self._engine: Engine | None = None
        self._init_lock = threading.Lock()
        self._closed = False

    @property
    def engine(self) -> Engine:
        """The engine, created (and prepared) on first use."""
        engine = self._engine
        if engine is not None:
            return engine
        with self._init_lock:
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

    def _serialized(self) -> AbstractContextManager[Any]:
        return self._serial if self._serial is not None else nullcontext()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        `write=True` takes SQLite's write lock up front (BEGIN IMMEDIATE), so a read-then-write
        never fails half-way for lack of the lock.
        """
        engine = self.engine
        with self._serialized(), engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if self._tenant_setting is not None:
                    conn.execute(SET_TENANT, {"tenant": self._tenant_setting})
                yield conn

    def close(self) -> None:
        """Release connections (idempotent)."""
        with self._init_lock:
            if self._closed:
                return
            self._closed = True
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()
        if self._on_close is not None:
            self._on_close()
