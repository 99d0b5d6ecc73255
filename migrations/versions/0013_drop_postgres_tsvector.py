"""PostgreSQL: the vectors tables lose the tsvector column and GIN index of 0007.

Keyword search ranks in process (`llmspell.storage.keyword_index`), so nothing reads them, yet
every row written computed `to_tsvector` and added its words to the GIN index. SQLite keeps its
FTS5 tables (the `storage validate` keyword-index check reads them); this revision changes
nothing there. Row-level security is unchanged (no table is made or dropped).

Downgrade: the column and index made again; PostgreSQL computes the column for every existing
row, so the index holds them all.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from llmspell.migrations import postgres_tsvector

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for dimension in postgres_tsvector.DIMENSIONS:
        for statement in postgres_tsvector.drop_sql(f"vectors_{dimension}"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for dimension in postgres_tsvector.DIMENSIONS:
        for statement in postgres_tsvector.create_sql(f"vectors_{dimension}"):
            op.execute(statement)
