"""`storage stats`: rows and bytes per component per tenant, read across every tenant.

Bytes are the size of the rows' values: PostgreSQL's `pg_column_size` of each row (after
compression, before indexes and page overhead); on SQLite the byte length of every value
(text as UTF-8, numbers as their text). Both say which tenant and component hold the data,
not what the files on disk weigh.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, LargeBinary, Table, cast, func, inspect, literal_column, select
from sqlalchemy.sql import ColumnElement

from llmspell.storage import registry
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sql_storage import SqlStorage, open_storage
from llmspell.storage.tenancy import check_tenant_id

from .every_tenant import every_tenant, require_owner

STATS_TENANT = "llmspell-stats"


@dataclass(frozen=True)
class Usage:
    """What one tenant keeps in one component."""

    tenant: str
    component: str
    rows: int
    bytes: int


def stats(
    settings: StorageSettings, tenant: str | None = None, storage: SqlStorage | None = None
) -> list[Usage]:
    """Rows and bytes of every component per tenant (only `tenant`'s when given), sorted by
    tenant then component; a component a tenant has no row in is left out.

    `storage`: an open storage to read (the memory backend's database lives only in its
    process); by default one is opened without migrating anything.
    """
    if tenant is not None:
        try:
            check_tenant_id(tenant)
        except ValueError as exc:
            raise ValueError(f"stats: {exc}") from None
    require_owner(settings, "stats", "it reads every tenant")
    with _opened(settings, storage) as opened:
        usage: list[Usage] = []
        for component in registry.components():
            with every_tenant(opened, component.name, component.tables) as conn:
                usage.extend(_component_usage(conn, component.name, component.tables, tenant))
    return sorted(usage, key=lambda u: (u.tenant, u.component))


@contextmanager
def _opened(settings: StorageSettings, storage: SqlStorage | None) -> Iterator[SqlStorage]:
    if storage is not None:
        yield storage
        return
    with open_storage(settings.with_changes(auto_upgrade=False), STATS_TENANT) as opened:
        yield opened


def _component_usage(
    conn: Connection, component: str, tables: tuple[Table, ...], tenant: str | None
) -> list[Usage]:
    existing = set(inspect(conn).get_table_names())
    rows: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for table in tables:
        if table.name not in existing:
            continue
        query = select(table.c.tenant_id, func.count(), func.sum(_row_bytes(conn, table)))
        if tenant is not None:
            query = query.where(table.c.tenant_id == tenant)
        for owner, count, size in conn.execute(query.group_by(table.c.tenant_id)):
            rows[owner] = rows.get(owner, 0) + int(count)
            sizes[owner] = sizes.get(owner, 0) + int(size or 0)
    return [Usage(owner, component, rows[owner], sizes[owner]) for owner in rows]


def _row_bytes(conn: Connection, table: Table) -> ColumnElement[int]:
    """The size of one row's values (the one place the dialects differ here)."""
    if conn.dialect.name == "postgresql":
        return func.pg_column_size(
            literal_column(conn.dialect.identifier_preparer.quote(table.name))
        )
    total: ColumnElement[int] | None = None
    for column in table.columns:
        size = func.coalesce(func.length(cast(column, LargeBinary)), 0)
        total = size if total is None else total + size
    assert total is not None  # every table has tenant_id
    return total
