"""`Database.driver_transaction`: statements compiled once (the state hot path) behave as the
same statements through SQLAlchemy on every backend: same stored text, same errors, rollback;
the DBAPI connections they keep between transactions are never shared and are closed with the
storage (or on engine.dispose)."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.kv import kv_entries, kv_history
from llmspell.storage.errors import ConstraintViolation

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def test_a_timestamp_bound_on_the_driver_is_stored_as_sqlalchemy_stores_it(
    storage: SqlStorage,
) -> None:
    db = storage.database("kv")
    columns = ("scope", "key", "version", "value", "updated_at")
    row = {"scope": "s", "key": "k", "version": 1, "value": "1", "updated_at": MOMENT}
    statement = db.statement(insert(kv_history).values(tenant_id=storage.tenant_id), columns)
    with db.driver_transaction(write=True) as run:
        run.execute(statement, row)
    with db.transaction(write=True) as conn:
        conn.execute(insert(kv_history).values(tenant_id=storage.tenant_id), {**row, "version": 2})
        stored = conn.exec_driver_sql(
            "SELECT updated_at FROM kv_history WHERE scope = 's' ORDER BY version"
        ).all()
        typed = conn.execute(
            select(kv_history.c.updated_at).where(kv_history.c.scope == "s")
        ).scalars()
        assert list(typed) == [MOMENT, MOMENT]
    assert stored[0] == stored[1]


def test_a_refused_driver_statement_is_a_constraint_violation_without_its_values(
    storage: SqlStorage,
) -> None:
    db = storage.database("kv")
    columns = ("scope", "key", "value", "version", "updated_at")
    statement = db.statement(insert(kv_entries).values(tenant_id=storage.tenant_id), columns)
    row = {"scope": "s", "key": "secret-key", "value": "1", "version": 1, "updated_at": MOMENT}
    with db.driver_transaction(write=True) as run:
        run.execute(statement, row)
    with pytest.raises(ConstraintViolation) as caught, db.driver_transaction(write=True) as run:
        run.execute(statement, row)
    assert "secret-key" not in str(caught.value)
    assert storage.kv.get("s", "secret-key") == 1


def test_an_error_inside_a_driver_transaction_rolls_back_its_writes(storage: SqlStorage) -> None:
    db = storage.database("kv")
    columns = ("scope", "key", "value", "version", "updated_at")
    statement = db.statement(insert(kv_entries).values(tenant_id=storage.tenant_id), columns)
    row = {"scope": "s", "key": "k", "value": "1", "version": 1, "updated_at": MOMENT}
    with pytest.raises(RuntimeError, match="stop"), db.driver_transaction(write=True) as run:
        run.execute(statement, row)
        raise RuntimeError("stop")
    assert storage.kv.get("s", "k") is None
    assert storage.kv.put("s", "k", 2) == 1


def test_driver_transactions_from_many_threads_keep_every_write(storage: SqlStorage) -> None:
    # Driver transactions reuse kept connections: two threads must never share one.
    def writer(thread: int) -> list[int]:
        return [storage.kv.put("threads", f"t{thread}", n) for n in range(40)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(writer, range(6)))
    assert versions == [list(range(1, 41))] * 6
    assert [storage.kv.get("threads", f"t{t}") for t in range(6)] == [39] * 6
    assert [v.value for v in storage.kv.history("threads", "t3", 3)] == [39, 38, 37]


def test_closing_a_sqlite_storage_closes_the_connections_driver_transactions_kept(
    tmp_path: Path,
) -> None:
    storage = open_storage(
        StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "kept.db")), "t"
    )
    storage.kv.put("s", "k", 1)
    kept = storage.database("kv").source.driver_connection()
    storage.database("kv").source.keep_driver_connection(kept)
    driver = kept.dbapi_connection
    storage.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        driver.execute("SELECT 1")  # type: ignore[union-attr]


def test_a_driver_transaction_after_engine_dispose_runs_on_a_new_connection(
    tmp_path: Path,
) -> None:
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "disposed.db"))
    with open_storage(settings, "t") as storage:
        storage.kv.put("s", "k", 1)
        source = storage.database("kv").source
        before = source.driver_connection()
        source.keep_driver_connection(before)
        storage.database("kv").engine.dispose()
        after = source.driver_connection()
        source.keep_driver_connection(after)
        assert after.dbapi_connection is not before.dbapi_connection
        assert storage.kv.put("s", "k", 2) == 2


def test_a_failed_driver_transaction_on_memory_lets_other_threads_use_the_database() -> None:
    # `memory` serializes its one connection: a failure must release it.
    with open_storage(StorageSettings(backend="memory"), "t") as storage:
        db = storage.database("kv")
        columns = ("scope", "key", "value", "version", "updated_at")
        statement = db.statement(insert(kv_entries).values(tenant_id=storage.tenant_id), columns)
        row = {"scope": "s", "key": "k", "value": "1", "version": 1, "updated_at": MOMENT}
        with db.driver_transaction(write=True) as run:
            run.execute(statement, row)
        with pytest.raises(ConstraintViolation), db.driver_transaction(write=True) as run:
            run.execute(statement, row)
        with pytest.raises(RuntimeError, match="stop"), db.driver_transaction() as run:
            raise RuntimeError("stop")
        versions: list[int] = []
        other = threading.Thread(
            target=lambda: versions.append(storage.kv.put("s", "other", 2)), daemon=True
        )
        other.start()
        other.join(timeout=60)  # generous: only a lock never released makes it wait
        assert versions == [1]
