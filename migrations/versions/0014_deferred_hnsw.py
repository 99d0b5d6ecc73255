"""Vectors land un-indexed on PostgreSQL and join the HNSW index later (deferred indexing).

Every vectors table gains `indexed` (NOT NULL, default true: the rows already there are in the
index). PostgreSQL: the HNSW index is made again as a partial index `WHERE indexed`, and a
small partial btree `(tenant_id, namespace) WHERE NOT indexed` finds the tail of rows not yet
in it (the store writes new rows with `indexed = false`, searches the tail exactly beside the
HNSW scan, and folds it in). SQLite searches exactly and keeps every row `indexed`; its tail
index stays empty. Row-level security is unchanged (no table is made or dropped).

Upgrade and downgrade rebuild each table's HNSW index (minutes for millions of rows).
Downgrade: the full HNSW index again (it takes in the tail), the tail index and column dropped.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen here (as 0006 made the tables), not read from the schema module.
DIMENSIONS = (128, 256, 384, 512, 768, 1024, 1536, 3072)
HALFVEC_FROM = 2001  # pgvector's HNSW indexes `vector` up to 2000 dimensions


def _hnsw(dimension: int, partial: bool) -> None:
    name = f"vectors_{dimension}"
    ops = "halfvec_cosine_ops" if dimension >= HALFVEC_FROM else "vector_cosine_ops"
    op.create_index(
        f"ix_vectors_{dimension}_embedding_hnsw",
        name,
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": ops},
        postgresql_where=sa.text('"indexed"') if partial else None,
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for dimension in DIMENSIONS:
        name = f"vectors_{dimension}"
        op.add_column(
            name, sa.Column("indexed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        op.create_index(
            f"ix_{name}_unindexed",
            name,
            ["tenant_id", "namespace"],
            postgresql_where=sa.text('NOT "indexed"'),
            sqlite_where=sa.text('NOT "indexed"'),
        )
        if postgres:
            op.drop_index(f"ix_vectors_{dimension}_embedding_hnsw", name)
            _hnsw(dimension, partial=True)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for dimension in DIMENSIONS:
        name = f"vectors_{dimension}"
        if postgres:
            op.drop_index(f"ix_vectors_{dimension}_embedding_hnsw", name)
            _hnsw(dimension, partial=False)
        op.drop_index(f"ix_{name}_unindexed", name)
        op.drop_column(name, "indexed")
