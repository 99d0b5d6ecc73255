"""Artifact bodies only in chunk rows: PostgreSQL Large Objects move into artifact_chunks.

A Large Object sits outside row-level security: every tenant's objects belonged to the one app
role, so any tenant could list them (`pg_largeobject_metadata`) and read them (`lo_get`).
Chunk rows carry the tenant and are under the forced tenant policy like every other row.

Upgrade (PostgreSQL): each referenced object is copied into chunk rows of 1 MiB inside the
server (no body passes through Python), then unlinked; the `large_object` column and the
owner's read policy on artifact_content (it existed only to find orphaned objects) go. The
owner must be able to read and unlink the objects, which belong to the app role: when it
cannot, the upgrade stops before changing anything and says which GRANT lets it.

Downgrade: the column and the policy come back, and the bodies stay in chunk rows. 0009 reads
a body from chunk rows whenever `large_object` is NULL, so every artifact reads as before.
Moving bodies back would make objects owned by the owner, which 0009's app role could neither
unlink nor overwrite.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from llmspell.storage.errors import StorageError

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHUNK_BYTES = 1024 * 1024  # ArtifactSettings.chunk_bytes' default; any chunk size reads back
AUDIT_POLICY = "owner_reads_for_integrity_checks"
TABLES = ("artifact_content", "artifact_chunks")
# The large objects artifact_content references, joined to the catalog (an object that is gone
# has no body to move: the integrity check reports it missing, as it did before).
REFERENCED = "FROM artifact_content c JOIN pg_largeobject_metadata m ON m.oid = c.large_object::oid"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _move_large_objects_into_rows(bind)
    op.drop_column("artifact_content", "large_object")


def _move_large_objects_into_rows(bind: sa.Connection) -> None:
    quote = bind.dialect.identifier_preparer.quote
    # The owner works on every tenant's rows here; FORCE comes back before the transaction
    # ends, and nobody sees the tables in between (ALTER TABLE locks them until commit).
    for table in TABLES:
        op.execute(f"ALTER TABLE {quote(table)} NO FORCE ROW LEVEL SECURITY")
    unreadable, owners = bind.execute(
        sa.text(
            "SELECT count(*), string_agg(DISTINCT pg_get_userbyid(m.lomowner), ', ') "
            f"{REFERENCED} WHERE NOT pg_has_role(current_user, m.lomowner, 'USAGE')"
        )
    ).one()
    if unreadable:
        me = bind.execute(sa.text("SELECT current_user")).scalar_one()
        raise StorageError(
            f"{unreadable} artifact bodies are PostgreSQL large objects owned by {owners}, "
            f"which {me!r} may not read or unlink; this upgrade moves them into artifact_chunks "
            f"(row-level security does not reach large objects). As a superuser run "
            f"GRANT {owners} TO {me}, run `llmspell storage upgrade` again, then "
            f"REVOKE {owners} FROM {me}"
        )
    bind.execute(
        sa.text(
            "INSERT INTO artifact_chunks (tenant_id, content_hash, chunk_index, data) "
            "SELECT c.tenant_id, c.content_hash, i::integer, lo_get(m.oid, i * :chunk, :chunk) "
            f"{REFERENCED} CROSS JOIN LATERAL generate_series(0, (c.size - 1) / :chunk) AS i"
        ),
        {"chunk": CHUNK_BYTES},
    )
    bind.execute(sa.text(f"SELECT lo_unlink(m.oid) {REFERENCED}"))
    app_role = context.config.attributes.get("app_role")
    if app_role:
        left = bind.execute(
            sa.text(
                "SELECT count(*) FROM pg_largeobject_metadata "
                "WHERE lomowner = (SELECT oid FROM pg_roles WHERE rolname = :role)"
            ),
            {"role": app_role},
        ).scalar_one()
        if left:
            context.config.attributes["notes"].append(
                f"{left} large objects of the app role {app_role!r} belong to no artifact "
                "(llmspell stores none any more); remove them as that role with "
                "SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE lomowner = "
                "current_user::regrole"
            )
    op.execute(f"DROP POLICY IF EXISTS {quote(AUDIT_POLICY)} ON {quote('artifact_content')}")
    for table in TABLES:
        op.execute(f"ALTER TABLE {quote(table)} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.add_column("artifact_content", sa.Column("large_object", sa.BigInteger()))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        quote = bind.dialect.identifier_preparer.quote
        op.execute(
            f"CREATE POLICY {quote(AUDIT_POLICY)} ON {quote('artifact_content')} "
            "FOR SELECT TO CURRENT_USER USING (true)"
        )
