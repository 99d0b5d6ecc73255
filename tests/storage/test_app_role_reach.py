"""What the app role can reach in PostgreSQL: one test for each statement of the security
model's section of that name (docs/user-guide/09-security-model.md), asked of the catalogs as
the app role itself wherever the answer depends on who asks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from llmspell.storage import StorageSettings, open_storage
from llmspell.storage.components.artifacts import NewArtifact
from llmspell.storage.components.events import EVENT_LOG_PARTITIONS
from llmspell.storage.components.vectors.tables import ANALYZE_FUNCTION
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.rls import POLICY_NAME
from llmspell.storage.postgres.urls import database_of, with_login
from llmspell.storage.registry import tables as schema_tables

pytestmark = pytest.mark.postgres

DML = {"SELECT", "INSERT", "UPDATE", "DELETE"}
PARTITION_FUNCTIONS = {
    f"{EVENT_LOG_PARTITIONS.ensure_function}(timestamp with time zone,integer)",
    f"{EVENT_LOG_PARTITIONS.drop_function}(timestamp with time zone)",
}
# ANALYZE of one vectors table after a fold of deferred HNSW indexing (revision 0017).
OWNER_FUNCTIONS = PARTITION_FUNCTIONS | {f"{ANALYZE_FUNCTION}(integer)"}


@pytest.fixture
def app(pg_urls: PgLogins) -> Iterator[psycopg.Connection[Any]]:
    """A raw connection as the app role (no tenant set), autocommit: one question each."""
    with psycopg.connect(pg_urls.app_url, autocommit=True) as conn:
        yield conn


def rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def schema_relations(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Name → relkind of every relation in the schema except indexes and TOAST tables."""
    found = rows(
        conn,
        "SELECT relname, relkind::text FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relkind NOT IN ('i', 'I', 't')",
    )
    return {str(name): str(kind) for name, kind in found}


def table_privileges(conn: psycopg.Connection[Any], table: str) -> set[str]:
    kinds = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
    version = rows(conn, "SELECT current_setting('server_version_num')::int")[0][0]
    if version >= 170000:
        kinds.append("MAINTAIN")  # VACUUM, ANALYZE, LOCK TABLE...: PostgreSQL 17 and later
    return {
        kind
        for kind in kinds
        if rows(conn, "SELECT has_table_privilege(%s::regclass, %s)", table, kind)[0][0]
    }


# --- the role itself ----------------------------------------------------------------------------


def test_the_app_role_is_a_plain_login_in_no_role_that_owns_nothing(
    app: psycopg.Connection[Any],
) -> None:
    assert rows(
        app,
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, "
        "rolreplication FROM pg_roles WHERE rolname = current_user",
    ) == [(True, False, False, False, False, False)]
    member_of = rows(
        app,
        "SELECT roleid::regrole::text FROM pg_auth_members WHERE member = current_user::regrole",
    )
    assert member_of == [], "not the owner's member, nor pg_read_all_data and the like"
    owned = rows(
        app,
        "SELECT 'relation', relname::text FROM pg_class WHERE relowner = current_user::regrole "
        "UNION ALL SELECT 'function', proname::text FROM pg_proc "
        "WHERE proowner = current_user::regrole "
        "UNION ALL SELECT 'schema', nspname::text FROM pg_namespace "
        "WHERE nspowner = current_user::regrole AND nspname NOT LIKE 'pg\\_temp\\_%%' "
        "AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%' "
        "UNION ALL SELECT 'large object', oid::text FROM pg_largeobject_metadata "
        "WHERE lomowner = current_user::regrole",
    )
    assert owned == []


# --- the database and the schema ----------------------------------------------------------------


def test_the_app_role_connects_and_uses_the_schema_but_creates_nothing_in_either(
    app: psycopg.Connection[Any],
) -> None:
    assert rows(
        app,
        "SELECT has_database_privilege(current_database(), 'CONNECT'), "
        "has_database_privilege(current_database(), 'TEMP'), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "has_schema_privilege(current_schema(), 'USAGE'), "
        "has_schema_privilege(current_schema(), 'CREATE')",
    ) == [(True, True, False, True, False)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("CREATE TABLE planted (x int)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("CREATE FUNCTION planted() RETURNS int LANGUAGE sql AS 'SELECT 1'")


# --- tables -------------------------------------------------------------------------------------


def test_the_app_role_has_dml_without_truncate_on_exactly_the_llmspell_tables(
    app: psycopg.Connection[Any],
) -> None:
    llmspell_tables = {table.name for table in schema_tables()}
    relations = schema_relations(app)
    partitions = {
        str(name)
        for (name,) in rows(
            app,
            "SELECT relname FROM pg_class WHERE relispartition AND relkind = 'r' "
            "AND relnamespace = current_schema()::regnamespace",
        )
    }
    assert set(relations) == llmspell_tables | {"alembic_version"} | partitions
    assert set(relations.values()) <= {"r", "p"}, "no views, sequences or foreign tables"
    reach = {name: table_privileges(app, name) for name in relations}
    assert {name for name, granted in reach.items() if granted == DML} == llmspell_tables
    assert reach["alembic_version"] == {"SELECT"}
    assert partitions and all(reach[name] == set() for name in partitions)


def test_every_llmspell_table_forces_rls_with_the_tenant_policy_alone(
    app: psycopg.Connection[Any],
) -> None:
    llmspell_tables = sorted(table.name for table in schema_tables())
    found = rows(
        app,
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(%s) "
        "ORDER BY relname",
        llmspell_tables,
    )
    assert found == [(name, True, True) for name in llmspell_tables]
    policies = rows(
        app,
        "SELECT c.relname, p.polname, p.polcmd::text, p.polpermissive, "
        "p.polroles = '{0}'::oid[], pg_get_expr(p.polqual, p.polrelid), "
        "pg_get_expr(p.polwithcheck, p.polrelid) FROM pg_policy p "
        "JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace ORDER BY c.relname",
    )
    predicate = "(tenant_id = current_setting('app.tenant_id'::text, true))"
    assert policies == [
        (name, POLICY_NAME, "*", True, True, predicate, predicate) for name in llmspell_tables
    ], "one policy per table, for every command and every role, no other policy anywhere"


def test_turning_row_security_off_fails_instead_of_showing_more(
    app: psycopg.Connection[Any],
) -> None:
    app.execute("SET row_security = off")
    for table in sorted(table.name for table in schema_tables()):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            app.execute(f"SELECT 1 FROM {table} LIMIT 1")  # names from the registry


def test_every_key_unique_index_and_foreign_key_starts_with_tenant_id(
    app: psycopg.Connection[Any],
) -> None:
    unique = rows(
        app,
        "SELECT i.indexrelid::regclass::text, a.attname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid "
        "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indisunique AND c.relnamespace = current_schema()::regnamespace "
        "AND c.relname <> 'alembic_version'",
    )
    assert len(unique) >= len(schema_tables())
    assert [index for index, column in unique if column != "tenant_id"] == []
    foreign = rows(
        app,
        "SELECT f.conname, a.attname, r.attname FROM pg_constraint f "
        "JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = f.conkey[1] "
        "JOIN pg_attribute r ON r.attrelid = f.confrelid AND r.attnum = f.confkey[1] "
        "WHERE f.contype = 'f' AND f.connamespace = current_schema()::regnamespace",
    )
    assert foreign, "the schema has foreign keys (artifacts -> artifact_content, ...)"
    assert [name for name, mine, theirs in foreign if (mine, theirs) != ("tenant_id",) * 2] == []


# --- sequences and functions --------------------------------------------------------------------


def test_the_schema_has_no_sequence_every_counter_is_a_row_under_rls(
    app: psycopg.Connection[Any],
) -> None:
    assert rows(
        app,
        "SELECT count(*) FROM pg_class WHERE relkind = 'S' "
        "AND relnamespace = current_schema()::regnamespace",
    ) == [(0,)]
    counters = {"event_sequences", "artifact_sequences"}
    assert counters <= {table.name for table in schema_tables()}


def test_beyond_what_every_role_may_run_the_app_role_runs_three_functions_of_the_owner(
    app: psycopg.Connection[Any],
) -> None:
    extra = rows(
        app,
        "SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig FROM pg_proc p "
        "WHERE has_function_privilege(p.oid, 'EXECUTE') "
        "AND NOT has_function_privilege('public', p.oid, 'EXECUTE')",
    )
    assert {name for name, _, _ in extra} == OWNER_FUNCTIONS
    schema = rows(app, "SELECT current_schema()")[0][0]
    for name, security_definer, config in extra:
        assert security_definer, name
        assert config == [f"search_path={schema}, pg_temp"], f"{name} pins its search_path"
    definers = rows(
        app,
        "SELECT p.oid::regprocedure::text FROM pg_proc p "
        "WHERE p.prosecdef AND has_function_privilege(p.oid, 'EXECUTE')",
    )
    assert {name for (name,) in definers} == OWNER_FUNCTIONS, "no other SECURITY DEFINER"


def test_the_vectors_analyze_function_takes_only_a_supported_dimension(
    app: psycopg.Connection[Any],
) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="dimension must be one of"):
        app.execute(f"SELECT {ANALYZE_FUNCTION}(257)")


def test_the_partition_functions_refuse_the_app_role_far_from_now(
    app: psycopg.Connection[Any],
) -> None:
    # The window itself: test_event_partitions.py.
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match=r"may create event_log partitions only from"
    ):
        app.execute(
            f"SELECT {EVENT_LOG_PARTITIONS.ensure_function}(now() + interval '30 years', 120)"
        )


# --- large objects ------------------------------------------------------------------------------


def test_no_large_object_holds_artifact_data_and_no_table_keeps_an_oid(
    app: psycopg.Connection[Any], pg_settings: StorageSettings, unique_tenant: str
) -> None:
    body = os.urandom(3 * 1024 * 1024)  # three chunks of the default 1 MiB
    with open_storage(pg_settings, unique_tenant) as storage:
        record = storage.artifacts.store(NewArtifact("s", "big.bin", "tool_result"), body)
        assert storage.artifacts.read("s", record.sequence) == body
    assert rows(
        app,
        "SELECT count(*) FROM pg_largeobject_metadata WHERE lomowner = current_user::regrole",
    ) == [(0,)]
    assert rows(app, "SELECT has_table_privilege('pg_largeobject', 'SELECT')") == [(False,)]
    oid_columns = rows(
        app,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() "
        "AND (data_type IN ('oid', 'lo') OR column_name = 'large_object')",
    )
    assert oid_columns == []


# --- system catalogs ----------------------------------------------------------------------------


def test_column_statistics_of_tables_under_rls_stay_hidden(
    app: psycopg.Connection[Any], pg_urls: PgLogins, pg_settings: StorageSettings
) -> None:
    with open_storage(pg_settings, "stats-tenant") as storage:
        storage.kv.put("g", "most-common-secret", "value-in-the-histogram")
    with psycopg.connect(pg_urls.owner_url, autocommit=True) as owner:
        owner.execute("ANALYZE kv_entries")
    superuser = with_login(pg_urls.superuser_url, dbname=database_of(pg_urls.app_url))
    with psycopg.connect(superuser) as conn:
        gathered = rows(conn, "SELECT count(*) FROM pg_stats WHERE tablename = 'kv_entries'")
    assert gathered[0][0] > 0, "the statistics exist"
    assert rows(app, "SELECT count(*) FROM pg_stats WHERE tablename = 'kv_entries'") == [(0,)]
    assert rows(app, "SELECT count(*) FROM pg_stats_ext WHERE tablename = 'kv_entries'") == [(0,)]
    assert rows(app, "SELECT has_table_privilege('pg_statistic', 'SELECT')") == [(False,)]


def test_another_sessions_statements_show_parameters_not_values_or_tenants(
    pg_urls: PgLogins, pg_settings: StorageSettings, unique_tenant: str
) -> None:
    marker = f"secret-{os.urandom(4).hex()}"
    seen: list[str] = []
    with open_storage(pg_settings, unique_tenant) as storage:
        engine = storage.database("kv").engine

        def look(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if marker not in repr(params):
                return
            # The statement carrying the value has run; its transaction is still open.
            with psycopg.connect(pg_urls.app_url, autocommit=True) as other:
                seen.extend(
                    str(query)
                    for (query,) in rows(
                        other,
                        "SELECT query FROM pg_stat_activity "
                        "WHERE usename = current_user AND pid <> pg_backend_pid()",
                    )
                )

        event.listen(engine, "after_cursor_execute", look)
        try:
            storage.kv.put("g", marker, marker)
        finally:
            event.remove(engine, "after_cursor_execute", look)
    assert any("kv_entries" in query for query in seen), f"looked too late: {seen}"
    assert [query for query in seen if marker in query or unique_tenant in query] == []


def test_the_app_role_sees_table_sizes_but_no_rows_without_its_tenant(
    app: psycopg.Connection[Any], pg_settings: StorageSettings, unique_tenant: str
) -> None:
    with open_storage(pg_settings, unique_tenant) as storage:
        storage.kv.put("g", "k", "v")
    [(size, visible)] = rows(
        app, "SELECT pg_total_relation_size('kv_entries'), (SELECT count(*) FROM kv_entries)"
    )
    assert size > 0 and visible == 0
