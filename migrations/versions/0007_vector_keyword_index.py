"""Keyword (full-text) index over the content of every vectors table, kept by the database.

SQLite: an FTS5 table per vectors table with the triggers that keep it in step (existing rows
indexed), from `llmspell.storage.fulltext`, which the in-memory database's `create_all` uses
too. PostgreSQL: a stored generated tsvector column and its GIN index
(`llmspell.migrations.postgres_tsvector`; 0013 drops them again).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from llmspell.migrations import postgres_tsvector
from llmspell.storage.fulltext import sqlite_create_sql, sqlite_drop_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    create = postgres_tsvector.create_sql if postgres else sqlite_create_sql
    for dimension in postgres_tsvector.DIMENSIONS:
        for statement in create(f"vectors_{dimension}"):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    drop = postgres_tsvector.drop_sql if postgres else sqlite_drop_sql
    for dimension in postgres_tsvector.DIMENSIONS:
        for statement in drop(f"vectors_{dimension}"):
            op.execute(statement)
