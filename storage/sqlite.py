"""The `sqlite` (one file, WAL) and `memory` (`:memory:`) backends and their engines."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, insert
from sqlalchemy.pool import StaticPool

from llmspell.migrations import HEAD
from llmspell.storage.backend import OwnerTarget, owned
from llmspell.storage.database import WRITE_OPTION, EngineSource
from llmspell.storage.errors import SchemaVersionError, StorageError
from llmspell.storage.revision import alembic_version, classify, outdated_message, read_revision
from llmspell.storage.settings import StorageSettings

logger = logging.getLogger("llmspell.storage")

BUSY_TIMEOUT_MS = 10_000


def sqlite_engine(path: str | None) -> Engine:
    """An engine on the SQLite file `path` (parents created), or on `:memory:` when None."""
    if path is None:
        engine = create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            URL.create("sqlite", database=str(file)),
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
    _install_transaction_control(engine, wal=path is not None)
    return engine


def _install_transaction_control(engine: Engine, *, wal: bool) -> None:
    # The sqlite3 module's own transaction handling never begins before SELECT and cannot take
    # the write lock up front; SQLAlchemy's documented recipe hands BEGIN back to us.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        # On the driver directly: a statement through SQLAlchemy costs more than the read itself.
        driver: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


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
    with engine.connect() as conn, conn.begin():
        revision = read_revision(conn)
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


class SqliteBackend:
    """One SQLite file: migrated on open when `auto_upgrade` allows."""

    name = "sqlite"
    dialect = "sqlite"
    sets_tenant = False
    persistent = True
    opens_eagerly = True

    def source(self, settings: StorageSettings) -> EngineSource:
        return EngineSource(
            lambda: sqlite_engine(settings.sqlite_path),
            prepare=lambda engine: ensure_sqlite_schema(engine, settings),
        )

    @contextmanager
    def owner(self, settings: StorageSettings, *, create: bool) -> Iterator[OwnerTarget]:
        path = Path(settings.sqlite_path).expanduser()
        if not create and not path.exists():
            raise StorageError(
                f"the SQLite file {path} does not exist yet; it is created on first use or by "
                "`llmspell storage upgrade`"
            )
        yield from owned(OwnerTarget(sqlite_engine(str(path)), str(path), None))


class MemoryBackend:
    """SQLite on `:memory:`, one shared connection, built at head on every open."""

    name = "memory"
    dialect = "sqlite"
    sets_tenant = False
    persistent = False
    opens_eagerly = True

    def source(self, settings: StorageSettings) -> EngineSource:
        return EngineSource(lambda: sqlite_engine(None), prepare=create_at_head, serialize=True)

    @contextmanager
    def owner(self, settings: StorageSettings, *, create: bool) -> Iterator[OwnerTarget]:
        # What every open of this backend gets: a fresh database at head (schema reports).
        engine = sqlite_engine(None)
        create_at_head(engine)
        yield from owned(OwnerTarget(engine, ":memory:", None))


SQLITE = SqliteBackend()
MEMORY = MemoryBackend()
