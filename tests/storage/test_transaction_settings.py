"""`Database.transaction(settings=...)`: PostgreSQL run-time settings local to one transaction,
set with the tenant in one statement (the graph walk reads its timestamps in UTC); refused
where there are none (SQLite, memory) and refused for the tenant setting itself."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import Connection, func, select

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.graph.walk import PostgresWalk
from llmspell.storage.tenancy import TENANT_SETTING

CUSTOM = {"plan_cache_mode": "force_custom_plan"}


def _setting(conn: Connection, name: str) -> str:
    return str(conn.execute(select(func.current_setting(name))).scalar_one())


def test_settings_hold_in_their_transaction_only_and_keep_its_tenant(
    pg_settings: StorageSettings, unique_tenant: str
) -> None:
    with open_storage(pg_settings, unique_tenant) as storage:
        db = storage.database("graph")
        with db.transaction(settings=CUSTOM) as conn:
            assert _setting(conn, "plan_cache_mode") == "force_custom_plan"
            assert _setting(conn, TENANT_SETTING) == unique_tenant
        # The next transaction (on the pool's one idle connection): the setting was local.
        with db.transaction() as conn:
            assert _setting(conn, "plan_cache_mode") == "auto"
            assert _setting(conn, TENANT_SETTING) == unique_tenant


def test_the_postgres_walk_reads_timestamps_in_utc(
    pg_settings: StorageSettings, unique_tenant: str
) -> None:
    """The driver hands timestamps over in the session's time zone: in UTC, a fixed offset,
    not a zoneinfo zone (half the cost of fetching a walk's rows)."""
    with open_storage(pg_settings, unique_tenant) as storage:
        walk = storage.graph._walk  # type: ignore[attr-defined]  # the walk's settings are the point
        assert isinstance(walk, PostgresWalk)
        with storage.database("graph").transaction(settings=walk.settings) as conn:
            assert _setting(conn, "TimeZone") == "UTC"
            assert conn.exec_driver_sql("SELECT now()").scalar_one().tzinfo is UTC


def test_settings_may_not_replace_the_tenant(
    pg_settings: StorageSettings, unique_tenant: str
) -> None:
    with open_storage(pg_settings, unique_tenant) as storage:
        db = storage.database("graph")
        with (
            pytest.raises(ValueError, match=r"Database\.transaction.*'app\.tenant_id'") as caught,
            db.transaction(settings={TENANT_SETTING: "someone-else"}),
        ):
            pass
        assert unique_tenant in str(caught.value)


@pytest.mark.parametrize("storage_backend", ["sqlite", "memory"])
def test_a_backend_without_run_time_settings_refuses_them(storage: SqlStorage) -> None:
    db = storage.database("graph")
    with (
        pytest.raises(ValueError, match=r"Database\.transaction.*plan_cache_mode.*has none"),
        db.transaction(settings=CUSTOM),
    ):
        pass
    with db.transaction(settings={}) as conn:  # no settings: nothing to refuse
        assert conn.execute(select(1)).scalar_one() == 1
