"""sessions and artifacts tables; on PostgreSQL tenant row-level security on each, and a read
policy on artifact_content for the owner (the orphaned-large-object check).

Revision ID: 0005
Revises: 0004
Create Date: 2026-05-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = (
    "sessions",
    "session_tags",
    "artifact_content",
    "artifact_chunks",
    "artifacts",
    "artifact_tags",
    "artifact_sequences",
)
# Large objects sit outside row-level security, so "no artifact_content row references this
# object" can only be answered by a role that sees every tenant's rows. The owner may read them
# (it owns the table and could switch RLS off anyway); the app role is unaffected.
AUDIT_POLICY = "owner_reads_for_integrity_checks"


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text()),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "session_id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_tenant_id_updated_at", "sessions", ["tenant_id", "updated_at"])
    op.create_index(
        "ix_sessions_tenant_id_status_updated_at", "sessions", ["tenant_id", "status", "updated_at"]
    )
    op.create_table(
        "session_tags",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "session_id", "tag", name="pk_session_tags"),
    )
    op.create_index("ix_session_tags_tenant_id_tag", "session_tags", ["tenant_id", "tag"])

    op.create_table(
        "artifact_content",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("ref_count", sa.Integer(), nullable=False),
        sa.Column("large_object", sa.BigInteger()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "content_hash", name="pk_artifact_content"),
    )
    op.create_table(
        "artifact_chunks",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "content_hash", "chunk_index", name="pk_artifact_chunks"
        ),
    )
    op.create_table(
        "artifacts",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.PrimaryKeyConstraint("tenant_id", "session_id", "sequence", name="pk_artifacts"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "content_hash"],
            ["artifact_content.tenant_id", "artifact_content.content_hash"],
            name="fk_artifacts_tenant_id_content_hash_artifact_content",
        ),
    )
    op.create_index(
        "ix_artifacts_tenant_id_session_id_name_version",
        "artifacts",
        ["tenant_id", "session_id", "name", "version"],
        unique=True,
    )
    op.create_index(
        "ix_artifacts_tenant_id_content_hash", "artifacts", ["tenant_id", "content_hash"]
    )
    op.create_index("ix_artifacts_tenant_id_created_at", "artifacts", ["tenant_id", "created_at"])
    op.create_table(
        "artifact_tags",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "session_id", "sequence", "tag", name="pk_artifact_tags"
        ),
    )
    op.create_index("ix_artifact_tags_tenant_id_tag", "artifact_tags", ["tenant_id", "tag"])
    op.create_table(
        "artifact_sequences",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "session_id", name="pk_artifact_sequences"),
    )

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        quote = bind.dialect.identifier_preparer.quote
        for table in TABLES:
            for statement in enable_rls_sql(table, quote):
                op.execute(statement)
        op.execute(
            f"CREATE POLICY {quote(AUDIT_POLICY)} ON {quote('artifact_content')} "
            "FOR SELECT TO CURRENT_USER USING (true)"
        )


def downgrade() -> None:
    # Policies go with their tables; large objects do not. Unlink the bodies' objects this role
    # may unlink (its own, or any as a superuser); name the rest for the operator.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        owned = "pg_has_role(current_user, m.lomowner, 'USAGE')"
        join = (
            "FROM artifact_content c JOIN pg_largeobject_metadata m ON m.oid = c.large_object::oid"
        )
        bind.execute(sa.text(f"SELECT lo_unlink(m.oid) {join} WHERE {owned}"))
        left = bind.execute(sa.text(f"SELECT count(*) {join} WHERE NOT {owned}")).scalar_one()
        if left:
            context.config.attributes["notes"].append(
                f"{left} large objects of artifact bodies belong to the app role and were not "
                "removed; as a superuser run `vacuumlo` on this database to remove them"
            )
    for table in reversed(TABLES):
        op.drop_table(table)
