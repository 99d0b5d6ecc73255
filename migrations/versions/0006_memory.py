"""Memory: vectors (one table per dimension + namespaces), bi-temporal graph, procedural patterns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from llmspell.storage.errors import StorageError
from llmspell.storage.postgres.rls import enable_rls_sql
from llmspell.storage.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DIMENSIONS = (128, 256, 384, 512, 768, 1024, 1536, 3072)
HALFVEC_FROM = 2001  # pgvector's HNSW indexes `vector` up to 2000 dimensions


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(pg.JSONB(), "postgresql")


def _embedding(dimension: int, postgres: bool) -> sa.types.TypeEngine[Any]:
    if not postgres:
        return sa.LargeBinary()
    from pgvector.sqlalchemy import HALFVEC, VECTOR

    return HALFVEC(dimension) if dimension >= HALFVEC_FROM else VECTOR(dimension)


def _temporal() -> list[sa.Column[object]]:
    return [
        sa.Column("valid_from", UtcDateTime(), nullable=False),
        sa.Column("valid_to", UtcDateTime()),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("superseded_at", UtcDateTime()),
    ]


def _tables() -> list[str]:
    return [
        "vector_namespaces",
        *(f"vectors_{d}" for d in DIMENSIONS),
        "graph_entities",
        "graph_relationships",
        "procedural_patterns",
    ]


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _require_vector_extension(bind)

    op.create_table(
        "vector_namespaces",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "namespace", name="pk_vector_namespaces"),
    )
    for dimension in DIMENSIONS:
        name = f"vectors_{dimension}"
        op.create_table(
            name,
            sa.Column("tenant_id", sa.Text(), nullable=False),
            sa.Column("id", sa.Text(), nullable=False),
            sa.Column("namespace", sa.Text(), nullable=False),
            sa.Column("document_id", sa.Text()),
            sa.Column("content", sa.Text(), nullable=False),
            sa.Column("metadata", _json(), nullable=False),
            sa.Column("model", sa.Text(), nullable=False),
            sa.Column("created_at", UtcDateTime(), nullable=False),
            sa.Column("event_time", UtcDateTime()),
            sa.Column("expires_at", UtcDateTime()),
            sa.Column("embedding", _embedding(dimension, postgres), nullable=False),
            sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{name}"),
        )
        op.create_index(
            f"ix_{name}_tenant_id_namespace_document_id",
            name,
            ["tenant_id", "namespace", "document_id"],
        )
        op.create_index(f"ix_{name}_tenant_id_expires_at", name, ["tenant_id", "expires_at"])
        if postgres:
            ops = "halfvec_cosine_ops" if dimension >= HALFVEC_FROM else "vector_cosine_ops"
            op.create_index(
                f"ix_vectors_{dimension}_embedding_hnsw",
                name,
                ["embedding"],
                postgresql_using="hnsw",
                postgresql_ops={"embedding": ops},
            )

    op.create_table(
        "graph_entities",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("properties", _json(), nullable=False),
        *_temporal(),
        sa.PrimaryKeyConstraint("tenant_id", "entity_id", "version", name="pk_graph_entities"),
    )
    op.create_index("ix_graph_entities_tenant_id_type", "graph_entities", ["tenant_id", "type"])
    op.create_index("ix_graph_entities_tenant_id_name", "graph_entities", ["tenant_id", "name"])
    op.create_table(
        "graph_relationships",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("relationship_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_id", sa.Text(), nullable=False),
        sa.Column("to_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("properties", _json(), nullable=False),
        *_temporal(),
        sa.PrimaryKeyConstraint(
            "tenant_id", "relationship_id", "version", name="pk_graph_relationships"
        ),
    )
    op.create_index(
        "ix_graph_relationships_tenant_id_from_id", "graph_relationships", ["tenant_id", "from_id"]
    )
    op.create_index(
        "ix_graph_relationships_tenant_id_to_id", "graph_relationships", ["tenant_id", "to_id"]
    )
    op.create_table(
        "procedural_patterns",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.Column("context", sa.JSON()),
        sa.PrimaryKeyConstraint("tenant_id", "trigger", "action", name="pk_procedural_patterns"),
    )
    op.create_index(
        "ix_procedural_patterns_tenant_id_id",
        "procedural_patterns",
        ["tenant_id", "id"],
        unique=True,
    )
    if postgres:
        quote = bind.dialect.identifier_preparer.quote
        for table in _tables():
            for statement in enable_rls_sql(table, quote):
                op.execute(statement)


def downgrade() -> None:
    # Indexes and policies go with their tables.
    for table in reversed(_tables()):
        op.drop_table(table)


def _require_vector_extension(bind: sa.Connection) -> None:
    installed = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first()
    if installed is None:
        database = bind.execute(sa.text("SELECT current_database()")).scalar_one()
        raise StorageError(
            "the memory tables need the pgvector extension, which is not installed: as a "
            f"superuser run `CREATE EXTENSION vector;` in database {database!r}, then "
            "`llmspell storage upgrade` again"
        )
