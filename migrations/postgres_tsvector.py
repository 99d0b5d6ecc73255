"""PostgreSQL's former keyword index over a vectors table: a stored generated tsvector column and
its GIN index. Migration 0007 made them, 0013 drops them (keyword search ranks in process, so
they only cost every write); both need the same statements, frozen here."""

from __future__ import annotations

TSV_COLUMN = "content_tsv"
DIMENSIONS = (128, 256, 384, 512, 768, 1024, 1536, 3072)


def tsv_index_name(table: str) -> str:
    return f"ix_{table}_{TSV_COLUMN}"


def create_sql(table: str) -> list[str]:
    """The generated column (PostgreSQL computes it for the existing rows) and its GIN index."""
    return [
        f"ALTER TABLE {table} ADD COLUMN {TSV_COLUMN} tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('english'::regconfig, content)) STORED",
        f"CREATE INDEX {tsv_index_name(table)} ON {table} USING gin ({TSV_COLUMN})",
    ]


def drop_sql(table: str) -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {tsv_index_name(table)}",
        f"ALTER TABLE {table} DROP COLUMN IF EXISTS {TSV_COLUMN}",
    ]
