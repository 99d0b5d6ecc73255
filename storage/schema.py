"""The SQL schema: every table declared once (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Every table starts with `tenant_id TEXT NOT NULL`, the leading column of its primary key and
indexes. PostgreSQL-only parts (RLS policies, extensions) live in the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    TypeDecorator,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both dialects (SQLite stores it naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def tenant_column() -> Column[str]:
    """The column every table starts with."""
    return Column("tenant_id", Text, nullable=False)


# 0. kv / state: the current value of each key ...
kv_entries = Table(
    "kv_entries",
    metadata,
    tenant_column(),
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),  # JSON text
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "scope", "key"),
)

# ... and its kept versions (the current one included), for `State.history`.
kv_history = Table(
    "kv_history",
    metadata,
    tenant_column(),
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "scope", "key", "version"),
)

# Which tables belong to which component (`llmspell storage schema --component C`).
COMPONENT_TABLES: dict[str, tuple[str, ...]] = {
    "kv": ("kv_entries", "kv_history"),
}
