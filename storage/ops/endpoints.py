"""The two ends of a transfer: an opened storage, the tenants it holds, and how rows go in
(PostgreSQL COPY, an INSERT of many rows elsewhere).

A source or target is given as `StorageSettings` (opened here, closed after) or as an open
`SqlStorage` (the memory backend, whose database lives only in the process that opened it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, select, union
from sqlalchemy.engine import Dialect

from llmspell.storage import registry
from llmspell.storage.database import Database
from llmspell.storage.ops.copy_text import CopyText, hashed_move
from llmspell.storage.ops.every_tenant import every_tenant
from llmspell.storage.ops.rows import Digest
from llmspell.storage.registry import Component
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sql_storage import SqlStorage, open_storage
from llmspell.storage.tenancy import check_tenant_id
from llmspell.storage.upsert import upsert_into

Endpoint = StorageSettings | SqlStorage
# The tenant a transfer opens storage as; every statement names its own tenant.
OPENING_TENANT = "llmspell-transfer"


@contextmanager
def opened(endpoint: Endpoint) -> Iterator[SqlStorage]:
    """`endpoint` as an open storage (closed afterwards when opened here)."""
    if isinstance(endpoint, SqlStorage):
        yield endpoint
        return
    if not isinstance(endpoint, StorageSettings):
        raise TypeError(
            f"a transfer's source or target must be StorageSettings or an open SqlStorage, "
            f"not {type(endpoint).__name__}"
        )
    with open_storage(endpoint, OPENING_TENANT) as storage:
        yield storage


def selected_components(names: Sequence[str] | None) -> list[Component]:
    """The components named (every one when None), in name order; ValueError for an unknown."""
    known = registry.component_names()
    if names is None:
        return registry.components()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(
            f"components {list(names)!r}: unknown {unknown or 'none given'}; allowed: "
            f"{', '.join(known)}"
        )
    return [registry.get(name) for name in sorted(set(names))]


def checked_tenants(tenants: Sequence[str] | None) -> list[str] | None:
    """`tenants` validated (None: every tenant the source holds)."""
    if tenants is None:
        return None
    if isinstance(tenants, str) or not tenants:
        raise ValueError(f"tenants must be a non-empty list of tenant ids, got {tenants!r}")
    return sorted({check_tenant_id(tenant) for tenant in tenants})


def component_tenants(storage: SqlStorage, component: Component) -> list[str]:
    """Every tenant with a row in one of the component's tables, sorted (on PostgreSQL read
    by the owner past row-level security, see `every_tenant`)."""
    query = union(*(select(table.c.tenant_id).distinct() for table in component.tables))
    with every_tenant(storage, component.name, component.tables) as conn:
        return sorted(conn.execute(query).scalars())


def tenant_database(storage: SqlStorage, component: Component, tenant: str) -> Database:
    """The database of `component` in `storage`, with transactions for `tenant`."""
    return storage.database(component.name).for_tenant(tenant)


def write_rows(
    conn: Connection,
    table: Table,
    rows: list[tuple[Any, ...]] | CopyText,
    stored: Digest | None = None,
) -> None:
    """Insert `rows` into `table` in the connection's transaction: COPY on PostgreSQL (of the
    text as it is, for `CopyText`), an INSERT of many rows elsewhere.

    `stored` (COPY text of a `line_checked` table only): the rows as the table stored them are
    added to it, hashed by PostgreSQL as the lines `Digest.add_lines` hashes (`hashed_move`).
    """
    if isinstance(rows, CopyText):
        if conn.dialect.name != "postgresql":
            raise ValueError(f"write_rows: COPY text is for PostgreSQL, not {conn.dialect.name}")
        if rows.rows:
            # Lines without a backslash hold no value COPY escapes: printed back as they are.
            escaped = b"\\" in rows.data
            with _staging(conn, table, stored, escaped) as (cursor, copy_sql, _):
                # Timestamps come as SQLite stores them: UTC, mostly without an offset (and
                # `hashed_move` prints them back in that form).
                cursor.execute(
                    "SELECT set_config('TimeZone', 'UTC', true), "
                    "set_config('DateStyle', 'ISO', true)"
                )
                with cursor.copy(copy_sql) as copy:
                    copy.write(rows.data)
        return
    if stored is not None:
        raise ValueError("write_rows: only COPY text is hashed as the table stores it")
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, rows)
    else:
        # A conflict can only be with a row a trigger wrote from an earlier table of the unit (a
        # state entry's first version, as the source holds it): the target held none of the
        # unit's rows, and the unit's count and checksum see any other difference.
        names = [column.name for column in table.columns]
        conn.execute(
            upsert_into(conn.dialect.name, table).on_conflict_do_nothing(),
            [dict(zip(names, row, strict=True)) for row in rows],
        )


# The column types COPY sends in binary: psycopg's binary dumpers for them take the values the
# columns' bind processors give (str, int, bool, float, bytes, aware datetime). A table with
# another type (JSON, vectors) is sent as text.
_BINARY_COPY_TYPES = frozenset(
    {"text", "varchar", "int4", "int8", "bool", "float8", "bytea", "timestamptz"}
)


@contextmanager
def _staging(
    conn: Connection, table: Table, stored: Digest | None = None, escaped: bool = True
) -> Iterator[tuple[Any, Any, Any]]:
    """A cursor, the `COPY ... FROM STDIN` (text) of a staging table like `table` and the
    `SELECT` of its columns; its rows move into `table` when the block ends (and are added to
    `stored` as the table stored them, see `hashed_move` for `escaped`).

    COPY refuses a table under row-level security: the rows are copied into a temporary table
    (which has none) and moved by one INSERT ... SELECT, which the policy checks.
    """
    from psycopg import sql

    names = [column.name for column in table.columns]
    target = sql.Identifier(table.name)
    staging_name = f"llmspell_copy_{table.name}"
    staging = sql.Identifier(staging_name)
    column_list = sql.SQL(", ").join(sql.Identifier(name) for name in names)
    driver: Any = conn.connection.driver_connection
    staged = sql.SQL("SELECT {} FROM {}").format(column_list, staging)
    with driver.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DROP").format(
                staging, target
            )
        )
        yield cursor, sql.SQL("COPY {} ({}) FROM STDIN").format(staging, column_list), staged
        if stored is None:
            cursor.execute(sql.SQL("INSERT INTO {} ({}) {}").format(target, column_list, staged))
        else:
            moved, hexdigest = conn.execute(hashed_move(table, staging_name, escaped)).one()
            stored.add_md5(moved, hexdigest)
        cursor.execute(sql.SQL("TRUNCATE {}").format(staging))


def _copy_rows(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    from psycopg import sql

    dialect = conn.dialect
    processors = [
        (index, process)
        for index, column in enumerate(table.columns)
        if (process := _bind_processor(column.type, dialect)) is not None
    ]
    driver: Any = conn.connection.driver_connection
    with _staging(conn, table) as (cursor, copy_sql, select_sql):
        cursor.execute(sql.SQL("{} LIMIT 0").format(select_sql))
        types = [driver.adapters.types.get(column.type_code) for column in cursor.description]
        binary = all(t is not None and t.name in _BINARY_COPY_TYPES for t in types)
        statement = sql.SQL("{} (FORMAT BINARY)").format(copy_sql) if binary else copy_sql
        with cursor.copy(statement) as copy:
            if binary:
                copy.set_types([t.oid for t in types])
            converted: Iterable[tuple[Any, ...]] = rows
            if processors:
                # Column by column: the loops run in C, only the processors in Python.
                values: list[Any] = list(zip(*rows, strict=True))
                for index, process in processors:
                    values[index] = map(_keeping_null(process), values[index])
                converted = zip(*values, strict=True)
            for row in converted:
                copy.write_row(row)


def _keeping_null(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`process` for a value, None (SQL NULL) as it is: a JSON column's own processor would
    write it as the JSON text `null`."""
    return lambda value: None if value is None else process(value)


def _bind_processor(column_type: Any, dialect: Dialect) -> Any:
    """What SQLAlchemy does to a value of `column_type` before the driver gets it (the
    column's TypeDecorator and the dialect's own type), as one function or None."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)
