"""Helpers of the `storage validate|stats|benchmark` suites: a store per backend (a fresh
PostgreSQL database each, since validate reads every tenant) and raw access to inject damage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pg_databases import fresh_pg_database
from sqlalchemy import Connection, text

from llmspell.storage import SqlStorage, StorageSettings
from llmspell.storage.backend import backend_for
from llmspell.storage.postgres.backend import upgrade_postgres
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import role_of, with_login


@contextmanager
def fresh_pg_settings(pg_urls: PgLogins) -> Iterator[StorageSettings]:
    """Settings on a new PostgreSQL database migrated to head (dropped afterwards)."""
    with fresh_pg_database(pg_urls, "llmspell_ops") as name:
        owner = with_login(pg_urls.owner_url, dbname=name)
        app = with_login(pg_urls.app_url, dbname=name)
        upgrade_postgres(owner, role_of(app))
        yield StorageSettings(
            backend="postgres",
            pg_url=app,
            pg_admin_url=owner,
            auto_upgrade=False,
            pg_pool_min=0,
            pg_pool_max=2,
        )


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
