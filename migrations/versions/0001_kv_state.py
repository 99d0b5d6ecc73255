"""kv/state tables; on PostgreSQL the vector extension and tenant row-level security.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("kv_entries", "kv_history")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _create_vector_extension(bind)

    op.create_table(
        "kv_entries",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "key", name="pk_kv_entries"),
    )
    op.create_table(
        "kv_history",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "key", "version", name="pk_kv_history"),
    )
    if postgres:
        quote = bind.dialect.identifier_preparer.quote
        for table in TABLES:
            for statement in enable_rls_sql(table, quote):
                op.execute(statement)


def downgrade() -> None:
    # Policies go with their tables; the vector extension stays (other objects may use it).
    op.drop_table("kv_history")
    op.drop_table("kv_entries")


def _create_vector_extension(bind: sa.Connection) -> None:
    installed = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first()
    if installed is not None:
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError as exc:
        diag = getattr(exc.orig, "diag", None)
        reason = (
            diag.message_primary if diag is not None and diag.message_primary else str(exc.orig)
        )
        database = bind.execute(sa.text("SELECT current_database()")).scalar_one()
        context.config.attributes["notes"].append(
            f"the pgvector extension is not installed and this role cannot install it ({reason}). "
            f"Vector storage needs it: as a superuser run `CREATE EXTENSION vector;` in database "
            f"{database!r}, then `llmspell storage upgrade` again"
        )
