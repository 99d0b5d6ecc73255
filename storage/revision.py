"""Schema revision checks on open: one SELECT on `alembic_version`, no alembic import."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
)

from llmspell.migrations import HEAD, REVISIONS
from llmspell.storage.errors import SchemaVersionError

# Declared as alembic creates it, so a database built without alembic matches one built with it.
alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

SchemaState = Literal["current", "behind", "empty"]


def read_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for a database without the llmspell schema."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return single_revision(conn.execute(select(alembic_version.c.version_num)).scalars().all())


def single_revision(rows: Sequence[str]) -> str | None:
    """The one revision `alembic_version` holds (None when empty); several are an error."""
    if not rows:
        return None
    if len(rows) > 1:
        raise SchemaVersionError(
            f"the database has several schema heads ({', '.join(sorted(rows))}); "
            f"llmspell keeps one linear chain ({' -> '.join(REVISIONS)})"
        )
    return str(rows[0])


def classify(revision: str | None) -> SchemaState:
    """Where `revision` stands against this llmspell's chain; an unknown one is an error."""
    if revision is None:
        return "empty"
    if revision == HEAD:
        return "current"
    if revision in REVISIONS:
        return "behind"
    raise SchemaVersionError(
        f"the database schema is at revision {revision!r}, which this llmspell does not know "
        f"(it knows {', '.join(REVISIONS)}; head {HEAD}). It was probably written by a newer "
        "llmspell: upgrade llmspell. The database is left untouched."
    )


def outdated_message(revision: str | None, where: str) -> str:
    """What to tell a user whose database needs `llmspell storage upgrade`."""
    found = "has no llmspell schema" if revision is None else f"is at schema revision {revision}"
    return (
        f"{where} {found}; this llmspell needs revision {HEAD}. "
        "Run `llmspell storage upgrade` (as the database owner), or set storage.auto_upgrade = true"
    )
