"""The artifact tables: content once per (tenant, sha256) with a reference count, its body in
chunk rows, and the artifacts that point at it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from llmspell.storage.schema import UtcDateTime, metadata, tenant_column

# One row per distinct body of a tenant. Never shared across tenants: the hash is only ever
# looked up inside the tenant, so nobody learns what another tenant stored.
artifact_content = Table(
    "artifact_content",
    metadata,
    tenant_column(),
    Column("content_hash", Text, nullable=False),  # sha256, hex
    Column("size", BigInteger, nullable=False),
    Column("ref_count", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "content_hash"),
)

# The body, `chunk_bytes` a row, in order of chunk_index. Big bodies too: a row is the only
# place PostgreSQL's row-level security reaches (a Large Object would sit outside it).
artifact_chunks = Table(
    "artifact_chunks",
    metadata,
    tenant_column(),
    Column("content_hash", Text, nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "content_hash", "chunk_index"),
)

artifacts = Table(
    "artifacts",
    metadata,
    tenant_column(),
    Column("session_id", Text, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("mime_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("tags", Text, nullable=False),  # JSON list, in the order given
    Column("metadata", Text, nullable=False),  # JSON object
    Column("content_hash", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", Text),
    PrimaryKeyConstraint("tenant_id", "session_id", "sequence"),
    ForeignKeyConstraint(
        ["tenant_id", "content_hash"],
        ["artifact_content.tenant_id", "artifact_content.content_hash"],
    ),
    Index(None, "tenant_id", "session_id", "name", "version", unique=True),
    Index(None, "tenant_id", "content_hash"),
    Index(None, "tenant_id", "created_at"),
)

artifact_tags = Table(
    "artifact_tags",
    metadata,
    tenant_column(),
    Column("session_id", Text, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("tag", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "session_id", "sequence", "tag"),
    Index(None, "tenant_id", "tag"),
)

# The last sequence handed out per session: sequences are never reused (a deleted artifact's
# id never names another one), and the counter row serialises concurrent stores in a session.
artifact_sequences = Table(
    "artifact_sequences",
    metadata,
    tenant_column(),
    Column("session_id", Text, nullable=False),
    Column("last_sequence", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "session_id"),
)

TABLES = (artifact_content, artifact_chunks, artifacts, artifact_tags, artifact_sequences)
