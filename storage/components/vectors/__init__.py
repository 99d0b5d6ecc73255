"""Component 1, vectors: embeddings with content and metadata, in namespaces, one table per size.

A vector lives in a namespace (`global`, `session:<id>`, `episodic`, any text) and in the table
of its dimension (`vectors_384`...; any other size is an error listing the supported ones). The
namespace's row in `vector_namespaces` pins the model and dimension that wrote it, so a search
with another model is an error instead of a silent mix, and carries a generation stamp that
changes with every write (in-process caches compare it to know they are current).

Search returns `score = 1 - cosine distance`. PostgreSQL: pgvector `vector(N)` columns with an
HNSW index (`halfvec` for 3072), `hnsw.iterative_scan = relaxed_order` on every search (the
tenant and namespace always filter); new rows wait outside the index (`indexed = false`, searched
exactly) until a fold takes them in. SQLite and memory: float32 BLOBs and exact search over a
`NamespaceMatrix` kept in step with the store's own writes. Expired vectors never come back and
are swept by every write to their table.

- `model`: sizes, records, hits, summaries, settings, the `VectorStore` Protocol;
- `tables`: the namespace table and one vectors table per dimension;
- `rows`: statement cache, filter clauses, selected columns and records, checked new rows;
- `namespaces`: the namespace row (model pin, generation, count, end when empty);
- `search`: similarity search, `PostgresSearch` (HNSW) or `MatrixSearch` (exact, in process);
- `fold`: PostgreSQL's deferred indexing, folding new rows into the HNSW index after the add;
- `keyword`: keyword search, BM25 over an in-process index per namespace (`keyword_index`);
- `store`: `SqlVectorStore`, writes, expiry, deletes and reads, picking both strategies once.
"""

from llmspell.storage.components.vectors.model import (
    SUPPORTED_DIMENSIONS,
    DocumentSummary,
    NamespaceInfo,
    NewVector,
    VectorHit,
    VectorModelMismatch,
    VectorRecord,
    VectorSettings,
    VectorStore,
    check_dimension,
)
from llmspell.storage.components.vectors.store import SqlVectorStore
from llmspell.storage.components.vectors.tables import (
    VECTOR_TABLES,
    hnsw_index_name,
    vector_namespaces,
    vector_table,
)
from llmspell.storage.registry import Component
from llmspell.storage.vector_matrix import VectorFilter

__all__ = [
    "SUPPORTED_DIMENSIONS",
    "VECTOR_TABLES",
    "DocumentSummary",
    "NamespaceInfo",
    "NewVector",
    "SqlVectorStore",
    "VectorFilter",
    "VectorHit",
    "VectorModelMismatch",
    "VectorRecord",
    "VectorSettings",
    "VectorStore",
    "check_dimension",
    "hnsw_index_name",
    "vector_namespaces",
    "vector_table",
]

COMPONENT = Component(
    name="vectors",
    title="embeddings by namespace with content, metadata and TTL, searched by cosine similarity",
    protocol=VectorStore,
    tables=(vector_namespaces, *VECTOR_TABLES.values()),
    store=SqlVectorStore,
    settings=VectorSettings,
    session_data_owner="llmspell.runtime.sessions.vectors:SessionVectors",
)
