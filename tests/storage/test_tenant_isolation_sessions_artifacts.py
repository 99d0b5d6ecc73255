"""Tenant B never reads, lists, counts, queries, updates or deletes tenant A's sessions and
artifacts — on SQLite through the statements' tenant filter, on PostgreSQL through forced
row-level security as the app role — and identical bytes are never shared across tenants."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.artifacts import ArtifactQuery, NewArtifact
from llmspell.storage.components.artifacts.tables import artifact_content
from llmspell.storage.components.sessions import SessionQuery, SessionRecord

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("artifacts", "sessions")

SESSION = "44444444-4444-4444-8444-444444444444"
SECRET = b"tenant a's secret bytes \x00\xff"


@pytest.fixture
def two_tenants(tenant_pair: tuple[SqlStorage, SqlStorage]) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database (SQLite, PostgreSQL); A holds a tagged session with
    one artifact."""
    a, b = tenant_pair
    now = datetime.now(UTC)
    a.sessions.create(
        SessionRecord(SESSION, "secret", "a's", ("t",), "active", None, {"a": 1}, now, now)
    )
    a.artifacts.store(new("report.txt", tags=("t",)), SECRET)
    return a, b


def new(name: str, **fields: Any) -> NewArtifact:
    return NewArtifact(session_id=SESSION, name=name, type="tool_result", **fields)


def content_rows(storage: SqlStorage) -> int:
    """Content rows the tenant sees: on PostgreSQL with no filter at all (RLS alone)."""
    db = storage.database("artifacts")
    stmt = select(func.count()).select_from(artifact_content)
    if db.dialect_name == "sqlite":
        stmt = stmt.where(artifact_content.c.tenant_id == storage.tenant_id)
    with db.transaction() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_tenant_b_cannot_read_or_list_tenant_a_sessions(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.sessions.get(SESSION) is None
    assert b.sessions.list(SessionQuery()) == []
    assert b.sessions.list(SessionQuery(tags=("t",), name="sec*", status="active")) == []


def test_tenant_b_cannot_update_or_delete_tenant_a_sessions(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    original = a.sessions.get(SESSION)
    assert original is not None
    assert b.sessions.update(replace(original, name="stolen", status="archived"), "active") is False
    assert b.sessions.delete(SESSION) is False
    assert a.sessions.get(SESSION) == original


def test_the_same_session_id_in_tenant_b_is_a_different_session(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    now = datetime.now(UTC)
    b.sessions.create(SessionRecord(SESSION, "b's", None, (), "active", None, {}, now, now))
    b.sessions.delete(SESSION)
    own = a.sessions.get(SESSION)
    assert own is not None and own.name == "secret"


def test_tenant_b_cannot_read_list_count_or_query_tenant_a_artifacts(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.artifacts.get(SESSION, 1) is None
    assert b.artifacts.read(SESSION, 1) is None
    assert b.artifacts.get_version(SESSION, "report.txt") is None
    assert b.artifacts.list(SESSION) == []
    assert b.artifacts.count_by_session([SESSION]) == {SESSION: 0}
    assert b.artifacts.query(ArtifactQuery()) == []
    assert b.artifacts.query(ArtifactQuery(session_id=SESSION, tags=("t",), name="*")) == []
    assert b.artifacts.check_integrity() == []
    assert content_rows(b) == 0


def test_tenant_b_cannot_delete_tenant_a_artifacts(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    assert b.artifacts.delete(SESSION, 1) is False
    assert b.artifacts.delete_session(SESSION) == 0
    assert a.artifacts.read(SESSION, 1) == SECRET
    assert a.artifacts.check_integrity() == []


def test_identical_bytes_in_two_tenants_are_two_contents_with_their_own_counts(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    in_b = b.artifacts.store(new("copy.txt"), SECRET)
    assert in_b.sequence == 1, "b's sequences are its own"
    assert (content_rows(a), content_rows(b)) == (1, 1)
    assert a.artifacts.check_integrity() == [] and b.artifacts.check_integrity() == []
    assert b.artifacts.delete(SESSION, in_b.sequence) is True
    assert content_rows(b) == 0
    assert a.artifacts.read(SESSION, 1) == SECRET, "b's last reference is not a's"
    again = a.artifacts.store(new("again.txt"), SECRET)
    assert again.sequence == 2 and content_rows(a) == 1


def test_a_tenant_storing_bytes_another_holds_runs_exactly_what_new_bytes_run(
    two_tenants: tuple[SqlStorage, SqlStorage], sql_recorder: Callable[[Any], Any]
) -> None:
    """Nothing B can observe (statements, answers, errors) depends on A holding the bytes."""
    _, b = two_tenants
    engine = b.database("artifacts").engine
    with sql_recorder(engine) as known:
        b.artifacts.store(new("known.txt"), SECRET)
    with sql_recorder(engine) as fresh:
        b.artifacts.store(new("fresh.txt"), os.urandom(len(SECRET)))
    assert [statement for statement, _ in known] == [statement for statement, _ in fresh]
    assert any("artifact_chunks" in statement for statement, _ in known), "B wrote the body"


def test_deleting_tenant_a_session_data_leaves_tenant_b_alone(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    b.artifacts.store(new("b.txt"), b"b's own")
    assert a.artifacts.delete_session(SESSION) == 1
    assert b.artifacts.read(SESSION, 1) == b"b's own"
    assert b.artifacts.list(SESSION)[0].name == "b.txt"


NEW_TABLES = [
    "sessions",
    "session_tags",
    "artifact_content",
    "artifact_chunks",
    "artifacts",
    "artifact_tags",
    "artifact_sequences",
]


@pytest.mark.postgres
@pytest.mark.parametrize("table", NEW_TABLES)
def test_as_the_app_role_without_a_tenant_every_new_table_is_empty(
    pg_urls: Any, pg_settings: StorageSettings, unique_tenant: str, table: str
) -> None:
    import psycopg

    with open_storage(pg_settings, unique_tenant) as a:
        now = datetime.now(UTC)
        a.sessions.create(SessionRecord(SESSION, "s", None, ("t",), "active", None, {}, now, now))
        a.artifacts.store(new("x", tags=("t",)), SECRET)
        with psycopg.connect(pg_urls.app_url) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # no user values
            assert row == (0,)
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (f"{unique_tenant}-x",))
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
            changed = conn.execute(f"DELETE FROM {table} WHERE tenant_id = %s", (unique_tenant,))
            assert changed.rowcount == 0
            conn.commit()
        assert a.artifacts.read(SESSION, 1) == SECRET
        assert a.artifacts.check_integrity() == []
