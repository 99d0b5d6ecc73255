"""The two ways the vectors store searches by similarity, one picked per store when it is
built: `PostgresSearch` asks pgvector's HNSW index; `MatrixSearch` (SQLite, memory) searches
exactly over a `NamespaceMatrix` per namespace, kept in step with the store's own writes and
reloaded when another process changed the namespace's generation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, and_, bindparam

from llmspell.storage.components.vectors.fold import HnswFold
from llmspell.storage.components.vectors.follow import NamespaceFollower, NamespaceLoad
from llmspell.storage.components.vectors.model import (
    VectorHit,
    VectorModelMismatch,
    VectorRecord,
    VectorSettings,
)
from llmspell.storage.components.vectors.namespaces import Namespaces
from llmspell.storage.components.vectors.rows import (
    Statements,
    filter_clauses,
    filter_params,
    record_columns,
    record_of,
    shape_of,
)
from llmspell.storage.components.vectors.tables import vector_table
from llmspell.storage.database import Database
from llmspell.storage.errors import StorageError
from llmspell.storage.postgres.hnsw import (
    hnsw_scan_settings,
    nearest_statement,
    similarity_statement,
)
from llmspell.storage.tenancy import Tenant
from llmspell.storage.vector_matrix import NamespaceMatrix, VectorFilter


def query_vector(query: Any, dimension: int) -> np.ndarray:
    """`query` as a float32 vector of the namespace's dimension; an error otherwise."""
    array = np.asarray(query, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise VectorModelMismatch(
            f"query vector has {array.shape[-1] if array.ndim else 0} dimensions; the "
            f"namespace holds {dimension}-d vectors"
        )
    if not np.isfinite(array).all():
        raise ValueError("query vector holds NaN or infinite values")
    return array


class WriteFollower(Protocol):
    """What the store keeps in process per namespace (an index, a matrix), told about its
    writes."""

    def added(
        self,
        namespace: str,
        existed: bool,
        generations: tuple[str, str],
        dropped: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
    ) -> None:
        """`rows` were added to `namespace` (and `dropped` ids removed) moving its generation
        from old to new; `existed`: the namespace was there before."""
        ...

    def metadata_set(
        self, namespace: str, generations: tuple[str, str], updates: Mapping[str, Any]
    ) -> None:
        """Metadata of `namespace`'s vectors was replaced (id -> metadata)."""
        ...

    def removed(self, namespace: str, generations: tuple[str, str], ids: Sequence[str]) -> None:
        """`ids` were deleted from `namespace`, moving its generation from old to new."""
        ...

    def forget(self, namespaces: Iterable[str]) -> None:
        """These namespaces changed in ways only a reload follows."""
        ...


class VectorSearch(WriteFollower, Protocol):
    """Similarity search of one tenant's namespaces, told about the store's writes."""

    # Columns the strategy sets on every new row.
    new_row_values: Mapping[str, Any]

    def search(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None,
        now: datetime,
    ) -> list[VectorHit]: ...

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]: ...

    def index_now(self, dimensions: Iterable[int]) -> int:
        """Index every waiting row of these tables now; returns how many still wait."""
        ...


class PostgresSearch:
    """pgvector: nearest neighbours through the HNSW index (`hnsw.iterative_scan =
    relaxed_order`, the tenant and namespace always filter) merged with an exact search of the
    rows not yet in it, which `HnswFold` folds in after each add (deferred indexing)."""

    # New rows land outside the partial HNSW index (`WHERE indexed`).
    new_row_values: Mapping[str, Any] = {"indexed": False}

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        settings: VectorSettings,
        statements: Statements,
        namespaces: Namespaces,
    ) -> None:
        self._db = db
        self._tenant = tenant
        self._settings = settings
        self._statements = statements
        self._namespaces = namespaces
        self._scan_settings = hnsw_scan_settings(settings.hnsw_ef_search)
        self.fold = HnswFold(
            db, tenant, settings.hnsw_unindexed_max, settings.hnsw_fold_in_background
        )

    def search(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None,
        now: datetime,
    ) -> list[VectorHit]:
        with self._db.transaction(settings=self._scan_settings) as conn:
            row = self._namespaces.pinned(conn, namespace, model, None)
            if row is None or k == 0:
                return []
            dimension = int(row.dimension)
            vector = query_vector(query, dimension)
            t = vector_table(dimension)
            shape = shape_of(where, sql_metadata=True)
            stmt = self._statements.get(
                ("search", dimension, shape),
                lambda: nearest_statement(
                    t,
                    [*record_columns(t, False), t.c.indexed],
                    filter_clauses(self._tenant, t, shape, True),
                ),
            )
            params = {**filter_params(where, now), "namespace": namespace, "query": vector, "k": k}
            rows = conn.execute(stmt, params).all()
        if not all(r[-2] for r in rows):  # rows outside the index: fold them
            self.fold.met_tail(dimension)
        hits = [VectorHit(record_of(r, False), 1.0 - float(r[-1])) for r in rows]
        # The index's best and the tail's best; relaxed_order may return neighbours slightly
        # out of order.
        hits.sort(key=lambda hit: -hit.score)
        return hits[:k]

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]:
        with self._db.transaction() as conn:
            row = self._namespaces.pinned(conn, namespace, model, None)
            if row is None or not ids:
                return {}
            dimension = int(row.dimension)
            vector = query_vector(query, dimension)
            t = vector_table(dimension)
            stmt = self._statements.get(
                ("similarity", dimension),
                lambda: similarity_statement(
                    t,
                    and_(
                        self._tenant.where(t, "namespace"),
                        t.c.id.in_(bindparam("ids", expanding=True)),
                    ),
                ),
            )
            rows = conn.execute(stmt, {"namespace": namespace, "query": vector, "ids": ids})
            return {vid: 1.0 - float(distance) for vid, distance in rows}

    def index_now(self, dimensions: Iterable[int]) -> int:
        left = 0
        for dimension in sorted(dimensions):
            waiting = self.fold.fold(dimension, 0)
            if waiting < 0:
                raise StorageError(
                    f"vectors.index_now: folding vectors_{dimension} into its HNSW index "
                    "failed (the warning logged by llmspell.storage says why); its rows are "
                    "stored and searched exactly meanwhile"
                )
            left += waiting
        return left

    def added(
        self,
        namespace: str,
        existed: bool,
        generations: tuple[str, str],
        dropped: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
    ) -> None:
        # the rows of one add share their dimension (their table)
        self.fold.added(len(rows[0]["embedding"]), len(rows))

    def metadata_set(
        self, namespace: str, generations: tuple[str, str], updates: Mapping[str, Any]
    ) -> None:
        pass

    def removed(self, namespace: str, generations: tuple[str, str], ids: Sequence[str]) -> None:
        pass

    def forget(self, namespaces: Iterable[str]) -> None:
        pass


class MatrixSearch(NamespaceFollower[NamespaceMatrix]):
    """Exact search over a float32 matrix per namespace, loaded on first search and kept at
    the namespace's generation. `lock` is the store's: writes change matrices under it."""

    new_row_values: Mapping[str, Any] = {}  # rows keep the column's default: indexed

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        statements: Statements,
        namespaces: Namespaces,
        lock: threading.RLock,
        records: Callable[[Sequence[str]], list[VectorRecord]],
    ) -> None:
        self._db = db
        self._tenant = tenant
        self._statements = statements
        self._namespaces = namespaces
        super().__init__(lock)
        self._load = NamespaceLoad(tenant, statements, "embedding")
        self._records = records

    def search(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None,
        now: datetime,
    ) -> list[VectorHit]:
        with self._lock, self._db.transaction() as conn:
            row = self._namespaces.pinned(conn, namespace, model, None)
            if row is None:
                return []
            vector = query_vector(query, int(row.dimension))
            scored = self._matrix(conn, namespace, row).search(vector, k, where, now)
        records = {r.id: r for r in self._records([vid for vid, _ in scored])}
        return [VectorHit(records[vid], score) for vid, score in scored if vid in records]

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]:
        with self._lock, self._db.transaction() as conn:
            row = self._namespaces.pinned(conn, namespace, model, None)
            if row is None or not ids:
                return {}
            vector = query_vector(query, int(row.dimension))
            return self._matrix(conn, namespace, row).scores_of(vector, ids)

    def index_now(self, dimensions: Iterable[int]) -> int:
        return 0  # the search is exact over the whole matrix: nothing waits

    def _matrix(self, conn: Connection, namespace: str, row: Any) -> NamespaceMatrix:
        """The namespace's matrix at the stored generation (loaded when missing or stale)."""
        dimension = int(row.dimension)
        return self.current(
            conn, namespace, row, self._load, lambda gen: NamespaceMatrix(dimension, gen)
        )
