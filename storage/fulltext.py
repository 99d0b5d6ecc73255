"""Full-text (keyword) search over the content of the vectors tables, in the database itself.

Each `vectors_<N>` table has a keyword index kept in step with its rows by the database, so a
write never rebuilds anything in the process and every process sees the same index:

- SQLite: an FTS5 table `vectors_<N>_fts` over the table's `content` (external content, keyed
  by rowid, porter-stemmed `unicode61` tokens), maintained by triggers; ranked by FTS5's
  `bm25()`. (A VACUUM renumbers rowids of tables without an INTEGER PRIMARY KEY: after one,
  `rebuild_sqlite_sql` re-indexes.)
- PostgreSQL: a stored generated column `content_tsv = to_tsvector('english', content)` with a
  GIN index; ranked by `ts_rank(content_tsv, query, 1)` (length-normalised term frequency).

The ranking contract is the same on both: a query is a list of words (`\\w+`, the caller drops
stop words); a row matches when it contains at least one of them after the backend's English
stemming; its score is the backend's relevance (> 0, higher is better). Both the migration and
`create_all` (the in-memory database) create these objects from the functions here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import DDL, Float, Table, bindparam, event, func, literal_column
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.sql import ColumnElement

TSV_COLUMN = "content_tsv"
TEXT_SEARCH_CONFIG = "english"
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"
MAX_TERMS = 64
_WORD = re.compile(r"^\w+$")


def fts_table_name(table: str) -> str:
    return f"{table}_fts"


def tsv_index_name(table: str) -> str:
    return f"ix_{table}_{TSV_COLUMN}"


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


def postgres_create_sql(table: str) -> list[str]:
    """The generated tsvector column (computed for existing rows) and its GIN index."""
    return [
        f"ALTER TABLE {table} ADD COLUMN {TSV_COLUMN} tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, content)) STORED",
        f"CREATE INDEX {tsv_index_name(table)} ON {table} USING gin ({TSV_COLUMN})",
    ]


def postgres_drop_sql(table: str) -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {tsv_index_name(table)}",
        f"ALTER TABLE {table} DROP COLUMN IF EXISTS {TSV_COLUMN}",
    ]


def create_sql(table: str, dialect: str) -> list[str]:
    return postgres_create_sql(table) if dialect == "postgresql" else sqlite_create_sql(table)


def drop_sql(table: str, dialect: str) -> list[str]:
    return postgres_drop_sql(table) if dialect == "postgresql" else sqlite_drop_sql(table)


def index_with_table(table: Table) -> None:
    """Create the keyword index whenever `metadata.create_all` creates `table` (the in-memory
    database is built that way; files and servers get it from the migration)."""
    for dialect in ("sqlite", "postgresql"):
        for statement in create_sql(table.name, dialect):
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))


def is_fulltext_object(name: str | None) -> bool:
    """Whether a table, column or index name belongs to a keyword index (not declared in the
    schema module: the schema comparison skips them, as it skips HNSW indexes)."""
    if name is None:
        return False
    return name == TSV_COLUMN or "_fts" in name or name.endswith(f"_{TSV_COLUMN}")


def check_terms(terms: Sequence[str]) -> list[str]:
    """`terms` as a list of distinct words (`\\w+`), at most MAX_TERMS; ValueError otherwise."""
    if isinstance(terms, str):
        raise ValueError("terms must be a list of words, not one string")
    words: list[str] = []
    for term in terms:
        if not isinstance(term, str) or not _WORD.match(term):
            raise ValueError(f"keyword terms must be words (letters, digits, _), got {term!r}")
        if term not in words:
            words.append(term)
    if len(words) > MAX_TERMS:
        raise ValueError(f"at most {MAX_TERMS} keyword terms, got {len(words)}")
    return words


def match_text(terms: Sequence[str], dialect: str) -> str:
    """The query text the backend parses: any of the words (they are `\\w+`, so no quoting
    can be broken and no operator can be formed)."""
    if dialect == "postgresql":
        # websearch_to_tsquery: words joined by `or`; it never raises on odd input.
        return " or ".join(terms)
    return " OR ".join(f'"{term}"' for term in terms)


def match_clause(table: Table, dialect: str) -> ColumnElement[bool]:
    """`table`'s rows containing a term of `:terms` (the text from `match_text`)."""
    if dialect == "postgresql":
        return literal_column(f"{table.name}.{TSV_COLUMN}").op("@@")(_tsquery())
    return literal_column(fts_table_name(table.name)).op("MATCH")(bindparam("terms"))


def rank_expression(table: Table, dialect: str) -> ColumnElement[Any]:
    """The relevance of a matching row (> 0, higher is better)."""
    if dialect == "postgresql":
        return func.ts_rank(
            literal_column(f"{table.name}.{TSV_COLUMN}"), _tsquery(), 1, type_=Float()
        )
    return -func.bm25(literal_column(fts_table_name(table.name)), type_=Float())


def sqlite_join_condition(table: Table) -> ColumnElement[bool]:
    fts = fts_table_name(table.name)
    return literal_column(f"{fts}.rowid") == literal_column(f"{table.name}.rowid")


def sqlite_fts_table(table: Table) -> Any:
    from sqlalchemy import table as lightweight_table

    return lightweight_table(fts_table_name(table.name))


def _tsquery() -> ColumnElement[Any]:
    return func.websearch_to_tsquery(
        literal_column(f"'{TEXT_SEARCH_CONFIG}'", type_=REGCONFIG()), bindparam("terms")
    )


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
