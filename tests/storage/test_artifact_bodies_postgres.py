"""Artifact bodies on PostgreSQL: big ones too are chunk rows under forced row-level security,
written and read a chunk at a time, deleted with the last reference, and out of every other
tenant's reach by any SQL the app role can send — no body is ever a Large Object."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from artifact_sources import BreaksWhileWriting

from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.artifacts import ArtifactSettings, NewArtifact
from llmspell.storage.postgres.embedded import PgLogins

pytestmark = pytest.mark.postgres

S1 = "11111111-1111-4111-8111-111111111111"
S2 = "22222222-2222-4222-8222-222222222222"
CHUNK = 1024
SETTINGS = ArtifactSettings(max_bytes=1 << 20, chunk_bytes=CHUNK)


def new(name: str, session_id: str = S1) -> NewArtifact:
    return NewArtifact(session_id=session_id, name=name, type="tool_result")


@pytest.fixture
def open_pg(pg_settings: StorageSettings) -> Iterator[Callable[[str], SqlStorage]]:
    opened: list[SqlStorage] = []

    def _open(tenant_id: str) -> SqlStorage:
        storage = open_storage(pg_settings.with_component("artifacts", SETTINGS), tenant_id)
        opened.append(storage)
        return storage

    yield _open
    for storage in opened:
        storage.close()


@pytest.fixture
def pg(open_pg: Callable[[str], SqlStorage], unique_tenant: str) -> SqlStorage:
    return open_pg(unique_tenant)


@pytest.fixture
def app_conn(pg_urls: PgLogins) -> Iterator[psycopg.Connection[Any]]:
    """A raw connection as the app role, outside llmspell."""
    with psycopg.connect(pg_urls.app_url) as conn:
        yield conn


def as_tenant(conn: psycopg.Connection[Any], tenant: str, query: str, *params: Any) -> Any:
    """Rows of `query` run as `tenant` (set the way llmspell sets it), committed."""
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
    rows = conn.execute(query, params).fetchall()
    conn.commit()
    return rows


def chunk_rows(conn: psycopg.Connection[Any], tenant: str, content_hash: str) -> int:
    [(count,)] = as_tenant(
        conn, tenant, "SELECT count(*) FROM artifact_chunks WHERE content_hash = %s", content_hash
    )
    return int(count)


def app_large_objects(conn: psycopg.Connection[Any]) -> list[bytes]:
    """The contents of every large object the app role can read."""
    oids = [oid for (oid,) in conn.execute("SELECT oid FROM pg_largeobject_metadata")]
    readable = []
    for oid in oids:
        try:
            [(data,)] = conn.execute("SELECT lo_get(%s)", (oid,)).fetchall()
            readable.append(bytes(data))
        except psycopg.errors.InsufficientPrivilege:
            pass
        conn.rollback()
    return readable


def test_a_big_body_is_chunk_rows_of_its_tenant(
    pg: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    body = os.urandom(10 * CHUNK + 7)
    record = pg.artifacts.store(new("big"), body)
    assert chunk_rows(app_conn, pg.tenant_id, record.content_hash) == 11
    [(pieces,)] = as_tenant(
        app_conn,
        pg.tenant_id,
        "SELECT string_agg(data, ''::bytea ORDER BY chunk_index) FROM artifact_chunks "
        "WHERE content_hash = %s",
        record.content_hash,
    )
    assert bytes(pieces) == body
    assert pg.artifacts.read(S1, record.sequence) == body


def test_big_bodies_are_written_and_read_a_chunk_at_a_time(
    pg: SqlStorage, sql_recorder: Callable[[Any], Any]
) -> None:
    body = os.urandom(10 * CHUNK + 7)
    engine = pg.database("artifacts").engine
    with sql_recorder(engine) as seen:
        record = pg.artifacts.store(new("big"), body)
    inserts = [p for statement, p in seen if statement.startswith("INSERT INTO artifact_chunks")]
    assert [p["chunk_index"] for p in inserts] == list(range(11))
    # psycopg wraps the bytes (Binary); `obj` is what was passed.
    assert max(len(getattr(p["data"], "obj", p["data"])) for p in inserts) == CHUNK
    with sql_recorder(engine) as seen:
        assert pg.artifacts.read(S1, record.sequence) == body
    selects = [p for statement, p in seen if "FROM artifact_chunks" in statement]
    assert [p["chunk_index"] for p in selects] == list(range(11)), "one row per statement"


def test_the_last_reference_deletes_the_chunk_rows(
    pg: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    body = os.urandom(5 * CHUNK)
    first = pg.artifacts.store(new("a"), body)
    second = pg.artifacts.store(new("b", session_id=S2), body)
    assert chunk_rows(app_conn, pg.tenant_id, first.content_hash) == 5, "identical bytes, once"
    pg.artifacts.delete(S1, first.sequence)
    assert chunk_rows(app_conn, pg.tenant_id, first.content_hash) == 5
    assert pg.artifacts.delete_session(S2) == 1
    assert chunk_rows(app_conn, pg.tenant_id, first.content_hash) == 0
    assert pg.artifacts.read(S2, second.sequence) is None


def test_a_failed_store_leaves_no_chunk_rows(
    pg: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    with pytest.raises(OSError, match="broke half-way"):
        pg.artifacts.store(new("broken"), BreaksWhileWriting(os.urandom(8 * CHUNK)))
    assert as_tenant(app_conn, pg.tenant_id, "SELECT count(*) FROM artifact_chunks") == [(0,)]
    assert pg.artifacts.list(S1) == []


def test_storing_big_bodies_creates_no_large_object(
    pg: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    before = app_conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    body = os.urandom(64 * CHUNK)
    record = pg.artifacts.store(new("big"), body)
    assert pg.artifacts.read(S1, record.sequence) == body
    after = app_conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    assert after == before
    assert not any(body[:CHUNK] in data for data in app_large_objects(app_conn))


@pytest.fixture
def secret_of_a(open_pg: Callable[[str], SqlStorage], unique_tenant: str) -> tuple[str, bytes]:
    """Tenant A (its id) holding a big body; returns (tenant id, body)."""
    a = open_pg(f"{unique_tenant}-a")
    body = b"A's secret " + os.urandom(20 * CHUNK)
    a.artifacts.store(new("secret"), body)
    return a.tenant_id, body


def test_tenant_b_cannot_see_or_read_tenant_a_chunks_with_any_select(
    secret_of_a: tuple[str, bytes], app_conn: psycopg.Connection[Any], unique_tenant: str
) -> None:
    a, body = secret_of_a
    b = f"{unique_tenant}-b"
    for query, params in [
        ("SELECT count(*) FROM artifact_chunks", ()),
        ("SELECT count(*) FROM artifact_chunks WHERE tenant_id = %s", (a,)),
        ("SELECT count(*) FROM artifact_chunks WHERE position('A''s secret' in data) > 0", ()),
        ("SELECT count(*) FROM artifact_content WHERE tenant_id = %s", (a,)),
    ]:
        assert as_tenant(app_conn, b, query, *params) == [(0,)], query
    # Without a tenant, nothing either.
    assert app_conn.execute("SELECT count(*) FROM artifact_chunks").fetchone() == (0,)
    app_conn.rollback()
    assert not any(body[:CHUNK] in data for data in app_large_objects(app_conn))


def test_tenant_b_cannot_change_delete_or_plant_tenant_a_chunks(
    secret_of_a: tuple[str, bytes],
    app_conn: psycopg.Connection[Any],
    open_pg: Callable[[str], SqlStorage],
    unique_tenant: str,
) -> None:
    a, body = secret_of_a
    b = f"{unique_tenant}-b"
    app_conn.execute("SELECT set_config('app.tenant_id', %s, true)", (b,))
    updated = app_conn.execute(
        "UPDATE artifact_chunks SET data = 'x' WHERE tenant_id = %s", (a,)
    ).rowcount
    deleted = app_conn.execute("DELETE FROM artifact_chunks WHERE tenant_id = %s", (a,)).rowcount
    app_conn.commit()
    assert (updated, deleted) == (0, 0)
    app_conn.execute("SELECT set_config('app.tenant_id', %s, true)", (b,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        app_conn.execute("INSERT INTO artifact_chunks VALUES (%s, 'planted', 0, 'x'::bytea)", (a,))
    app_conn.rollback()
    tenant_a = open_pg(a)
    assert tenant_a.artifacts.read(S1, 1) == body
    assert tenant_a.artifacts.check_integrity() == []
