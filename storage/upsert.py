"""`upsert_into`: INSERT ... ON CONFLICT DO UPDATE, which SQLAlchemy spells per dialect.

SQLite and PostgreSQL share the syntax and SQLAlchemy gives both the same API; only the
import differs, so components write one statement and this picks the construct.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

    Upsert = sqlite.Insert | postgresql.Insert


def upsert_into(dialect_name: str, table: Table) -> Upsert:
    """An INSERT on `table` that supports `.on_conflict_do_update(...)` on `dialect_name`."""
    name = dialect_name
    # Imported here: the PostgreSQL dialect takes tens of ms to import; SQLite never needs it.
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    raise ValueError(f"dialect {name!r} is not supported; storage runs on sqlite and postgresql")
