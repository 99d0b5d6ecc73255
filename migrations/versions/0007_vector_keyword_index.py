"""Keyword (full-text) index over the content of every vectors table, kept by the database.

SQLite: an FTS5 table per vectors table with the triggers that keep it in step (existing rows
indexed). PostgreSQL: a stored generated tsvector column and its GIN index. The objects come
from `llmspell.storage.fulltext`, which the in-memory database's `create_all` uses too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from llmspell.storage.fulltext import create_sql, drop_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DIMENSIONS = (128, 256, 384, 512, 768, 1024, 1536, 3072)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for dimension in DIMENSIONS:
        for statement in create_sql(f"vectors_{dimension}", dialect):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for dimension in DIMENSIONS:
        for statement in drop_sql(f"vectors_{dimension}", dialect):
            op.execute(statement)
