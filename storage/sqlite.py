"""SQLite engines for the `sqlite` (one file, WAL) and `memory` (`:memory:`) backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from llmspell.storage.database import WRITE_OPTION

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
