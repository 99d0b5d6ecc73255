"""workflow state: workflow executions and their steps (tenant row-level security on PostgreSQL).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("workflow_executions", "workflow_steps")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "workflow_executions",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("execution_id", sa.Text(), nullable=False),
        sa.Column("workflow_name", sa.Text(), nullable=False),
        sa.Column("workflow_type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("current_step", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "execution_id", name="pk_workflow_executions"),
    )
    op.create_index(
        "ix_workflow_executions_tenant_id_workflow_name_started_at",
        "workflow_executions",
        ["tenant_id", "workflow_name", "started_at"],
    )
    op.create_index(
        "ix_workflow_executions_tenant_id_status_started_at",
        "workflow_executions",
        ["tenant_id", "status", "started_at"],
    )
    op.create_table(
        "workflow_steps",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("execution_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "execution_id", "name", "iteration", name="pk_workflow_steps"
        ),
    )
    if bind.dialect.name == "postgresql":
        quote = bind.dialect.identifier_preparer.quote
        for table in TABLES:
            for statement in enable_rls_sql(table, quote):
                op.execute(statement)


def downgrade() -> None:
    # Policies go with their tables.
    op.drop_table("workflow_steps")
    op.drop_index(
        "ix_workflow_executions_tenant_id_status_started_at", table_name="workflow_executions"
    )
    op.drop_index(
        "ix_workflow_executions_tenant_id_workflow_name_started_at",
        table_name="workflow_executions",
    )
    op.drop_table("workflow_executions")
