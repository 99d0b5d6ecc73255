"""The vectors component's tables: one row per namespace, one table of vectors per dimension
(on SQLite each with its FTS5 keyword index, `llmspell.storage.fulltext`)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    not_,
    true,
)

from llmspell.storage import fulltext
from llmspell.storage.components.vectors.model import SUPPORTED_DIMENSIONS, check_dimension
from llmspell.storage.schema import (
    Embedding,
    UtcDateTime,
    created_with,
    json_column_type,
    metadata,
    tenant_column,
)

vector_namespaces = Table(
    "vector_namespaces",
    metadata,
    tenant_column(),
    Column("namespace", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("dimension", Integer, nullable=False),
    Column("generation", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "namespace"),
)


def _vector_table(dimension: int) -> Table:
    name = f"vectors_{dimension}"
    table = Table(
        name,
        metadata,
        tenant_column(),
        Column("id", Text, nullable=False),
        Column("namespace", Text, nullable=False),
        Column("document_id", Text),
        Column("content", Text, nullable=False),
        Column("metadata", json_column_type(), nullable=False),
        Column("model", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("event_time", UtcDateTime()),
        Column("expires_at", UtcDateTime()),
        Column("embedding", Embedding(dimension), nullable=False),
        # In the HNSW index (PostgreSQL): new rows land false and a fold sets it (`fold`).
        # SQLite searches exactly: its rows are all true.
        Column("indexed", Boolean, nullable=False, server_default=true()),
        PrimaryKeyConstraint("tenant_id", "id"),
        Index(
            f"ix_{name}_tenant_id_namespace_document_id", "tenant_id", "namespace", "document_id"
        ),
        Index(f"ix_{name}_tenant_id_expires_at", "tenant_id", "expires_at"),
    )
    # The tail not yet in the HNSW index, per tenant and namespace (empty on SQLite).
    not_indexed = not_(table.c.indexed)
    Index(
        unindexed_index_name(dimension),
        table.c.tenant_id,
        table.c.namespace,
        postgresql_where=not_indexed,
        sqlite_where=not_indexed,
    )
    # The HNSW index (PostgreSQL only, partial: `WHERE indexed`) is created by the migration,
    # not declared here: pgvector's HNSW takes one column, so it cannot lead with tenant_id,
    # and SQLite searches exactly. Row-level security and the statement's own tenant filter
    # restrict its scans.
    return table


def hnsw_index_name(dimension: int) -> str:
    return f"ix_vectors_{dimension}_embedding_hnsw"


def unindexed_index_name(dimension: int) -> str:
    return f"ix_vectors_{dimension}_unindexed"


VECTOR_TABLES = {dimension: _vector_table(dimension) for dimension in SUPPORTED_DIMENSIONS}
for _table in VECTOR_TABLES.values():
    fulltext.index_with_table(_table)


def vector_table(dimension: int) -> Table:
    """The table that stores vectors of `dimension`."""
    return VECTOR_TABLES[check_dimension(dimension)]


# PostgreSQL: ANALYZE of a vectors table on behalf of the app role, which does not own it. A
# fold that emptied a large tail runs it: statistics taken while the tail waited (or none yet)
# say few rows are `indexed`, and the planner then sorts the whole namespace instead of asking
# the HNSW index (66 ms against 3 ms per search at 50K rows until autovacuum comes by).
ANALYZE_FUNCTION = "llmspell_vectors_analyze"


def analyze_function_sql(dialect_name: str) -> list[str]:
    """The SECURITY DEFINER function that analyzes `vectors_<dimension>` (migration 0017 made
    it from a frozen copy of these statements and pinned its search_path to the tables'
    schema); only the app role (granted EXECUTE on the schema's functions) and the owner may
    run it."""
    if dialect_name != "postgresql":
        return []
    dimensions = ", ".join(str(d) for d in SUPPORTED_DIMENSIONS)
    return [
        f"CREATE OR REPLACE FUNCTION {ANALYZE_FUNCTION}(dimension integer) RETURNS void "
        "LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$ BEGIN "
        f"IF dimension IS NULL OR NOT dimension = ANY (ARRAY[{dimensions}]) THEN "
        f"RAISE EXCEPTION 'dimension must be one of {dimensions}, got %', dimension; END IF; "
        "EXECUTE format('ANALYZE %I', 'vectors_' || dimension); END $fn$",
        f"REVOKE ALL ON FUNCTION {ANALYZE_FUNCTION}(integer) FROM PUBLIC",
    ]


created_with(vector_namespaces, analyze_function_sql)  # migration 0017 on PostgreSQL
