"""Keyword search over the vectors' content: BM25 over a `NamespaceKeywords` per namespace
(`llmspell.storage.keyword_index`), on every backend. Built from the stored rows on the first
search, kept in step with the store's own writes, and rebuilt when the namespace's generation
shows another process (or runtime) changed it; the hits' rows are then read by id."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from llmspell.storage.components.vectors.follow import NamespaceFollower, NamespaceLoad
from llmspell.storage.components.vectors.model import VectorHit
from llmspell.storage.components.vectors.namespaces import Namespaces
from llmspell.storage.components.vectors.rows import (
    Statements,
    live,
    record_columns,
    record_of,
)
from llmspell.storage.components.vectors.tables import vector_table
from llmspell.storage.database import Database
from llmspell.storage.keyword_index import NamespaceKeywords, check_terms
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import refuse_nul
from llmspell.storage.vector_matrix import VectorFilter


class KeywordSearch(NamespaceFollower[NamespaceKeywords]):
    """Keyword search of one tenant's namespaces. `lock` is the store's: writes change the
    indexes under it."""

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        statements: Statements,
        namespaces: Namespaces,
        lock: threading.RLock,
    ) -> None:
        self._db = db
        self._tenant = tenant
        self._statements = statements
        self._namespaces = namespaces
        super().__init__(lock)
        self._load = NamespaceLoad(tenant, statements, "content")

    def search(
        self,
        namespace: str,
        terms: Sequence[str],
        k: int,
        where: VectorFilter | None,
        ids: Collection[str] | None,
    ) -> list[VectorHit]:
        words = check_terms(terms)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        chosen = None if ids is None else sorted(set(ids))
        refuse_nul("ids", chosen)
        if not words or k == 0 or chosen == []:
            return []
        now = datetime.now(UTC)
        with self._lock, self._db.transaction() as conn:
            row = self._namespaces.row(conn, namespace)
            if row is None:
                return []
            scored = self._index(conn, namespace, row).search(words, k, where, chosen, now)
            if not scored:
                return []
            dimension = int(row.dimension)
            t = vector_table(dimension)
            # By (tenant, id) alone: with the namespace too, SQLite's planner walks the
            # namespace's index instead of the key.
            stmt = self._statements.get(
                ("keyword_rows", dimension),
                lambda: select(*record_columns(t, False)).where(
                    self._tenant.where(t), live(t), t.c.id.in_(bindparam("ids", expanding=True))
                ),
            )
            params = {"now": now, "ids": [vid for vid, _ in scored]}
            records = {found[0]: record_of(found, False) for found in conn.execute(stmt, params)}
        return [
            VectorHit(records[vid], score)
            for vid, score in scored
            if vid in records and records[vid].namespace == namespace
        ]

    def _index(self, conn: Connection, namespace: str, row: Any) -> NamespaceKeywords:
        """The namespace's index at the stored generation (built when missing or stale)."""
        return self.current(conn, namespace, row, self._load, NamespaceKeywords)
