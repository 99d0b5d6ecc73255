"""hook history: every execution of a hook callback; tenant row-level security on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_history",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("execution_id", sa.Text(), nullable=False),
        sa.Column("hook_point", sa.Text(), nullable=False),
        sa.Column("hook_id", sa.Text(), nullable=False),
        sa.Column("hook_name", sa.Text(), nullable=True),
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("context", sa.LargeBinary(), nullable=False),
        sa.Column("context_compressed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "execution_id", name="pk_hook_history"),
    )
    for columns in (
        ("tenant_id", "hook_point", "started_at"),
        ("tenant_id", "correlation_id", "started_at"),
        ("tenant_id", "session_id", "started_at"),
    ):
        op.create_index(f"ix_hook_history_{'_'.join(columns)}", "hook_history", list(columns))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in enable_rls_sql("hook_history", bind.dialect.identifier_preparer.quote):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("hook_history")
