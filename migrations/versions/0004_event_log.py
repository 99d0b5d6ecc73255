"""The event log (component `events`); on PostgreSQL monthly range partitions of it.

Revision ID: 0004
Revises: 0003
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.components.events import EVENT_LOG_PARTITIONS as PARTITIONS
from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("event_log", "event_sequences")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "event_log",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "sequence", "timestamp", name="pk_event_log"),
        postgresql_partition_by='RANGE ("timestamp")',
    )
    op.create_index("ix_event_log_tenant_id_event_type", "event_log", ["tenant_id", "event_type"])
    op.create_index(
        "ix_event_log_tenant_id_correlation_id", "event_log", ["tenant_id", "correlation_id"]
    )
    op.create_index("ix_event_log_tenant_id_timestamp", "event_log", ["tenant_id", "timestamp"])
    op.create_table(
        "event_sequences",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_event_sequences"),
    )
    if postgres:
        quote = bind.dialect.identifier_preparer.quote
        for table in TABLES:
            for statement in enable_rls_sql(table, quote):
                op.execute(statement)
        schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
        for statement in PARTITIONS.create_sql(schema, quote):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in PARTITIONS.drop_sql(bind.dialect.identifier_preparer.quote):
            op.execute(statement)
    op.drop_table("event_sequences")
    op.drop_table("event_log")  # with its partitions
