"""A connection that reads every tenant's rows, for the whole-store checks (validate, stats).

SQLite and memory have no row-level security: the storage's own database is read as it is.
On PostgreSQL the app role sees one tenant only and even the owner is bound by the forced
policy, so the owner reads with FORCE lifted inside a transaction that is always rolled back:
the policy never stops binding anyone else (the ALTER's lock keeps others out meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, Table, inspect, text

from llmspell.storage.backend import backend_for
from llmspell.storage.errors import StorageError
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sql_storage import SqlStorage


def require_owner(settings: StorageSettings, command: str, why: str) -> None:
    """StorageError unless PostgreSQL, when in use, has an owner login (`why` it is needed)."""
    uses_postgres = any(backend_for(b).sets_tenant for b in settings.backends_in_use())
    if uses_postgres and not settings.pg_admin_url and not settings.pg_embedded:
        raise StorageError(
            f"{command} needs the owner of the tables ({why}): set storage.postgres.admin_url "
            "to the owner's login (the app role of storage.postgres.url sees its own tenant "
            "only)"
        )


@contextmanager
def every_tenant(
    storage: SqlStorage, component: str, tables: Sequence[Table], *, write: bool = False
) -> Iterator[Connection]:
    """A connection in one transaction on `component`'s database that sees every tenant's rows
    of `tables`. `write` (SQLite only: a PostgreSQL view is always rolled back) commits."""
    db = storage.database(component)
    if not db.backend.sets_tenant:
        with db.transaction(write) as conn:
            yield conn
        return
    if write:
        raise ValueError("every_tenant: write=True is for SQLite; PostgreSQL views roll back")
    backend = backend_for(storage.settings.backend_of(component))
    with backend.owner(storage.settings, create=False) as owner, owner.engine.connect() as conn:
        transaction = conn.begin()
        try:
            quote = conn.dialect.identifier_preparer.quote
            existing = set(inspect(conn).get_table_names())
            for table in tables:
                if table.name in existing:
                    conn.execute(
                        text(f"ALTER TABLE {quote(table.name)} NO FORCE ROW LEVEL SECURITY")
                    )
            yield conn
        finally:
            transaction.rollback()
