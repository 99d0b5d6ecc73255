"""API keys: encrypted secrets per service, at most one active per service (tenant RLS on
PostgreSQL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rotated_from", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name="pk_api_keys"),
    )
    op.create_index(
        "ix_api_keys_tenant_id_service_created_at",
        "api_keys",
        ["tenant_id", "service", "created_at"],
    )
    # At most one active key per service.
    op.create_index(
        "ix_api_keys_tenant_id_service_active",
        "api_keys",
        ["tenant_id", "service"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    if bind.dialect.name == "postgresql":
        for statement in enable_rls_sql("api_keys", bind.dialect.identifier_preparer.quote):
            op.execute(statement)


def downgrade() -> None:
    # Indexes and the policy go with the table.
    op.drop_table("api_keys")
