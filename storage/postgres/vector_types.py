"""pgvector's psycopg adapters on every PostgreSQL connection: embeddings travel in pgvector's
binary format (numpy float32 arrays for `vector`, `HalfVector` for `halfvec`) instead of text
(a `[0.1,...]` string formatted in Python and parsed by the server, several times slower)."""

from __future__ import annotations

from typing import Any

import psycopg
from pgvector.sqlalchemy import HALFVEC, VECTOR
from sqlalchemy import Dialect
from sqlalchemy.types import TypeEngine


def register_vector_types(conn: psycopg.Connection[Any]) -> None:
    """Register the `vector` and `halfvec` adapters on `conn` (one catalogue lookup). Without
    the pgvector extension there is nothing to register: the memory tables need it, and the
    migration that creates them says so."""
    from pgvector.psycopg import register_vector
    from psycopg.types import TypeInfo

    if TypeInfo.fetch(conn, "vector") is not None:
        register_vector(conn)


def column_type(dimension: int, half: bool) -> TypeEngine[Any]:
    """The SQLAlchemy type of an embedding column, `vector(N)` or `halfvec(N)`, whose values
    the connection's adapters convert (SQLAlchemy passes them through: its pgvector types would
    format text)."""
    return (_DriverHalfVector if half else _DriverVector)(dimension)


class _DriverVector(VECTOR):
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> None:
        return None


class _DriverHalfVector(HALFVEC):
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> None:
        return None
