"""Helpers of the `storage validate|stats|benchmark` suites: a store per backend (a fresh
PostgreSQL database each, since validate reads every tenant) and raw access to inject damage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import sql
from sqlalchemy import Connection, text

from llmspell.storage import SqlStorage, StorageSettings
from llmspell.storage.backend import backend_for
from llmspell.storage.postgres.backend import upgrade_postgres
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import connect, role_of, with_login


@contextmanager
def fresh_pg_settings(pg_urls: PgLogins) -> Iterator[StorageSettings]:
    """Settings on a new PostgreSQL database migrated to head (dropped afterwards)."""
    name = f"llmspell_ops_{uuid.uuid4().hex[:8]}"
    with connect(pg_urls.superuser_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(role_of(pg_urls.owner_url))
            )
        )
    with connect(with_login(pg_urls.superuser_url, dbname=name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    owner = with_login(pg_urls.owner_url, dbname=name)
    app = with_login(pg_urls.app_url, dbname=name)
    upgrade_postgres(owner, role_of(app))
    try:
        yield StorageSettings(
            backend="postgres",
            pg_url=app,
            pg_admin_url=owner,
            auto_upgrade=False,
            pg_pool_min=0,
            pg_pool_max=2,
        )
    finally:
        with connect(pg_urls.superuser_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def raw(storage: SqlStorage, component: str, tenant: str | None = None) -> Iterator[Connection]:
    """A committed transaction on `component`'s database as its owner, past the store's API
    (PostgreSQL: with `app.tenant_id` = `tenant`, so the forced policy lets the rows through)."""
    db = storage.database(component)
    if not db.backend.sets_tenant:
        with db.transaction(write=True) as conn:
            yield conn
        return
    backend = backend_for(storage.settings.backend_of(component))
    with backend.owner(storage.settings, create=False) as owner, owner.engine.begin() as conn:
        if tenant is not None:
            conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
        yield conn
