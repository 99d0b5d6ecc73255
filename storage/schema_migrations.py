"""Running the alembic chain in code (no alembic.ini): config, head, upgrade/downgrade.

Imported only when a schema must change or be inspected, because alembic is slow to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select

import llmspell.migrations
from llmspell.migrations import HEAD, REVISIONS
from llmspell.storage.errors import StorageError
from llmspell.storage.revision import classify, read_revision

# pg_advisory_xact_lock key: one migration at a time per database ("llmm" in ASCII).
MIGRATION_LOCK = 0x6C6C6D6D


@dataclass(frozen=True)
class MigrationResult:
    """What `storage upgrade|downgrade` did to one database."""

    backend: str
    database: str
    before: str | None
    after: str | None
    notes: list[str] = field(default_factory=list)


def alembic_config(
    connection: Connection | None = None,
    *,
    app_role: str | None = None,
    notes: list[str] | None = None,
) -> Config:
    """An alembic Config on `llmspell.migrations`, carrying the connection to migrate.

    `app_role` is granted DML on the tables after a PostgreSQL migration; migrations append
    messages for the operator to `notes`.
    """
    config = Config()
    config.set_main_option("script_location", str(Path(llmspell.migrations.__file__).parent))
    config.attributes["connection"] = connection
    config.attributes["app_role"] = app_role
    config.attributes["notes"] = notes if notes is not None else []
    return config


def alembic_revisions() -> list[str]:
    """The chain as alembic computes it from `versions/`, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def alembic_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def run_alembic(
    connection: Connection,
    action: str,
    revision: str,
    *,
    app_role: str | None = None,
    notes: list[str] | None = None,
) -> None:
    """`alembic upgrade|downgrade <revision>` on `connection` (inside the caller's transaction)."""
    config = alembic_config(connection, app_role=app_role, notes=notes)
    if action == "upgrade":
        command.upgrade(config, revision)
    elif action == "downgrade":
        command.downgrade(config, revision)
    else:
        raise ValueError(f"unknown migration action {action!r}; allowed: upgrade, downgrade")


def check_target(revision: str, *, allow_base: bool) -> str:
    """`revision` as a chain revision ("head" resolved), or StorageError listing the allowed."""
    allowed = ["head", *REVISIONS] + (["base"] if allow_base else [])
    if revision not in allowed:
        raise StorageError(f"unknown revision {revision!r}; allowed: {', '.join(allowed)}")
    return HEAD if revision == "head" else revision


def _position(revision: str | None) -> int:
    return 0 if revision in (None, "base") else REVISIONS.index(str(revision)) + 1


def migrate(
    conn: Connection, action: str, revision: str, app_role: str | None
) -> tuple[str | None, str | None, list[str]]:
    """Upgrade or downgrade the database of `conn` (as its owner) to `revision`, in one
    transaction; returns (before, after, notes for the operator). PostgreSQL runs one migration
    at a time per database; a database at an unknown revision is left untouched."""
    notes: list[str] = []
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        before = read_revision(conn)
        classify(before)  # an unknown revision stops here, untouched
        if action == "downgrade" and _position(revision) > _position(before):
            raise StorageError(
                f"cannot downgrade to {revision}: the database is at {before or 'base'}, which "
                "is older; use `llmspell storage upgrade --revision`"
            )
        run_alembic(conn, action, revision, app_role=app_role, notes=notes)
        after = read_revision(conn)
    return before, after, notes
