"""`Database.driver_transaction`: statements compiled once (the state hot path) behave as the
same statements through SQLAlchemy on every backend: same stored text, same errors, rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from llmspell.storage import SqlStorage
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
