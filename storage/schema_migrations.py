"""Running the alembic chain in code (no alembic.ini): config, head, upgrade/downgrade.

Imported only when a schema must change or be inspected, because alembic is slow to import.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

import llmspell.migrations


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
