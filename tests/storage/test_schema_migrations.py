"""The alembic chain on SQLite and PostgreSQL: up, down, up again; revision checks on open."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pg_databases import fresh_pg_database
from psycopg import sql
from sqlalchemy import Engine, Index, create_engine, inspect, text, update
from sqlalchemy.pool import NullPool

from llmspell.migrations import HEAD, REVISIONS
from llmspell.storage import SchemaVersionError, StorageError, StorageSettings, admin, open_storage
from llmspell.storage.components.graph import Neighbourhood
from llmspell.storage.components.kv import (
    RECORD_FIRST_TRIGGER,
    RECORD_VERSION_FUNCTION,
    RECORD_VERSION_TRIGGER,
)
from llmspell.storage.components.vectors.tables import ANALYZE_FUNCTION
from llmspell.storage.fulltext import is_fulltext_object
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import connect, role_of, with_login
from llmspell.storage.registry import metadata
from llmspell.storage.revision import alembic_version
from llmspell.storage.schema import created_on
from llmspell.storage.schema_migrations import alembic_config, alembic_head, alembic_revisions
from llmspell.storage.sqlite import create_at_head, sqlite_engine
from llmspell.storage.tenancy import TENANT_SETTING


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> StorageSettings:
    return StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "db" / "llmspell.db"))


def _fresh_pg(pg_urls: PgLogins, *, vector: bool) -> Iterator[StorageSettings]:
    with fresh_pg_database(pg_urls, "llmspell_mig", vector=vector) as name:
        yield StorageSettings(
            backend="postgres",
            pg_url=with_login(pg_urls.app_url, dbname=name),
            pg_admin_url=with_login(pg_urls.owner_url, dbname=name),
            auto_upgrade=False,
        )


@pytest.fixture
def fresh_pg(pg_urls: PgLogins) -> Iterator[StorageSettings]:
    """An empty database (only the vector extension, no tables) owned by the owner role,
    dropped afterwards."""
    yield from _fresh_pg(pg_urls, vector=True)


@pytest.fixture
def fresh_pg_without_vector(pg_urls: PgLogins) -> Iterator[StorageSettings]:
    """An empty database without the vector extension, which its owner cannot install."""
    yield from _fresh_pg(pg_urls, vector=False)


def _owner_engine(settings: StorageSettings) -> Engine:
    if settings.backend == "sqlite":
        return sqlite_engine(settings.sqlite_path)
    url = settings.pg_admin_url
    return create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool
    )


def _tables(settings: StorageSettings) -> set[str]:
    engine = _owner_engine(settings)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _declared_or_not_ann(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Approximate-nearest-neighbour indexes (pgvector HNSW) exist only on PostgreSQL, and
    keyword indexes (FTS5 tables, tsvector columns) are dialect-specific: the migrations make
    them (see storage/fulltext.py); the schema module does not declare them."""
    if reflected and is_fulltext_object(name):
        return False
    if type_ == "index" and reflected:
        options = getattr(obj, "dialect_options", {}).get("postgresql", {})
        return options.get("using") != "hnsw"
    return True


def _compared_on(dialect_name: str) -> Callable[[object, str | None, str, bool, object], bool]:
    """`_declared_or_not_ann`, and of an index declared per dialect (`dialect_indexes`) only
    the form of `dialect_name`."""

    def include(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
        if isinstance(obj, Index) and not reflected and not created_on(obj, dialect_name):
            return False
        return _declared_or_not_ann(obj, name, type_, reflected, other)

    return include


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        # Partitions (PostgreSQL) come from the partition functions, not from the metadata:
        # the parent is what the schema declares.
        partitions: set[str] = set()
        if conn.dialect.name == "postgresql":
            partitions = set(
                conn.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars()
            )

        def declared(name: str | None, kind: str, parent: dict[str, str | None]) -> bool:
            table = name if kind == "table" else parent.get("table_name")
            return table not in partitions and not is_fulltext_object(table)

        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": declared,
                "include_object": _compared_on(conn.dialect.name),
            },
        )
        return list(compare_metadata(context, metadata()))


def test_the_head_constant_matches_the_alembic_chain() -> None:
    assert alembic_revisions() == list(REVISIONS)
    assert alembic_head() == HEAD


def test_every_revision_has_a_downgrade() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        assert callable(getattr(revision.module, "downgrade", None)), revision.revision


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_empty_to_head_to_base_to_head(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    schema = set(metadata().tables)

    [first] = admin.upgrade(settings)
    assert (first.before, first.after) == (None, HEAD)
    assert schema <= _tables(settings)
    assert admin.current_revision(settings) == HEAD

    [down] = admin.downgrade(settings, "base")
    assert (down.before, down.after) == (HEAD, None)
    assert not schema & _tables(settings)

    [again] = admin.upgrade(settings, "head")
    assert (again.before, again.after) == (None, HEAD)
    with open_storage(settings, "after-migrations") as storage:
        assert storage.kv.put("g", "k", 1) == 1
        assert storage.kv.get("g", "k") == 1

    assert admin.upgrade(settings)[0].before == HEAD, "upgrading at head is a no-op"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_migrated_schema_equals_the_schema_module(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    admin.upgrade(settings)
    engine = _owner_engine(settings)
    try:
        assert _schema_differences(engine) == []
    finally:
        engine.dispose()


ARTIFACT_SESSION = "55555555-5555-4555-8555-555555555555"


def _store_as_0009_did(app_url: str, tenant: str, bodies: list[tuple[bytes, bool]]) -> None:
    """Artifacts the way revision 0009's code stored them, as the app role: a body in a large
    object (True) or in one chunk row (False)."""
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
        for sequence, (body, large) in enumerate(bodies, start=1):
            digest = hashlib.sha256(body).hexdigest()
            oid = None
            if large:
                row = conn.execute("SELECT lo_from_bytea(0, %s)::bigint", (body,)).fetchone()
                oid = row[0] if row else None
            else:
                conn.execute(
                    "INSERT INTO artifact_chunks VALUES (%s, %s, 0, %s)", (tenant, digest, body)
                )
            conn.execute(
                "INSERT INTO artifact_content (tenant_id, content_hash, size, ref_count, "
                "large_object, created_at) VALUES (%s, %s, %s, 1, %s, now())",
                (tenant, digest, len(body), oid),
            )
            conn.execute(
                "INSERT INTO artifacts (tenant_id, session_id, sequence, name, version, type, "
                "mime_type, size, tags, metadata, content_hash, created_at) VALUES "
                "(%s, %s, %s, %s, 1, 'tool_result', 'application/octet-stream', %s, '[]', '{}', "
                "%s, now())",
                (tenant, ARTIFACT_SESSION, sequence, f"body{sequence}", len(body), digest),
            )
        conn.commit()


def _large_objects(app_url: str) -> int:
    with psycopg.connect(app_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    return int(row[0]) if row else -1


@pytest.mark.postgres
def test_upgrading_moves_artifact_large_objects_into_chunk_rows_and_downgrading_keeps_them(
    fresh_pg: StorageSettings, pg_urls: PgLogins
) -> None:
    admin.upgrade(fresh_pg, "0009")
    big = os.urandom(2 * 1024 * 1024 + 5)  # three 1 MiB chunk rows after the move
    other = os.urandom(1024 * 1024)
    small = b"a body in one chunk row"
    _store_as_0009_did(fresh_pg.pg_url, "a", [(big, True), (small, False)])
    _store_as_0009_did(fresh_pg.pg_url, "b", [(other, True)])
    assert _large_objects(fresh_pg.pg_url) == 2
    owner, app = role_of(fresh_pg.pg_admin_url), role_of(fresh_pg.pg_url)

    # The objects belong to the app role: the owner may not read them until it may act for it.
    with pytest.raises(StorageError, match=rf"2 artifact bodies .* GRANT {app} TO {owner}"):
        admin.upgrade(fresh_pg)
    assert admin.current_revision(fresh_pg) == "0009"
    assert _large_objects(fresh_pg.pg_url) == 2
    with connect(pg_urls.superuser_url, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(app), sql.Identifier(owner)))
    try:
        [result] = admin.upgrade(fresh_pg)
    finally:
        with connect(pg_urls.superuser_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(app), sql.Identifier(owner))
            )
    assert (result.before, result.after, result.notes) == ("0009", HEAD, [])
    assert _large_objects(fresh_pg.pg_url) == 0
    with open_storage(fresh_pg, "a") as a, open_storage(fresh_pg, "b") as b:
        assert a.artifacts.read(ARTIFACT_SESSION, 1) == big
        assert a.artifacts.read(ARTIFACT_SESSION, 2) == small
        assert b.artifacts.read(ARTIFACT_SESSION, 1) == other
        assert a.artifacts.check_integrity() == [] and b.artifacts.check_integrity() == []
    with psycopg.connect(fresh_pg.pg_admin_url) as conn:
        forced = conn.execute(
            "SELECT bool_and(relforcerowsecurity) FROM pg_class "
            "WHERE relname IN ('artifact_content', 'artifact_chunks')"
        ).fetchone()
        policies = conn.execute(
            "SELECT policyname FROM pg_policies WHERE tablename = 'artifact_content'"
        ).fetchall()
    assert forced == (True,), "RLS is forced again after the move"
    assert policies == [("tenant_isolation",)]

    [down] = admin.downgrade(fresh_pg, "0009")
    assert down.after == "0009"
    with psycopg.connect(fresh_pg.pg_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', 'a', true)")
        rows = conn.execute(
            "SELECT c.large_object, string_agg(k.data, ''::bytea ORDER BY k.chunk_index) "
            "FROM artifact_content c JOIN artifact_chunks k USING (tenant_id, content_hash) "
            "GROUP BY c.content_hash, c.large_object, c.size ORDER BY c.size DESC"
        ).fetchall()
    # 0009 reads a body from its chunk rows whenever large_object is NULL.
    assert rows == [(None, big), (None, small)]
    admin.upgrade(fresh_pg)
    with open_storage(fresh_pg, "a") as a:
        assert a.artifacts.read(ARTIFACT_SESSION, 1) == big


def _app_creates_a_partition_decades_ahead(settings: StorageSettings) -> bool:
    """Whether the app role may make the event log's partition for January 2080."""
    with psycopg.connect(settings.pg_url) as conn:
        try:
            conn.execute("SELECT llmspell_event_log_ensure_partitions('2080-01-01', 1)")
        except psycopg.errors.InsufficientPrivilege:
            return False
        conn.rollback()  # the partition itself is not the point
    return True


@pytest.mark.postgres
def test_0011_keeps_the_app_roles_partitions_near_now_and_its_downgrade_restores_0010(
    fresh_pg: StorageSettings,
) -> None:
    admin.upgrade(fresh_pg)
    assert not _app_creates_a_partition_decades_ahead(fresh_pg)
    admin.downgrade(fresh_pg, "0010")
    assert _app_creates_a_partition_decades_ahead(fresh_pg), "0010's functions had no window"
    admin.upgrade(fresh_pg)
    assert not _app_creates_a_partition_decades_ahead(fresh_pg)
    with psycopg.connect(fresh_pg.pg_url) as conn:
        created = conn.execute("SELECT llmspell_event_log_ensure_partitions(now(), 3)").fetchone()
    assert created is not None and len(created[0]) == 3, "replacing kept the app role's grant"


def _graph_indexes(settings: StorageSettings) -> set[str]:
    engine = _owner_engine(settings)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            return {
                str(index["name"])
                for table in ("graph_entities", "graph_relationships")
                for index in found.get_indexes(table)
            }
    finally:
        engine.dispose()


WALK_INDEXES = {
    "ix_graph_entities_walk",
    "ix_graph_relationships_walk_out",
    "ix_graph_relationships_walk_in",
}


def _walked_chain(settings: StorageSettings, changed: bool = False) -> tuple[str, Neighbourhood]:
    """A graph A -> B -> C of tenant `walker` (B updated once when `changed`): A's id and its
    2-hop neighbourhood."""
    with open_storage(settings, "walker") as storage:
        g = storage.graph
        a, b, c = (g.add_entity(name, "node", {}) for name in "ABC")
        g.add_relationship(a, b, "knows", {})
        g.add_relationship(b, c, "knows", {})
        if changed:
            g.update_entity(b, {"seen": 1})
        return a, g.neighbors(a, 2)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_0012_walk_indexes_replace_the_edge_indexes_and_its_downgrade_restores_0011(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    edges_0011 = {
        "ix_graph_relationships_tenant_id_from_id",
        "ix_graph_relationships_tenant_id_to_id",
    }
    admin.upgrade(settings)
    a, before = _walked_chain(settings)
    assert _graph_indexes(settings) >= WALK_INDEXES
    assert not edges_0011 & _graph_indexes(settings)
    admin.downgrade(settings, "0011")
    assert edges_0011 <= _graph_indexes(settings)
    assert not WALK_INDEXES & _graph_indexes(settings)
    admin.upgrade(settings)
    assert _graph_indexes(settings) >= WALK_INDEXES
    with open_storage(settings, "walker") as storage:
        assert storage.graph.neighbors(a, 2) == before, "the rows outlive down and up"


def _walk_index_definitions(settings: StorageSettings) -> dict[str, str]:
    """The graph walk's three indexes as the database defines them (PostgreSQL)."""
    with psycopg.connect(str(settings.pg_admin_url)) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_graph%walk%'"
        ).fetchall()
    return {str(name): str(definition) for name, definition in rows}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_0016_carries_the_walk_periods_as_include_columns_and_its_downgrade_restores_0012(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    admin.upgrade(settings)
    a, before = _walked_chain(settings, changed=True)
    assert [node.name for node, _ in before.nodes] == ["B", "C"]
    periods = "valid_from, valid_to, recorded_at, superseded_at"
    as_0012 = {
        "ix_graph_entities_walk": f"(tenant_id, entity_id, {periods})",
        "ix_graph_relationships_walk_out": f"(tenant_id, from_id, {periods}, to_id, type)",
        "ix_graph_relationships_walk_in": f"(tenant_id, to_id, {periods}, from_id, type)",
    }
    as_0016 = {
        "ix_graph_entities_walk": f"(tenant_id, entity_id) INCLUDE ({periods})",
        "ix_graph_relationships_walk_out": f"(tenant_id, from_id) INCLUDE ({periods}, to_id, type)",
        "ix_graph_relationships_walk_in": f"(tenant_id, to_id) INCLUDE ({periods}, from_id, type)",
    }
    for target in ("0015", "head", "0015", "head"):
        if target == "0015":
            admin.downgrade(settings, target)
        else:
            admin.upgrade(settings, target)
        assert _graph_indexes(settings) >= WALK_INDEXES
        if backend == "postgres":
            definitions = _walk_index_definitions(settings)
            expected = as_0012 if target == "0015" else as_0016
            assert set(definitions) == WALK_INDEXES
            assert all(definitions[name].endswith(f"USING btree {expected[name]}")
                       for name in WALK_INDEXES), definitions  # fmt: skip
    with open_storage(settings, "walker") as storage:
        assert storage.graph.neighbors(a, 2) == before, "the rows outlive down and up"


def _vectors_384_keyword_objects(settings: StorageSettings) -> set[str]:
    """The keyword-index columns, indexes and tables of vectors_384 as the database holds them."""
    engine = _owner_engine(settings)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            names = {str(c["name"]) for c in found.get_columns("vectors_384")}
            names |= {str(i["name"]) for i in found.get_indexes("vectors_384")}
            names |= set(found.get_table_names())
            return {name for name in names if "tsv" in name or name.startswith("vectors_384_fts")}
    finally:
        engine.dispose()


def _pg_rls(settings: StorageSettings, table: str) -> tuple[bool, bool]:
    with psycopg.connect(str(settings.pg_admin_url)) as conn:
        row = conn.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s",
            (table,),
        ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1])


def _tsvector_matches(settings: StorageSettings, word: str) -> set[str]:
    """Ids of tenant `lexer` whose 0007 tsvector column matches `word` (read as the owner, under
    the tenant policy); fails unless the column's GIN index exists and is valid."""
    with psycopg.connect(str(settings.pg_admin_url)) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass",
            ("ix_vectors_384_content_tsv",),
        ).fetchone()
        assert valid == (True,)
        conn.execute("SELECT set_config(%s, 'lexer', false)", (TENANT_SETTING,))
        rows = conn.execute(
            "SELECT id FROM vectors_384 WHERE content_tsv @@ to_tsquery('english', %s)", (word,)
        ).fetchall()
    return {str(r[0]) for r in rows}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_0013_drops_the_postgres_tsvector_and_its_downgrade_restores_and_backfills_it(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    from llmspell.storage.components.vectors import NewVector

    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    fts = {"vectors_384_fts", "vectors_384_fts_docsize"}
    tsv = {"content_tsv", "ix_vectors_384_content_tsv"}
    admin.upgrade(settings)
    unit = np.eye(384, dtype=np.float32)
    with open_storage(settings, "lexer") as storage:
        storage.vectors.add(
            "ns",
            "m",
            [
                NewVector(unit[0], "the ferry leaves the harbour", id="v1"),
                NewVector(unit[1], "an invoice for the turnstile", id="v2"),
            ],
        )
        before = storage.vectors.keyword_search("ns", ["ferry"], 5)
    assert [hit.record.id for hit in before] == ["v1"]
    at_head = _vectors_384_keyword_objects(settings)
    if backend == "sqlite":
        assert fts <= at_head and not tsv & at_head, "SQLite keeps its FTS5 index"
    else:
        assert not at_head, "PostgreSQL keeps no keyword index at head"
        assert _pg_rls(settings, "vectors_384") == (True, True)

    admin.downgrade(settings, "0012")
    at_0012 = _vectors_384_keyword_objects(settings)
    if backend == "sqlite":
        assert at_0012 == at_head, "on SQLite 0013 changes nothing"
    else:
        assert at_0012 == tsv
        assert _tsvector_matches(settings, "ferry") == {"v1"}, "existing rows were backfilled"
        assert _tsvector_matches(settings, "turnstil") == {"v2"}
        assert _pg_rls(settings, "vectors_384") == (True, True)

    admin.upgrade(settings)
    assert _vectors_384_keyword_objects(settings) == at_head
    with open_storage(settings, "lexer") as storage:
        storage.vectors.add("ns", "m", [NewVector(unit[2], "a second ferry", id="v3")])
        after = storage.vectors.keyword_search("ns", ["ferry"], 5)
    assert {hit.record.id for hit in after} == {"v1", "v3"}, "the rows outlive down and up"
    if backend == "postgres":
        assert _pg_rls(settings, "vectors_384") == (True, True)


SQLITE_KV_TRIGGERS = (
    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'kv_entries'"
)


def _kv_triggers(settings: StorageSettings) -> set[str]:
    """The triggers on kv_entries, and (PostgreSQL) the kv functions, as the database holds them."""
    engine = _owner_engine(settings)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                query = SQLITE_KV_TRIGGERS
            else:
                query = (
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'kv_entries'::regclass "
                    "AND NOT tgisinternal "
                    "UNION SELECT proname FROM pg_proc WHERE proname LIKE '%kv%'"
                )
            return {str(name) for name in conn.execute(text(query)).scalars()}
    finally:
        engine.dispose()


def _as_owner_under(settings: StorageSettings, tenant: str, sql: str, **values: str) -> None:
    """Run `sql` as the owner, under the tenant policy of `tenant`."""
    engine = _owner_engine(settings)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT set_config(:name, :tenant, true)"),
                    {"name": TENANT_SETTING, "tenant": tenant},
                )
            conn.execute(text(sql), {"tenant": tenant, **values})
    finally:
        engine.dispose()


def _raise_version_as_owner(settings: StorageSettings, tenant: str, value: str) -> None:
    """What a put of an existing key does to its entry, as the owner (under the tenant policy)."""
    _as_owner_under(
        settings,
        tenant,
        "UPDATE kv_entries SET version = version + 1, value = :value "
        "WHERE tenant_id = :tenant AND scope = 'g' AND key = 'k'",
        value=value,
    )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_0015_records_new_versions_in_the_database_and_its_downgrade_leaves_it_to_the_code(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    objects = {RECORD_VERSION_TRIGGER, RECORD_FIRST_TRIGGER} | (
        {RECORD_VERSION_FUNCTION} if backend == "postgres" else set()
    )
    admin.upgrade(settings)
    with open_storage(settings, "versioned") as storage:
        assert [storage.kv.put("g", "k", f"v{i}") for i in range(1, 4)] == [1, 2, 3]
    assert _kv_triggers(settings) == objects

    admin.downgrade(settings, "0014")
    assert _kv_triggers(settings) == set()
    _raise_version_as_owner(settings, "versioned", '"v4"')  # at 0014 the code records it, not SQL

    admin.upgrade(settings)
    assert _kv_triggers(settings) == objects
    _raise_version_as_owner(settings, "versioned", '"v5"')  # at head the trigger records it
    with open_storage(settings, "versioned") as storage:
        assert storage.kv.put("g", "k", "v6") == 6
        history = storage.kv.history("g", "k")
    assert [(h.version, h.value) for h in history] == [
        (6, "v6"),
        (5, "v5"),
        (3, "v3"),
        (2, "v2"),
        (1, "v1"),
    ], "the rows outlive down and up; version 4 (written at 0014 outside the code) has no row"


def _insert_entry_as_owner(settings: StorageSettings, tenant: str, key: str) -> None:
    """What a put of a new key does to kv_entries, as the owner (under the tenant policy)."""
    _as_owner_under(
        settings,
        tenant,
        "INSERT INTO kv_entries (tenant_id, scope, key, value, version, updated_at) "
        "VALUES (:tenant, 'g', :key, '\"first\"', 1, :at)",
        key=key,
        at="2026-12-06 07:00:00.000000",
    )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_0018_records_a_new_keys_first_version_and_its_downgrade_restores_0017(
    backend: str, sqlite_settings: StorageSettings, request: pytest.FixtureRequest
) -> None:
    settings = sqlite_settings if backend == "sqlite" else request.getfixturevalue("fresh_pg")
    function = {RECORD_VERSION_FUNCTION} if backend == "postgres" else set()
    admin.upgrade(settings)
    assert _kv_triggers(settings) == {RECORD_VERSION_TRIGGER, RECORD_FIRST_TRIGGER} | function

    admin.downgrade(settings, "0017")
    assert _kv_triggers(settings) == {RECORD_VERSION_TRIGGER} | function
    _insert_entry_as_owner(settings, "first", "at-0017")  # at 0017 the code records it, not SQL

    admin.upgrade(settings)
    assert _kv_triggers(settings) == {RECORD_VERSION_TRIGGER, RECORD_FIRST_TRIGGER} | function
    _insert_entry_as_owner(settings, "first", "at-head")  # at head the trigger records it
    with open_storage(settings, "first") as storage:
        assert storage.kv.get("g", "at-0017") == "first", "the entry outlives down and up"
        assert storage.kv.history("g", "at-0017") == []
        [recorded] = storage.kv.history("g", "at-head")
        assert (recorded.version, recorded.value) == (1, "first")
        assert recorded.updated_at.isoformat() == "2026-12-06T07:00:00+00:00"


def _functions_named(settings: StorageSettings, name: str) -> list[str]:
    with psycopg.connect(str(settings.pg_admin_url)) as conn:
        rows = conn.execute(
            "SELECT p.prosecdef, p.proconfig::text FROM pg_proc p WHERE p.proname = %s", (name,)
        ).fetchall()
    return [f"definer={row[0]} config={row[1]}" for row in rows]


@pytest.mark.postgres
def test_0017_adds_the_vectors_analyze_function_and_its_downgrade_drops_it(
    fresh_pg: StorageSettings,
) -> None:
    admin.upgrade(fresh_pg)
    [found] = _functions_named(fresh_pg, ANALYZE_FUNCTION)
    assert found == 'definer=True config={"search_path=public, pg_temp"}', found
    admin.downgrade(fresh_pg, "0016")
    assert _functions_named(fresh_pg, ANALYZE_FUNCTION) == []
    admin.upgrade(fresh_pg)
    assert len(_functions_named(fresh_pg, ANALYZE_FUNCTION)) == 1
    with psycopg.connect(str(fresh_pg.pg_url)) as conn:  # the app role may run it, checked
        conn.execute(f"SELECT {ANALYZE_FUNCTION}(256)")
        with pytest.raises(psycopg.errors.RaiseException, match="dimension must be one of"):
            conn.execute(f"SELECT {ANALYZE_FUNCTION}(7)")


@pytest.mark.postgres
def test_0017_the_analyze_function_is_not_for_everyone(fresh_pg: StorageSettings) -> None:
    admin.upgrade(fresh_pg)
    with psycopg.connect(str(fresh_pg.pg_admin_url)) as conn:
        row = conn.execute(
            "SELECT has_function_privilege('public', %s, 'EXECUTE')",
            (f"{ANALYZE_FUNCTION}(integer)",),
        ).fetchone()
    assert row == (False,)


def test_a_memory_database_is_built_at_head_equal_to_the_migrations() -> None:
    engine = sqlite_engine(None)
    try:
        create_at_head(engine)
        assert _schema_differences(engine) == []
        with engine.connect() as conn:
            triggers = conn.execute(text(SQLITE_KV_TRIGGERS)).scalars()
            assert set(triggers) == {RECORD_VERSION_TRIGGER, RECORD_FIRST_TRIGGER}, (
                "kv versions are recorded as in a file"
            )
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
    finally:
        engine.dispose()


def _stamp(settings: StorageSettings, revision: str) -> None:
    engine = _owner_engine(settings)
    try:
        with engine.begin() as conn:
            conn.execute(update(alembic_version).values(version_num=revision))
    finally:
        engine.dispose()


def test_a_sqlite_database_at_an_unknown_revision_is_a_clear_error_and_untouched(
    sqlite_settings: StorageSettings,
) -> None:
    with open_storage(sqlite_settings, "t") as storage:
        storage.kv.put("g", "k", "kept")
    _stamp(sqlite_settings, "9999")
    with pytest.raises(SchemaVersionError, match=r"revision '9999'.*does not know.*newer"):
        open_storage(sqlite_settings, "t")
    with pytest.raises(SchemaVersionError, match="9999"):
        admin.upgrade(sqlite_settings)
    with pytest.raises(SchemaVersionError, match="9999"):
        admin.downgrade(sqlite_settings, "base")
    _stamp(sqlite_settings, HEAD)
    with open_storage(sqlite_settings, "t") as storage:
        assert storage.kv.get("g", "k") == "kept"


@pytest.mark.postgres
def test_a_postgres_database_at_an_unknown_revision_is_a_clear_error(
    fresh_pg: StorageSettings,
) -> None:
    admin.upgrade(fresh_pg)
    _stamp(fresh_pg, "9999")
    storage = open_storage(fresh_pg.with_changes(auto_upgrade=True), "t")
    try:
        with pytest.raises(SchemaVersionError, match=r"revision '9999'.*does not know"):
            storage.kv.get("g", "k")
    finally:
        storage.close()


def test_without_auto_upgrade_an_outdated_sqlite_file_says_to_run_storage_upgrade(
    sqlite_settings: StorageSettings,
) -> None:
    with pytest.raises(
        SchemaVersionError, match=r"has no llmspell schema.*llmspell storage upgrade"
    ):
        open_storage(sqlite_settings.with_changes(auto_upgrade=False), "t")


@pytest.mark.postgres
def test_postgres_without_an_owner_login_refuses_to_migrate_on_open(
    fresh_pg: StorageSettings,
) -> None:
    storage = open_storage(fresh_pg.with_changes(auto_upgrade=True, pg_admin_url=""), "t")
    try:
        with pytest.raises(SchemaVersionError, match="llmspell storage upgrade"):
            storage.kv.get("g", "k")
    finally:
        storage.close()


@pytest.mark.postgres
def test_postgres_auto_upgrade_migrates_as_the_owner_on_first_use(
    fresh_pg: StorageSettings,
) -> None:
    with open_storage(fresh_pg.with_changes(auto_upgrade=True), "t") as storage:
        assert storage.kv.put("g", "k", 1) == 1
    assert admin.current_revision(fresh_pg) == HEAD


@pytest.mark.postgres
def test_an_owner_without_rights_on_the_vector_extension_gets_the_superuser_command(
    fresh_pg_without_vector: StorageSettings,
) -> None:
    # The memory tables cannot exist without the extension: the upgrade stops with the one
    # command the operator has to run, and leaves the database as it was.
    with pytest.raises(StorageError, match="CREATE EXTENSION vector"):
        admin.upgrade(fresh_pg_without_vector)
    assert admin.current_revision(fresh_pg_without_vector) is None


def test_unknown_target_revisions_and_upward_downgrades_are_refused(
    sqlite_settings: StorageSettings,
) -> None:
    chain = ", ".join(REVISIONS)
    with pytest.raises(StorageError, match=rf"unknown revision '0042'; allowed: head, {chain}$"):
        admin.upgrade(sqlite_settings, "0042")
    with pytest.raises(StorageError, match=rf"allowed: head, {chain}, base$"):
        admin.downgrade(sqlite_settings, "nope")
    admin.upgrade(sqlite_settings)
    admin.downgrade(sqlite_settings, "base")
    with pytest.raises(StorageError, match="cannot downgrade to 0001"):
        admin.downgrade(sqlite_settings, "0001")


def test_migrating_the_memory_backend_is_refused_with_a_reason() -> None:
    with pytest.raises(StorageError, match="memory backend"):
        admin.upgrade(StorageSettings(backend="memory"))


def test_opening_an_up_to_date_sqlite_file_does_not_import_alembic(
    sqlite_settings: StorageSettings,
) -> None:
    open_storage(sqlite_settings, "t").close()
    path = sqlite_settings.sqlite_path
    code = (
        "import sys\n"
        "from llmspell.storage import StorageSettings, open_storage\n"
        f"settings = StorageSettings(backend='sqlite', sqlite_path={path!r})\n"
        "s = open_storage(settings, 't')\n"
        "s.kv.put('g', 'k', 1)\n"
        "s.close()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
