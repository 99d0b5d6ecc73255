"""`Database`: an engine plus how a transaction starts on it (write locks, the tenant setting).

Components never touch engines; they ask for `db.transaction()` / `db.transaction(write=True)`
and get a SQLAlchemy Connection inside a transaction that is already scoped to their tenant.
Several tenants can share one engine (and one PostgreSQL pool) through `db.for_tenant(id)`.
No SQLAlchemy or driver error leaves a transaction: their text quotes the statement and its
parameters (tenant ids, ids, embeddings), so each becomes an error that says what failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    PoolProxiedConnection,
    RootTransaction,
    bindparam,
    event,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable, Select

from llmspell.storage.driver import (
    ConnectionRunner,
    DriverRunner,
    DriverStatement,
    StatementRunner,
)
from llmspell.storage.errors import ConstraintViolation, StorageError
from llmspell.storage.tenancy import TENANT_SETTING

if TYPE_CHECKING:
    from llmspell.storage.backend import Backend

# Transaction-local (`is_local = true`): a pooled connection never carries a tenant into the
# next transaction.
SET_TENANT = select(func.set_config(TENANT_SETTING, bindparam("tenant"), True))
# The tenant setting and N more run-time settings in one round trip (`Database.transaction`).
_SET_TENANT_AND: dict[int, Select[Any]] = {}

WRITE_OPTION = "llmspell_write"
# Key in a driver connection's `info`: the `EngineSource` generation it was made in.
_GENERATION = "llmspell_driver_generation"

logger = logging.getLogger("llmspell.storage")

# What a backend's `explain` makes of a failure: an error a user can act on (a StorageError for
# the database's condition, a ValueError for a value it refuses), or None.
Explain = Callable[[Exception], Exception | None]


class EngineSource:
    """A lazily created engine, prepared once (schema check / upgrade) before first use.

    `serialize` guards a single shared connection (`memory`); `on_close` releases what
    `connect` built besides the engine (a psycopg pool); `explain` turns a failure into an error
    a user can act on, or None when it is not the database's condition (`Database` then names
    the failure's class only); `on_lost_connection` drops the other connections a server
    closed (a restart), so the next transaction gets a live one.
    """

    def __init__(
        self,
        connect: Callable[[], Engine],
        *,
        prepare: Callable[[Engine], None] | None = None,
        serialize: bool = False,
        on_close: Callable[[], None] | None = None,
        explain: Explain = lambda exc: None,
        on_lost_connection: Callable[[], None] = lambda: None,
    ) -> None:
        self._connect = connect
        self._prepare = prepare
        self._on_close = on_close
        self.explain = explain
        self.on_lost_connection = on_lost_connection
        self.serial: threading.RLock | None = threading.RLock() if serialize else None
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._idle_drivers: list[PoolProxiedConnection] = []
        self._drivers_generation = 0  # one more on each engine.dispose(): kept ones are stale
        self._before_close: dict[int, Callable[[], None]] = {}
        self._next_callback = 0

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
                event.listen(engine, "engine_disposed", self._drop_idle_drivers)
                self._engine = engine
            return self._engine

    def driver_connection(self) -> PoolProxiedConnection:
        """A DBAPI connection for `Database.driver_transaction`: one an earlier driver
        transaction left idle, else a new one (set up by the engine's connect hooks) detached
        from the pool, so kept ones never use up the pool's slots. With one shared connection
        (`serialize`) it is that connection, still the pool's."""
        try:
            # list.pop is atomic: concurrent transactions never get the same connection.
            return self._idle_drivers.pop()
        except IndexError:
            pass
        generation = self._drivers_generation
        conn = self.engine.raw_connection()
        if self.serial is None:
            conn.detach()
        conn.info[_GENERATION] = generation
        return conn

    def keep_driver_connection(self, conn: PoolProxiedConnection) -> None:
        """Keep `conn` (outside any transaction) for the next driver transaction; closed
        instead once the source is closed. Checking out and returning a pooled connection
        costs more than SQLite's own work on the state hot path."""
        with self._lock:
            if not self._closed and conn.info[_GENERATION] == self._drivers_generation:
                self._idle_drivers.append(conn)
                return
        conn.close()

    def _drop_idle_drivers(self, _engine: Engine) -> None:
        """On `engine.dispose()`: close the kept connections, as the pool closes its own."""
        with self._lock:
            self._drivers_generation += 1
            idle, self._idle_drivers = self._idle_drivers, []
        for conn in idle:
            conn.close()

    def before_close(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` when `close` begins, while transactions still work (a store
        finishing its background work); returns a function that cancels it."""
        with self._lock:
            key = self._next_callback
            self._next_callback += 1
            self._before_close[key] = callback

        def cancel() -> None:
            with self._lock:
                self._before_close.pop(key, None)

        return cancel

    def close(self) -> None:
        with self._lock:
            callbacks, self._before_close = list(self._before_close.values()), {}
        for callback in callbacks:
            callback()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            engine, self._engine = self._engine, None
            idle, self._idle_drivers = self._idle_drivers, []
        for conn in idle:
            conn.close()
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
    def transaction(
        self, write: bool = False, settings: Mapping[str, str] | None = None
    ) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        `write=True` takes SQLite's write lock up front (BEGIN IMMEDIATE), so a read-then-write
        never fails half-way for lack of the lock. `settings` are PostgreSQL run-time settings
        (name: value) local to the transaction, set in the same statement as the tenant (one
        round trip less than a statement of their own); a backend that does not set the tenant
        has none, and refuses them. A connection the server closed since its last use is
        replaced before the transaction starts; one lost later fails the transaction with a
        StorageError, and the next transaction connects afresh.
        """
        extra = self._checked_settings(settings)
        try:
            with self._serialized():
                conn, outer = self._begin(write, extra)
                with conn, outer:
                    yield conn
        except Exception as exc:
            error = self._explained(exc)
            if error is None:
                raise
            raise error from None

    def statement(
        self, statement: Executable, column_keys: Sequence[str] | None = None
    ) -> DriverStatement:
        """`statement` compiled once for this backend, for `driver_transaction` (an INSERT
        names the parameters it takes in `column_keys`)."""
        return DriverStatement(statement, self.engine.dialect, column_keys)

    def driver_transaction(self, write: bool = False) -> AbstractContextManager[StatementRunner]:
        """`transaction` for `DriverStatement`s: on a backend with `driver_transactions`
        (SQLite) they run on the DBAPI connection, skipping SQLAlchemy's per-statement work;
        elsewhere through the transaction's Connection. Same locking, same errors."""
        if not self.backend.driver_transactions:
            return self._connection_runner(write)
        engine = self.engine
        return _DriverTransaction(self.source, engine, engine.dialect.loaded_dbapi.Error, write)

    @contextmanager
    def _connection_runner(self, write: bool) -> Iterator[StatementRunner]:
        with self.transaction(write) as conn:
            yield ConnectionRunner(conn)

    def _checked_settings(self, settings: Mapping[str, str] | None) -> dict[str, str]:
        """`settings` as bind parameters of `_set_tenant_and` (empty: none given)."""
        if not settings:
            return {}
        if self._tenant_setting is None:
            raise ValueError(
                f"Database.transaction: settings {dict(settings)!r} are PostgreSQL run-time "
                f"settings; the {self.backend.name} backend has none (allowed: no settings)"
            )
        if TENANT_SETTING in settings:
            raise ValueError(
                f"Database.transaction: settings may not include {TENANT_SETTING!r} (the "
                f"transaction's tenant is {self.tenant_id!r}); allowed: other run-time settings"
            )
        values: dict[str, str] = {}
        for i, (name, value) in enumerate(settings.items()):
            values[f"name_{i}"] = name
            values[f"value_{i}"] = value
        return values

    def _begin(self, write: bool, settings: dict[str, str]) -> tuple[Connection, RootTransaction]:
        engine = self.engine
        for attempt in range(2):
            conn = engine.connect()
            try:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                outer = conn.begin()
                if self._tenant_setting is not None:
                    conn.execute(
                        _set_tenant_and(len(settings) // 2),
                        {"tenant": self._tenant_setting, **settings},
                    )
                return conn, outer
            except DBAPIError as exc:
                conn.close()
                if attempt or not exc.connection_invalidated:
                    raise
                # Closed by the server while pooled (a restart, pg_terminate_backend, an idle
                # timeout): nothing of the caller ran yet, so begin once more on a live one.
                self.source.on_lost_connection()
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def _explained(self, exc: Exception) -> Exception | None:
        """What a failure inside a transaction is to the caller (None: the failure itself)."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            self.source.on_lost_connection()
        return self.source.explain(exc) or statement_failure(exc)

    def close(self) -> None:
        """Release connections and pools of the shared source (idempotent)."""
        self.source.close()


class _DriverTransaction(DriverRunner):
    """One `Database.driver_transaction` on the DBAPI connection: begun on entry, committed on
    a clean exit, rolled back on an error, the connection kept for the next one; inside, it is
    the runner itself (one object per transaction, not two). A class, not a generator: a
    generator's context manager costs 2 µs, a fifth of a state read."""

    __slots__ = ("_error", "_pooled", "_source", "_write")

    def __init__(
        self, source: EngineSource, engine: Engine, error: type[Exception], write: bool
    ) -> None:
        self._source = source
        self.engine = engine
        self._error = error  # the driver's base error class
        self._write = write

    def __enter__(self) -> DriverRunner:
        source = self._source
        if source.serial is not None:
            source.serial.acquire()
        try:
            pooled = source.driver_connection()
            driver: Any = pooled.dbapi_connection  # what a detached one still holds
            try:
                driver.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
            except BaseException:
                source.keep_driver_connection(pooled)
                raise
        except BaseException as exc:
            if source.serial is not None:
                source.serial.release()
            if isinstance(exc, self._error):
                raise source.explain(exc) or driver_failure(exc) from None
            raise
        self._pooled = pooled
        self._driver = driver
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _trace: Any
    ) -> None:
        source, pooled = self._source, self._pooled
        driver: Any = pooled.dbapi_connection
        try:
            if kind is None:
                try:
                    driver.commit()
                except BaseException:
                    driver.rollback()
                    raise
            else:
                driver.rollback()
        except self._error as exc:
            raise source.explain(exc) or driver_failure(exc) from None
        finally:
            if driver.in_transaction:  # a rollback failed: not for the next one
                pooled.close()
            else:
                source.keep_driver_connection(pooled)
            if source.serial is not None:
                source.serial.release()
        if isinstance(error, self._error):
            raise source.explain(error) or driver_failure(error) from None


def statement_failure(exc: Exception) -> StorageError | None:
    """A SQLAlchemy error no backend explained (a bug, or a value no check refused) as a
    StorageError naming the driver's error class and code, never the statement or its
    parameters; None for any other exception. The statement goes to the debug log."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    logger.debug("a storage statement failed", exc_info=exc)
    orig = getattr(exc, "orig", None)
    return _failure(orig if orig is not None else exc, isinstance(exc, IntegrityError))


def driver_failure(exc: Exception) -> StorageError:
    """A DBAPI error of a `driver_transaction` no backend explained, as in `statement_failure`."""
    logger.debug("a storage statement failed", exc_info=exc)
    return _failure(exc, type(exc).__name__ == "IntegrityError")


def _failure(error: BaseException, integrity: bool) -> StorageError:
    kind = type(error).__name__
    code = getattr(error, "sqlstate", None) or getattr(error, "sqlite_errorname", None)
    what = f"{kind} ({code})" if code else kind
    if integrity:
        return ConstraintViolation(
            f"the database refused a write that breaks one of its constraints: {what}"
        )
    return StorageError(
        f"the database refused a statement: {what}; the statement is in the debug log (llmspell -v)"
    )


def _set_tenant_and(count: int) -> Select[Any]:
    """The tenant setting, then `count` settings named by `name_<i>` to `value_<i>`, all local
    to the transaction, in one statement (built once per count)."""
    stmt = _SET_TENANT_AND.get(count)
    if stmt is None:
        stmt = _SET_TENANT_AND[count] = (
            SET_TENANT
            if not count
            else SET_TENANT.add_columns(
                *[
                    func.set_config(bindparam(f"name_{i}"), bindparam(f"value_{i}"), True)
                    for i in range(count)
                ]
            )
        )
    return stmt
