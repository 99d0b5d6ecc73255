"""The triggers and functions the migrations leave at head are the ones the schema module
declares (`created_with`): migrations freeze their SQL, so a later change of a live function
needs a revision of its own, and this test says when one is missing."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pg_databases import fresh_pg_database
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from llmspell.storage import StorageSettings, admin
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import with_login
from llmspell.storage.sqlite import create_at_head, sqlite_engine

SQLITE_TRIGGERS = "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
PG_TRIGGERS = (
    "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
)
PG_FUNCTIONS = (
    "SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc, p.prosecdef "
    "FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace"
)


def _squeezed(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def _sqlite_triggers(path: str | None) -> set[tuple[str, ...]]:
    engine = sqlite_engine(path)
    try:
        if path is None:
            create_at_head(engine)
        with engine.connect() as conn:
            rows = conn.execute(text(SQLITE_TRIGGERS)).all()
    finally:
        engine.dispose()
    return {(name, table, _squeezed(sql)) for name, table, sql in rows}


def test_a_migrated_sqlite_file_has_the_triggers_the_schema_module_declares(
    tmp_path: Path,
) -> None:
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "llmspell.db"))
    admin.upgrade(settings)
    migrated = _sqlite_triggers(settings.sqlite_path)
    assert migrated, "the migrations make triggers"
    assert migrated == _sqlite_triggers(None)


@pytest.fixture
def two_pg_databases(pg_urls: PgLogins) -> Iterator[tuple[str, str]]:
    """Owner URLs of two empty databases with the vector extension."""
    with (
        fresh_pg_database(pg_urls, "llmspell_head_a") as first,
        fresh_pg_database(pg_urls, "llmspell_head_b") as second,
    ):
        yield (
            with_login(pg_urls.owner_url, dbname=first),
            with_login(pg_urls.owner_url, dbname=second),
        )


def _pg_objects(owner_url: str) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    with psycopg.connect(owner_url) as conn:
        triggers = {tuple(row) for row in conn.execute(PG_TRIGGERS).fetchall()}
        functions = {
            (name, args, _squeezed(source), definer)
            for name, args, source, definer in conn.execute(PG_FUNCTIONS).fetchall()
        }
    return triggers, functions


@pytest.mark.postgres
def test_a_migrated_postgres_database_has_the_schema_modules_triggers_and_functions(
    two_pg_databases: tuple[str, str], pg_urls: PgLogins
) -> None:
    migrated_url, declared_url = two_pg_databases
    admin.upgrade(
        StorageSettings(
            backend="postgres",
            pg_url=pg_urls.app_url,
            pg_admin_url=migrated_url,
            auto_upgrade=False,
        )
    )
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(declared_url), poolclass=NullPool
    )
    try:
        create_at_head(engine)
    finally:
        engine.dispose()
    migrated_triggers, migrated_functions = _pg_objects(migrated_url)
    declared_triggers, declared_functions = _pg_objects(declared_url)
    assert declared_triggers <= migrated_triggers
    declared_names = {name for name, *_ in declared_functions}
    assert declared_names, "the schema module declares functions"
    assert {f for f in migrated_functions if f[0] in declared_names} == declared_functions


def test_the_printed_sqlite_schema_makes_the_triggers_the_migrations_make(tmp_path: Path) -> None:
    """`storage schema --sql` lists everything a file gets, the keyword index's triggers too."""
    migrated = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "migrated.db"))
    admin.upgrade(migrated)
    printed = tmp_path / "printed.db"
    with sqlite3.connect(printed) as conn:
        conn.executescript(admin.schema_sql(migrated))
    assert any("_fts_" in name for name, _, _ in _sqlite_triggers(str(printed)))
    assert _sqlite_triggers(str(printed)) == _sqlite_triggers(migrated.sqlite_path)
