"""What every table is declared with: the shared MetaData, its naming convention and column types.

Each component declares its tables once (SQLAlchemy Core) in its own module on this MetaData;
both SQLite and PostgreSQL use them. Every table starts with `tenant_id TEXT NOT NULL`, the
leading column of its primary key and indexes (the registry refuses a table that does not).
PostgreSQL-only parts (RLS policies, extensions) live in the migrations.
`llmspell.storage.registry.metadata()` gives this MetaData with every component loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Dialect,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    event,
)
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
# PostgreSQL run-time setting a copy (`storage migrate`, `storage restore`) turns on in its
# transaction: triggers that derive rows from the rows written (a state entry's first version)
# stand aside, for the copy writes those rows as the source holds them.
COPYING_SETTING = "llmspell.copying"
# Key in a table's `info`: functions giving, for a dialect name, the statements that follow its
# CREATE TABLE (`created_with`).
CREATED_WITH = "llmspell_created_with"


def created_with(table: Table, statements: Callable[[str], list[str]]) -> None:
    """Run `statements(dialect_name)` (triggers and the like, which a Table cannot declare)
    whenever `metadata.create_all` creates `table` (the in-memory database), and list them in
    `storage schema --sql`; files and PostgreSQL get them from a migration."""
    table.info.setdefault(CREATED_WITH, []).append(statements)

    def create(target: Table, connection: Connection, **_: Any) -> None:
        # psycopg reads % as a placeholder even without parameters (a PL/pgSQL RAISE uses it)
        percent = "%%" if connection.dialect.paramstyle in ("format", "pyformat") else "%"
        for statement in statements(connection.dialect.name):
            connection.exec_driver_sql(statement.replace("%", percent))

    event.listen(table, "after_create", create)


# Key in an index's `info`: the one dialect it exists on (`dialect_indexes`).
CREATED_ON = "llmspell_created_on"


def dialect_indexes(name: str, lookup: list[str], carried: list[str]) -> list[Index]:
    """One index under one name in each dialect's form: it looks up `lookup` and answers from
    the `carried` columns too. On SQLite (no INCLUDE) every column is a key column; on
    PostgreSQL only `lookup` is and the rest are INCLUDE columns, so a lookup checks the
    carried columns as filters rather than as index conditions (see migration 0016)."""
    return [
        Index(name, *lookup, *carried, info={CREATED_ON: "sqlite"}).ddl_if(dialect="sqlite"),
        Index(name, *lookup, postgresql_include=carried, info={CREATED_ON: "postgresql"}).ddl_if(
            dialect="postgresql"
        ),
    ]


def created_on(index: Index, dialect_name: str) -> bool:
    """Whether `index` exists in databases of `dialect_name` (see `dialect_indexes`)."""
    return bool(index.info.get(CREATED_ON, dialect_name) == dialect_name)


# pgvector's HNSW indexes `vector` up to 2000 dimensions; larger ones are stored as halfvec.
HALFVEC_FROM = 2001


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
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    # On SQLite, one function each way instead of SQLAlchemy's chain of three (this type's, then
    # DATETIME's format): the same text and the same values, at a third of the cost, which the
    # state write (one timestamp per put) and a migration's reads (one per row) pay.
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            # Every timestamp llmspell makes is in UTC: it needs neither the check nor the
            # conversion.
            moment = value if value.tzinfo is UTC else self.process_bind_param(value, dialect)
            if moment is None:
                return None
            # SQLAlchemy's DATETIME format, "%Y-%m-%d %H:%M:%S.%f" (microseconds always), is
            # the ISO text without its "+00:00" (`replace(tzinfo=None)` costs more than both).
            return moment.isoformat(" ", "microseconds")[:-6]

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:  # stored as UTC without an offset: read as UTC (5x faster than `replace`)
                moment = datetime.fromisoformat(value + "+00:00")
            except ValueError:  # text with an offset: as SQLAlchemy's DATETIME reads it
                moment = datetime.fromisoformat(value)
            if moment.tzinfo is UTC:
                return moment
            return self.process_result_value(moment, dialect)  # a date alone reads naive

        return process


class Embedding(TypeDecorator[Any]):
    """A float32 vector: pgvector `vector(N)` (`halfvec(N)` above 2000) on PostgreSQL, sent and
    read in binary, a float32 BLOB on SQLite."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from llmspell.storage.postgres.vector_types import column_type

            return dialect.type_descriptor(column_type(self.dimension, self._half))
        return dialect.type_descriptor(LargeBinary())

    @property
    def _half(self) -> bool:
        return self.dimension >= HALFVEC_FROM

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        # numpy loads with the first vector, not with every storage that opens
        import numpy as np

        if value is None:
            return None
        array = np.asarray(value, dtype=np.float32)
        if dialect.name != "postgresql":
            return array.tobytes()
        # psycopg sends these in pgvector's binary format (`postgres.vector_types`)
        if self._half:
            from pgvector import HalfVector

            return HalfVector(array)
        return array

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        import numpy as np

        if value is None:
            return None
        if isinstance(value, bytes | memoryview):
            return np.frombuffer(bytes(value), dtype=np.float32)
        to_numpy = getattr(value, "to_numpy", None)
        return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def json_column_type() -> TypeEngine[Any]:
    """JSON documents: JSONB on PostgreSQL (indexable, compared by value), JSON on SQLite."""
    from sqlalchemy import JSON
    from sqlalchemy.dialects.postgresql import JSONB

    return JSON().with_variant(JSONB(), "postgresql")


def tenant_column() -> Column[str]:
    """The column every table starts with."""
    return Column("tenant_id", Text, nullable=False)
