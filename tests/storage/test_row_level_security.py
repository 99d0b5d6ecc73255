"""PostgreSQL row-level security: forced on every table, an app role that cannot escape it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from llmspell.storage import SqlStorage, StorageError, StorageSettings, open_storage
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import database_of, role_of, with_login
from llmspell.storage.registry import tables as schema_tables

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_conn(pg_urls: PgLogins) -> Iterator[psycopg.Connection[Any]]:
    """A raw connection as the app role, outside llmspell (no tenant set)."""
    with psycopg.connect(pg_urls.app_url) as conn:
        yield conn


@pytest.fixture
def tenant_a(pg_settings: StorageSettings, unique_tenant: str) -> Iterator[SqlStorage]:
    storage = open_storage(pg_settings, unique_tenant)
    storage.kv.put("g", "secret", "a's")
    yield storage
    storage.close()


def test_rls_is_enabled_and_forced_on_every_table_of_the_schema(pg_urls: PgLogins) -> None:
    tables = sorted(table.name for table in schema_tables())
    with psycopg.connect(pg_urls.owner_url) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(%s)",
            (tables,),
        ).fetchall()
    assert sorted(name for name, _, _ in rows) == tables, "every schema table exists"
    assert [name for name, enabled, forced in rows if not (enabled and forced)] == []


def test_every_table_has_the_tenant_policy_for_reads_and_writes(pg_urls: PgLogins) -> None:
    with psycopg.connect(pg_urls.owner_url) as conn:
        rows = conn.execute(
            "SELECT tablename, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = current_schema() AND policyname = 'tenant_isolation'"
        ).fetchall()
    policies = {name: (cmd, qual, check) for name, cmd, qual, check in rows}
    assert sorted(policies) == sorted(table.name for table in schema_tables())
    for cmd, qual, check in policies.values():
        assert cmd == "ALL"
        for predicate in (qual, check):
            assert "current_setting('app.tenant_id'::text, true)" in predicate
            assert "tenant_id =" in predicate


def test_the_app_role_is_not_owner_superuser_or_bypassrls(pg_urls: PgLogins) -> None:
    app = role_of(pg_urls.app_url)
    with psycopg.connect(pg_urls.owner_url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = %s",
            (app,),
        ).fetchone()
        owned = conn.execute(
            "SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles "
            "WHERE rolname = %s)",
            (app,),
        ).fetchall()
    assert row == (False, False, False, False)
    assert owned == []


def test_the_app_role_cannot_change_the_schema_or_the_revision(
    app_conn: psycopg.Connection[Any],
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("ALTER TABLE kv_entries DISABLE ROW LEVEL SECURITY")
    app_conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("UPDATE alembic_version SET version_num = 'x'")
    app_conn.rollback()
    assert app_conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None


def test_an_unset_tenant_sees_nothing(
    tenant_a: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    assert app_conn.execute("SELECT count(*) FROM kv_entries").fetchone() == (0,)
    assert app_conn.execute("SELECT count(*) FROM kv_history").fetchone() == (0,)


def test_an_unset_tenant_cannot_write(app_conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        app_conn.execute(
            "INSERT INTO kv_entries VALUES ('x', 'g', 'k', '1', 1, now())",
        )


def test_a_tenant_cannot_write_rows_of_another_tenant(
    tenant_a: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    app_conn.execute("SELECT set_config('app.tenant_id', 'intruder', true)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        app_conn.execute(
            "INSERT INTO kv_entries VALUES (%s, 'g', 'planted', '1', 1, now())",
            (tenant_a.tenant_id,),
        )
    app_conn.rollback()
    app_conn.execute("SELECT set_config('app.tenant_id', 'intruder', true)")
    updated = app_conn.execute(
        "UPDATE kv_entries SET value = '\"stolen\"' WHERE tenant_id = %s", (tenant_a.tenant_id,)
    ).rowcount
    deleted = app_conn.execute(
        "DELETE FROM kv_entries WHERE tenant_id = %s", (tenant_a.tenant_id,)
    ).rowcount
    app_conn.commit()
    assert (updated, deleted) == (0, 0)
    assert tenant_a.kv.get("g", "secret") == "a's"


def test_the_tenant_setting_ends_with_each_transaction(tenant_a: SqlStorage) -> None:
    with tenant_a.database("kv").engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("SELECT set_config('app.tenant_id', 'leaky', true)")
        with conn.begin():
            setting = conn.exec_driver_sql("SELECT current_setting('app.tenant_id', true)").scalar()
    assert setting in (None, "")


def test_pooled_connections_do_not_carry_a_tenant_to_raw_use(tenant_a: SqlStorage) -> None:
    tenant_a.kv.get("g", "secret")
    with tenant_a.database("kv").engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM kv_entries").scalar()
    assert count == 0


@pytest.mark.parametrize("login", ["superuser_url", "owner_url"])
def test_opening_storage_as_a_role_that_escapes_rls_is_refused(
    pg_urls: PgLogins, pg_settings: StorageSettings, login: str
) -> None:
    url = with_login(getattr(pg_urls, login), dbname=database_of(pg_urls.app_url))
    settings = pg_settings.with_changes(pg_url=url)
    storage = open_storage(settings, "t")
    try:
        with pytest.raises(StorageError, match="row-level security would not isolate tenants"):
            storage.kv.get("g", "k")
    finally:
        storage.close()


def test_every_storage_transaction_sets_the_tenant_first(
    tenant_a: SqlStorage, sql_recorder: Callable[[Any], Any]
) -> None:
    with sql_recorder(tenant_a.database("kv").engine) as statements:
        tenant_a.kv.put("g", "k", 1)
        tenant_a.kv.get("g", "k")
    starts = [i for i, (sql, _) in enumerate(statements) if "set_config" in sql]
    assert len(starts) == 2 and starts[0] == 0
    assert all(tenant_a.tenant_id in str(statements[i][1]) for i in starts)
