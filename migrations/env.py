"""Alembic environment: migrates the connection `llmspell.storage` hands over (never a URL).

Run through `llmspell storage upgrade|downgrade` (llmspell.storage.admin); after a PostgreSQL
migration the app role is granted DML on the tables, in the same transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from llmspell.storage.registry import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "llmspell migrations run through `llmspell storage upgrade` (llmspell.storage.admin), "
        "which supplies the database connection; there is no alembic.ini"
    )

context.configure(
    connection=connection,
    target_metadata=metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)

with context.begin_transaction():
    context.run_migrations()
    app_role = context.config.attributes.get("app_role")
    if connection.dialect.name == "postgresql" and app_role:
        from llmspell.storage.postgres.roles import grant_app_privileges

        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None  # a live connection from the engine
        notes = grant_app_privileges(driver_connection, app_role)
        context.config.attributes["notes"].extend(notes)
