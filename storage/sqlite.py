"""The `sqlite` (one file, WAL) and `memory` (`:memory:`) backends and their engines."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from llmspell.migrations import HEAD
from llmspell.storage.backend import OwnerTarget, owned
from llmspell.storage.database import WRITE_OPTION, EngineSource
from llmspell.storage.errors import SchemaVersionError, StorageError
from llmspell.storage.glob import sqlite_regexp
from llmspell.storage.revision import (
    alembic_version,
    classify,
    outdated_message,
    single_revision,
)
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sqlite_file import file_error

logger = logging.getLogger("llmspell.storage")


def sqlite_engine(path: str | None, busy_timeout_s: float = 10.0) -> Engine:
    """An engine on the SQLite file `path` (parents created), or on `:memory:` when None; a
    writer waits up to `busy_timeout_s` for another's lock."""
    if path is None:
        engine = create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            hide_parameters=True,  # as on PostgreSQL: no bound value in any error or log
        )
    else:
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            URL.create("sqlite", database=str(file)),
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
            hide_parameters=True,
        )
    _install_transaction_control(engine, wal=path is not None, busy_timeout_s=busy_timeout_s)
    return engine


def _install_transaction_control(engine: Engine, *, wal: bool, busy_timeout_s: float) -> None:
    # The sqlite3 module's own transaction handling never begins before SELECT and cannot take
    # the write lock up front; SQLAlchemy's documented recipe hands BEGIN back to us.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # In place of SQLAlchemy's REGEXP (Python's backtracking `re`): glob filters run on RE2.
        dbapi_connection.create_function("regexp", 2, sqlite_regexp, deterministic=True)
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # 16 MiB of page cache per connection (SQLite's default is 2 MiB): a graph walk
            # or a keyword index build reads the same index pages many times over.
            cursor.execute("PRAGMA cache_size=-16384")
            cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout_s * 1000):d}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        # On the driver directly: a statement through SQLAlchemy costs more than the read itself.
        driver: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def sqlite_storage_error(exc: Exception, path: str, busy_timeout_s: float) -> StorageError | None:
    """A busy, read-only or unopenable SQLite file as a StorageError naming the file."""
    # BEGIN IMMEDIATE runs on the driver itself, so its failure arrives unwrapped.
    if isinstance(exc, DBAPIError):
        reason = str(exc.orig)
    elif isinstance(exc, sqlite3.Error):
        reason = str(exc)
    else:
        return None
    if "database is locked" in reason or "database table is locked" in reason:
        return StorageError(
            f"the SQLite database {path} is busy: another process held its write lock for "
            f"longer than the busy timeout ({busy_timeout_s:g} s, storage.busy_timeout_s); try "
            "again when it is done, or give each process its own storage.path"
        )
    if "readonly" in reason or "unable to open" in reason or "disk I/O error" in reason:
        return file_error(path, reason)
    return None


def create_at_head(engine: Engine) -> None:
    """Create a fresh (in-memory) database straight from the schema and stamp it at head.

    The alembic cookbook's way to build a new database; a test proves it equals the migrations.
    """
    from llmspell.storage.registry import metadata

    with engine.begin() as conn:
        metadata().create_all(conn)
        alembic_version.create(conn)
        conn.execute(insert(alembic_version).values(version_num=HEAD))


def ensure_sqlite_schema(engine: Engine, settings: StorageSettings) -> None:
    """Check the file's schema revision; upgrade it when behind and `auto_upgrade` allows."""
    revision = _sqlite_revision(engine)
    if classify(revision) == "current":
        return
    if not settings.auto_upgrade:
        raise SchemaVersionError(
            outdated_message(revision, f"the SQLite file {settings.sqlite_path}")
        )
    from llmspell.storage.schema_migrations import run_alembic  # alembic loads only when needed

    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            run_alembic(conn, "upgrade", HEAD)
    logger.info("migrated %s from %s to %s", settings.sqlite_path, revision, HEAD)


def _sqlite_revision(engine: Engine) -> str | None:
    """`read_revision` on the DBAPI connection: each open builds a new engine, whose empty
    statement cache would compile the inspector's and the SELECT's SQL every time."""
    pooled = engine.raw_connection()
    try:
        driver: Any = pooled.driver_connection
        found = driver.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (alembic_version.name,),
        ).fetchone()
        if found is None:
            return None
        rows = driver.execute(
            str(select(alembic_version.c.version_num).compile(dialect=engine.dialect))
        ).fetchall()
        return single_revision([row[0] for row in rows])
    finally:
        pooled.close()


class SqliteBackend:
    """One SQLite file: migrated on open when `auto_upgrade` allows."""

    name = "sqlite"
    dialect = "sqlite"
    sets_tenant = False
    persistent = True
    opens_eagerly = True
    driver_transactions = True

    def source(self, settings: StorageSettings) -> EngineSource:
        path, timeout = settings.sqlite_path, settings.sqlite_busy_timeout_s

        def explain(exc: Exception) -> StorageError | None:
            return sqlite_storage_error(exc, path, timeout)

        def connect() -> Engine:
            try:
                return sqlite_engine(path, timeout)
            except OSError as exc:  # the data directory cannot be created
                raise file_error(path, str(exc)) from None

        def prepare(engine: Engine) -> None:
            try:
                ensure_sqlite_schema(engine, settings)
            except (DBAPIError, sqlite3.Error) as exc:
                raise explain(exc) or exc from None

        return EngineSource(connect, prepare=prepare, explain=explain)

    @contextmanager
    def owner(self, settings: StorageSettings, *, create: bool) -> Iterator[OwnerTarget]:
        path = Path(settings.sqlite_path).expanduser()
        if not create and not path.exists():
            raise StorageError(
                f"the SQLite file {path} does not exist yet; it is created on first use or by "
                "`llmspell storage upgrade`"
            )
        engine = sqlite_engine(str(path), settings.sqlite_busy_timeout_s)
        yield from owned(OwnerTarget(engine, str(path), None))


class MemoryBackend:
    """SQLite on `:memory:`, one shared connection, built at head on every open."""

    name = "memory"
    dialect = "sqlite"
    sets_tenant = False
    persistent = False
    opens_eagerly = True
    driver_transactions = True

    def source(self, settings: StorageSettings) -> EngineSource:
        return EngineSource(
            lambda: sqlite_engine(None),
            prepare=create_at_head,
            serialize=True,
            explain=lambda exc: sqlite_storage_error(exc, ":memory:", 0),
        )

    @contextmanager
    def owner(self, settings: StorageSettings, *, create: bool) -> Iterator[OwnerTarget]:
        # What every open of this backend gets: a fresh database at head (schema reports).
        engine = sqlite_engine(None)
        create_at_head(engine)
        yield from owned(OwnerTarget(engine, ":memory:", None))


SQLITE = SqliteBackend()
MEMORY = MemoryBackend()
