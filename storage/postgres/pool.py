"""The PostgreSQL connection pool (psycopg_pool) and the SQLAlchemy engine that borrows from it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from llmspell.storage.postgres.vector_types import register_vector_types


class PooledConnection(psycopg.Connection[TupleRow]):
    """A pool connection; SQLAlchemy adds its notice handler on every checkout, keep one."""

    def add_notice_handler(self, callback: Callable[[psycopg.errors.Diagnostic], None]) -> None:
        with contextlib.suppress(ValueError):
            self.remove_notice_handler(callback)
        super().add_notice_handler(callback)


def open_pool(url: str, *, min_size: int, max_size: int, name: str) -> ConnectionPool[Any]:
    """A psycopg_pool sized from config; `close()` on a borrowed connection returns it."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        connection_class=PooledConnection,
        min_size=min_size,
        max_size=max(max_size, min_size, 1),
        name=name,
        close_returns=True,
        timeout=30.0,
        open=False,
        configure=register_vector_types,
    )
    pool.open(wait=min_size > 0, timeout=30.0)
    return pool


def pool_engine(pool: ConnectionPool[Any]) -> Engine:
    """A SQLAlchemy engine whose connections come from (and go back to) `pool`.

    psycopg_pool's documented SQLAlchemy integration: NullPool + `creator=pool.getconn` with
    `close_returns=True`, so psycopg_pool alone sizes and recycles connections.
    """
    return create_engine(
        "postgresql+psycopg://", creator=pool.getconn, poolclass=NullPool, hide_parameters=True
    )
