"""SQLite's own full-text index over the content of the vectors tables (migration 0007, and
`create_all` for the in-memory database): an FTS5 table `vectors_<N>_fts` over the table's
`content` (external content, keyed by rowid, porter-stemmed `unicode61` tokens), maintained by
triggers. (A VACUUM renumbers rowids of tables without an INTEGER PRIMARY KEY: after one,
`rebuild_sqlite_sql` re-indexes; `storage validate` checks it.)

Keyword search ranks in process (`llmspell.storage.keyword_index`, the same tokens and BM25 as
FTS5's `bm25()`): asking the database to rank scored every row holding a common word. FTS5
stays as the reference those scores are tested against and for tools reading the file;
PostgreSQL keeps no keyword index (migration 0013 dropped its tsvector column and GIN index,
which every write paid for and nothing read).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"


def fts_table_name(table: str) -> str:
    return f"{table}_fts"


def sqlite_create_sql(table: str) -> list[str]:
    """The FTS5 table over `table.content`, its triggers, and the indexing of existing rows."""
    fts = fts_table_name(table)
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(content, content='{table}', "
        f"content_rowid='rowid', tokenize='{SQLITE_TOKENIZER}')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, content) VALUES (new.rowid, new.content); END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.rowid, old.content); END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF content ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.rowid, old.content); "
        f"INSERT INTO {fts}(rowid, content) VALUES (new.rowid, new.content); END",
        rebuild_sqlite_sql(table),
    ]


def rebuild_sqlite_sql(table: str) -> str:
    """Re-index every row of `table` (after a VACUUM, or when the index was created late)."""
    fts = fts_table_name(table)
    return f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"


def sqlite_drop_sql(table: str) -> list[str]:
    fts = fts_table_name(table)
    return [
        *(f"DROP TRIGGER IF EXISTS {fts}_{event}" for event in ("insert", "delete", "update")),
        f"DROP TABLE IF EXISTS {fts}",
    ]


def index_with_table(table: Table) -> None:
    """Create the keyword index whenever `metadata.create_all` creates `table` on SQLite (the
    in-memory database is built that way; files get it from the migration), and list it in
    `storage schema --sql`."""
    from llmspell.storage.schema import created_with

    def statements(dialect_name: str) -> list[str]:
        return sqlite_create_sql(table.name) if dialect_name == "sqlite" else []

    created_with(table, statements)


def is_fulltext_object(name: str | None) -> bool:
    """Whether a table or trigger name belongs to a keyword index (not declared in the schema
    module: the schema comparison skips them, as it skips HNSW indexes)."""
    return name is not None and "_fts" in name


def sqlite_index_in_step(conn: Any, table: str) -> bool:
    """Whether `table`'s FTS5 index matches its rows (FTS5's own `integrity-check`, which for
    an external-content index compares it with the rows; `conn` is a SQLAlchemy Connection)."""
    from sqlalchemy.exc import DatabaseError

    fts = fts_table_name(table)
    try:
        conn.exec_driver_sql(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
    except DatabaseError as exc:
        if "malformed" not in str(exc.orig):
            raise
        return False
    return True


def sqlite_index_counts(conn: Any, table: str) -> tuple[int, int]:
    """(rows of `table`, rows its FTS5 index holds), for the message of an index out of step."""
    rows = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    indexed = conn.exec_driver_sql(f"SELECT count(*) FROM {fts_table_name(table)}_docsize")
    return int(rows), int(indexed.scalar_one())
