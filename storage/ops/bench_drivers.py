"""The raw drivers `storage benchmark` measures beside the stores: sqlite3 and psycopg running
the equivalent statement on tables of the same shape, with nothing in between."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

DIMENSION = 384


class RawDriver(ABC):
    """The same statements on the driver itself: a key-value table, a row table, vectors."""

    placeholder = "?"
    kv = "bench_kv"
    rows = "bench_rows"
    edges = "bench_edges"
    vectors = "bench_vectors"

    @abstractmethod
    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run one statement in its own transaction; its rows."""

    def put(self, key: str, value: str) -> None:
        p = self.placeholder
        self.execute(
            f"INSERT INTO {self.kv} (k, v) VALUES ({p}, {p}) "
            "ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            (key, value),
        )

    def get(self, key: str) -> Any:
        rows = self.execute(f"SELECT v FROM {self.kv} WHERE k = {self.placeholder}", (key,))
        return rows[0][0] if rows else None

    def insert_row(self, row_id: str, body: str) -> None:
        p = self.placeholder
        self.execute(f"INSERT INTO {self.rows} (id, body) VALUES ({p}, {p})", (row_id, body))

    def insert_edge(self, edge_id: str, from_id: str, to_id: str) -> None:
        p = self.placeholder
        self.execute(
            f"INSERT INTO {self.edges} (id, from_id, to_id) VALUES ({p}, {p}, {p})",
            (edge_id, from_id, to_id),
        )

    def reach(self, start: str, depth: int) -> list[str]:
        """The ids within `depth` hops out of `start` (a recursive CTE over the edges)."""
        p = self.placeholder
        rows = self.execute(
            f"WITH RECURSIVE walk(id, hops) AS (SELECT CAST({p} AS TEXT), 0 UNION "
            f"SELECT e.to_id, w.hops + 1 FROM walk w JOIN {self.edges} e ON e.from_id = w.id "
            f"WHERE w.hops < {p}) SELECT DISTINCT id FROM walk WHERE id <> {p}",
            (start, depth, start),
        )
        return [r[0] for r in rows]

    @staticmethod
    def edge_table(name: str) -> list[str]:
        """The statements making the edges table `name` (indexed by its start, as the
        store's walk index is)."""
        return [
            f"CREATE TABLE {name} (id TEXT PRIMARY KEY, from_id TEXT NOT NULL, "
            "to_id TEXT NOT NULL)",
            f"CREATE INDEX {name}_from ON {name} (from_id, to_id)",
        ]

    @abstractmethod
    def insert_vector(self, vector_id: str, content: str, embedding: np.ndarray) -> None:
        """Store one vector with its content (and, where the store keeps one in the database,
        the content's keyword index entry)."""

    def index_vectors(self) -> None:
        """Put every stored vector into the nearest-neighbour index, as the store's
        `index_now` does between the adds and the searches (nothing where search is exact)."""
        return

    @abstractmethod
    def nearest(self, query: np.ndarray, k: int) -> list[str]:
        """The ids of the `k` vectors nearest `query` (cosine)."""

    @abstractmethod
    def keyword(self, word: str, k: int) -> list[str]:
        """The ids of the `k` best keyword matches of `word`."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""


class SqliteDriver(RawDriver):
    """sqlite3 on the benchmark's scratch file (memory: its own `:memory:`)."""

    def __init__(self, path: str) -> None:
        import sqlite3

        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in (
            # In the scratch file itself (a TEMP table would skip the file's commits).
            "CREATE TABLE bench_kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            "CREATE TABLE bench_rows (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
            *self.edge_table(self.edges),
            "CREATE TABLE bench_vectors (id TEXT PRIMARY KEY, content TEXT, embedding BLOB)",
            "CREATE VIRTUAL TABLE bench_fts USING fts5(content, content='bench_vectors', "
            "content_rowid='rowid')",
        ):
            self._conn.execute(statement)
        self._matrix: list[np.ndarray] = []
        self._ids: list[str] = []

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._conn.execute(statement, params).fetchall()

    def insert_vector(self, vector_id: str, content: str, embedding: np.ndarray) -> None:
        cursor = self._conn.execute(
            "INSERT INTO bench_vectors (id, content, embedding) VALUES (?, ?, ?)",
            (vector_id, content, embedding.astype(np.float32).tobytes()),
        )
        self._conn.execute(
            "INSERT INTO bench_fts (rowid, content) VALUES (?, ?)", (cursor.lastrowid, content)
        )

    def nearest(self, query: np.ndarray, k: int) -> list[str]:
        # SQLite has no vector search: the driver's floor is reading the rows and one matrix
        # product (the store keeps the matrix in memory instead).
        rows = self._conn.execute("SELECT id, embedding FROM bench_vectors").fetchall()
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        matrix = matrix.reshape(len(rows), -1)
        order = np.argsort(-(matrix @ query))[:k]
        return [rows[i][0] for i in order]

    def keyword(self, word: str, k: int) -> list[str]:
        rows = self._conn.execute(
            "SELECT v.id FROM bench_fts JOIN bench_vectors v ON v.rowid = bench_fts.rowid "
            "WHERE bench_fts MATCH ? ORDER BY bm25(bench_fts) LIMIT ?",
            (f'"{word}"', k),
        ).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self._conn.close()


class PostgresDriver(RawDriver):
    """psycopg as the owner, autocommit, on tables of the same shape (logged, indexed as the
    store's) that exist for the run only: the app role may not create tables."""

    placeholder = "%s"

    def __init__(self, owner_url: str, suffix: str) -> None:
        from pgvector.psycopg import register_vector

        from llmspell.storage.postgres.urls import connect

        self.kv = f"llmspell_bench_{suffix}_kv"
        self.rows = f"llmspell_bench_{suffix}_rows"
        self.edges = f"llmspell_bench_{suffix}_edges"
        self.vectors = f"llmspell_bench_{suffix}_vectors"
        self._conn = connect(owner_url, autocommit=True)
        register_vector(self._conn)
        for statement in (
            f"CREATE TABLE {self.kv} (k text PRIMARY KEY, v text NOT NULL)",
            f"CREATE TABLE {self.rows} (id text PRIMARY KEY, body text NOT NULL)",
            *self.edge_table(self.edges),
            # As the store's tables since revision 0014: rows land outside the partial HNSW
            # index and are indexed afterwards (deferred indexing).
            f"CREATE TABLE {self.vectors} (id text PRIMARY KEY, content text, "
            f"embedding vector({DIMENSION}), indexed boolean NOT NULL DEFAULT false)",
            f"CREATE INDEX ON {self.vectors} USING hnsw (embedding vector_cosine_ops) "
            "WHERE indexed",
        ):
            self._conn.execute(statement)
        # The store keeps no keyword index in PostgreSQL (it ranks in process, built at its
        # first keyword search), so neither do the raw inserts: the database's own full-text
        # index is built from the table at the first raw keyword search.
        self.keywords = f"llmspell_bench_{suffix}_keywords"
        self._keywords_built = False

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        cursor = self._conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []

    def insert_vector(self, vector_id: str, content: str, embedding: np.ndarray) -> None:
        self.execute(
            f"INSERT INTO {self.vectors} (id, content, embedding) VALUES (%s, %s, %s)",
            (vector_id, content, embedding.astype(np.float32)),
        )

    def index_vectors(self) -> None:
        self.execute(f"UPDATE {self.vectors} SET indexed = true WHERE NOT indexed")

    def nearest(self, query: np.ndarray, k: int) -> list[str]:
        rows = self.execute(
            f"SELECT id FROM {self.vectors} WHERE indexed ORDER BY embedding <=> %s LIMIT %s",
            (query.astype(np.float32), k),
        )
        return [r[0] for r in rows]

    def keyword(self, word: str, k: int) -> list[str]:
        if not self._keywords_built:
            self._conn.execute(
                f"CREATE TABLE {self.keywords} AS SELECT id, "
                f"to_tsvector('english', content) AS content_tsv FROM {self.vectors}"
            )
            self._conn.execute(f"CREATE INDEX ON {self.keywords} USING gin (content_tsv)")
            self._keywords_built = True
        rows = self.execute(
            f"SELECT id FROM {self.keywords}, websearch_to_tsquery('english', %s) q "
            "WHERE content_tsv @@ q ORDER BY ts_rank(content_tsv, q, 1) DESC LIMIT %s",
            (word, k),
        )
        return [r[0] for r in rows]

    def close(self) -> None:
        try:
            for table in (self.kv, self.rows, self.edges, self.vectors, self.keywords):
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            self._conn.close()
