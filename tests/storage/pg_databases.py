"""A fresh PostgreSQL database on the session's embedded server, for tests that need one of
their own (migrations from nothing, validate reading every tenant, plans on known data)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import sql

from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import connect, role_of, with_login


@contextmanager
def fresh_pg_database(pg_urls: PgLogins, prefix: str, *, vector: bool = True) -> Iterator[str]:
    """A new database owned by the owner role, named `<prefix>_<random>`, with pgvector when
    `vector` (what the operator does once as a superuser: it is not a trusted extension);
    dropped afterwards, its connections closed."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with connect(pg_urls.superuser_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(role_of(pg_urls.owner_url))
            )
        )
    try:
        if vector:
            with connect(with_login(pg_urls.superuser_url, dbname=name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION vector")
        yield name
    finally:
        with connect(pg_urls.superuser_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
