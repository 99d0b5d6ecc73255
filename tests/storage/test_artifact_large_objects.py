"""PostgreSQL Large Objects for big artifact bodies: written and read in chunks, unlinked with
the last reference (no orphans after deletes, session deletes or a failed store), checked for
corruption and orphans, and never shared or exposed across tenants."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from artifact_sources import BreaksWhileWriting

from llmspell.storage import SqlStorage, StorageSettings, admin, open_storage
from llmspell.storage.components.artifacts import (
    ArtifactRecord,
    ArtifactSettings,
    NewArtifact,
)
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import role_of

pytestmark = pytest.mark.postgres

S1 = "11111111-1111-4111-8111-111111111111"
S2 = "22222222-2222-4222-8222-222222222222"
CHUNK = 1024
SETTINGS = ArtifactSettings(max_bytes=1 << 20, chunk_bytes=CHUNK, large_object_bytes=4 * CHUNK)


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
    with psycopg.connect(pg_urls.app_url) as conn:
        yield conn


def large_object_count(conn: psycopg.Connection[Any], pg_urls: PgLogins) -> int:
    """Large objects the app role owns (every tenant's), committed or not in `conn`."""
    row = conn.execute(
        "SELECT count(*) FROM pg_largeobject_metadata "
        "WHERE lomowner = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (role_of(pg_urls.app_url),),
    ).fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def content_row(
    conn: psycopg.Connection[Any], tenant: str, content_hash: str
) -> tuple[int | None, int] | None:
    """(large_object, ref_count) of a content row, read as the tenant."""
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
    row = conn.execute(
        "SELECT large_object, ref_count FROM artifact_content WHERE content_hash = %s",
        (content_hash,),
    ).fetchone()
    chunks = conn.execute(
        "SELECT count(*) FROM artifact_chunks WHERE content_hash = %s", (content_hash,)
    ).fetchone()
    conn.commit()
    assert chunks is not None
    if row is None:
        assert chunks[0] == 0, "chunk rows without their content row"
        return None
    return row[0], int(row[1])


def test_a_big_body_goes_to_a_large_object_and_a_small_one_to_chunk_rows(
    pg: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    big = os.urandom(4 * CHUNK)
    small = os.urandom(4 * CHUNK - 1)
    big_record = pg.artifacts.store(new("big"), big)
    small_record = pg.artifacts.store(new("small"), small)
    big_row = content_row(app_conn, pg.tenant_id, big_record.content_hash)
    small_row = content_row(app_conn, pg.tenant_id, small_record.content_hash)
    assert big_row is not None and big_row[0] is not None
    assert small_row == (None, 1)
    assert pg.artifacts.read(S1, big_record.sequence) == big
    assert pg.artifacts.read(S1, small_record.sequence) == small


def test_large_objects_are_written_and_read_a_chunk_at_a_time(
    pg: SqlStorage, sql_recorder: Callable[[Any], Any]
) -> None:
    body = os.urandom(10 * CHUNK + 7)
    engine = pg.database("artifacts").engine
    with sql_recorder(engine) as seen:
        record = pg.artifacts.store(new("big"), body)
    puts = [params for statement, params in seen if "lo_put" in statement]
    assert len(puts) == 11
    assert max(len(getattr(p["data"], "obj", p["data"])) for p in puts) == CHUNK
    with sql_recorder(engine) as seen:
        assert pg.artifacts.read(S1, record.sequence) == body
    gets = [params for statement, params in seen if "lo_get" in statement]
    assert [(p["offset"], p["length"]) for p in gets] == [(i * CHUNK, CHUNK) for i in range(10)] + [
        (10 * CHUNK, 7)
    ]


def test_the_last_reference_unlinks_the_large_object(
    pg: SqlStorage, app_conn: psycopg.Connection[Any], pg_urls: PgLogins
) -> None:
    before = large_object_count(app_conn, pg_urls)
    body = os.urandom(5 * CHUNK)
    first = pg.artifacts.store(new("a"), body)
    second = pg.artifacts.store(new("b"), body)
    assert large_object_count(app_conn, pg_urls) == before + 1, "identical bytes, one object"
    pg.artifacts.delete(S1, first.sequence)
    assert large_object_count(app_conn, pg_urls) == before + 1
    assert pg.artifacts.read(S1, second.sequence) == body
    pg.artifacts.delete(S1, second.sequence)
    assert large_object_count(app_conn, pg_urls) == before
    assert content_row(app_conn, pg.tenant_id, first.content_hash) is None


def test_deleting_a_session_unlinks_its_large_objects(
    pg: SqlStorage, app_conn: psycopg.Connection[Any], pg_urls: PgLogins
) -> None:
    before = large_object_count(app_conn, pg_urls)
    shared = os.urandom(6 * CHUNK)
    pg.artifacts.store(new("a"), shared)
    pg.artifacts.store(new("b"), os.urandom(6 * CHUNK))
    kept = pg.artifacts.store(new("c", session_id=S2), shared)
    assert large_object_count(app_conn, pg_urls) == before + 2
    assert pg.artifacts.delete_session(S1) == 2
    assert large_object_count(app_conn, pg_urls) == before + 1
    assert pg.artifacts.read(S2, kept.sequence) == shared
    assert pg.artifacts.delete_session(S2) == 1
    assert large_object_count(app_conn, pg_urls) == before


def test_a_failed_store_leaves_no_large_object(
    pg: SqlStorage, app_conn: psycopg.Connection[Any], pg_urls: PgLogins
) -> None:
    before = large_object_count(app_conn, pg_urls)
    with pytest.raises(OSError, match="broke half-way"):
        pg.artifacts.store(new("broken"), BreaksWhileWriting(os.urandom(8 * CHUNK)))
    assert large_object_count(app_conn, pg_urls) == before
    assert pg.artifacts.list(S1) == []


def test_integrity_finds_a_changed_and_a_vanished_large_object(
    pg: SqlStorage, app_conn: psycopg.Connection[Any]
) -> None:
    changed = pg.artifacts.store(new("changed"), os.urandom(5 * CHUNK))
    vanished = pg.artifacts.store(new("vanished"), os.urandom(5 * CHUNK))
    changed_row = content_row(app_conn, pg.tenant_id, changed.content_hash)
    vanished_row = content_row(app_conn, pg.tenant_id, vanished.content_hash)
    assert changed_row is not None and vanished_row is not None
    app_conn.execute("SELECT lo_put(%s::oid, 100, 'XXXX'::bytea)", (changed_row[0],))
    app_conn.execute("SELECT lo_unlink(%s::oid)", (vanished_row[0],))
    app_conn.commit()
    found = {(p.kind, p.content_hash) for p in pg.artifacts.check_integrity()}
    assert found == {
        ("hash_mismatch", changed.content_hash),
        ("missing_body", vanished.content_hash),
    }
    with pytest.raises(ValueError, match="is gone"):
        pg.artifacts.read(S1, vanished.sequence)


def test_an_orphaned_large_object_is_reported_and_referenced_ones_of_every_tenant_are_not(
    open_pg: Callable[[str], SqlStorage],
    unique_tenant: str,
    pg_settings: StorageSettings,
    app_conn: psycopg.Connection[Any],
) -> None:
    a, b = open_pg(f"{unique_tenant}-a"), open_pg(f"{unique_tenant}-b")
    a.artifacts.store(new("a"), os.urandom(5 * CHUNK))
    b.artifacts.store(new("b"), os.urandom(5 * CHUNK))
    settings = pg_settings.with_component("artifacts", SETTINGS)
    assert admin.check_artifacts(settings, a.tenant_id) == []
    row = app_conn.execute("SELECT lo_from_bytea(0, 'stray'::bytea)::bigint").fetchone()
    app_conn.commit()
    assert row is not None
    orphan = int(row[0])
    try:
        problems = admin.check_artifacts(settings, a.tenant_id)
        assert [(p.kind, str(orphan) in p.detail) for p in problems] == [
            ("orphaned_large_object", True)
        ]
    finally:
        app_conn.execute("SELECT lo_unlink(%s::oid)", (orphan,))
        app_conn.commit()
    assert admin.check_artifacts(settings, b.tenant_id) == []


def test_tenants_storing_the_same_bytes_get_their_own_large_objects(
    open_pg: Callable[[str], SqlStorage],
    unique_tenant: str,
    app_conn: psycopg.Connection[Any],
    pg_urls: PgLogins,
) -> None:
    a, b = open_pg(f"{unique_tenant}-a"), open_pg(f"{unique_tenant}-b")
    body = os.urandom(5 * CHUNK)
    before = large_object_count(app_conn, pg_urls)
    in_a = a.artifacts.store(new("same"), body)
    in_b = b.artifacts.store(new("same"), body)
    assert large_object_count(app_conn, pg_urls) == before + 2, "never shared across tenants"
    row_a = content_row(app_conn, a.tenant_id, in_a.content_hash)
    row_b = content_row(app_conn, b.tenant_id, in_b.content_hash)
    assert row_a is not None and row_b is not None and row_a[0] != row_b[0]
    b.artifacts.delete(S1, in_b.sequence)
    assert a.artifacts.read(S1, in_a.sequence) == body
    assert large_object_count(app_conn, pg_urls) == before + 1


def test_records_never_carry_an_oid() -> None:
    assert "large_object" not in {f.name for f in dataclasses.fields(ArtifactRecord)}
