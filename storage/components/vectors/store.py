"""`SqlVectorStore`: the rules of storing, replacing, expiring and deleting vectors of one
tenant, and the reads by id, filter and document. Similarity and keyword search are the
dialect's strategies (`search`, `keyword`), picked once when the store is built. (Just over
~450 lines: the write rules share one transaction and the namespace's generation.)"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from llmspell.storage.components.vectors.keyword import KeywordSearch
from llmspell.storage.components.vectors.model import (
    DocumentSummary,
    NamespaceInfo,
    NewVector,
    VectorHit,
    VectorRecord,
    VectorSettings,
)
from llmspell.storage.components.vectors.namespaces import Namespaces
from llmspell.storage.components.vectors.removals import Removals
from llmspell.storage.components.vectors.rows import (
    Statements,
    documents_statement,
    filter_clauses,
    filter_params,
    live,
    new_rows,
    record_columns,
    record_of,
    shape_of,
)
from llmspell.storage.components.vectors.search import (
    MatrixSearch,
    PostgresSearch,
    VectorSearch,
    WriteFollower,
)
from llmspell.storage.components.vectors.tables import vector_table
from llmspell.storage.database import Database
from llmspell.storage.schema import UtcDateTime
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import check_limit, json_object, refuse_nul, require_text
from llmspell.storage.vector_matrix import VectorFilter


class SqlVectorStore:
    """`VectorStore` on any SQL backend, for one tenant.

    Statements depend on the table (dimension) and the filter's shape; each variant is built
    once and kept. On SQLite the namespace matrices are the search index.
    """

    def __init__(self, db: Database, tenant: Tenant, settings: VectorSettings) -> None:
        self._db = db
        self._tenant = tenant
        self.tenant_id = tenant.id
        self.settings = settings
        self._statements = Statements()
        self._lock = threading.RLock()
        self._ns = Namespaces(db.dialect_name, tenant, self._statements)
        self._removals = Removals(tenant, self._statements, self._ns)
        self._search: VectorSearch
        if db.dialect_name == "postgresql":
            self._search = PostgresSearch(db, tenant, settings, self._statements, self._ns)
        else:
            self._search = MatrixSearch(
                db, tenant, self._statements, self._ns, self._lock, self.get
            )
        self._keywords = KeywordSearch(db, tenant, self._statements, self._ns, self._lock)
        # what is kept in process per namespace, told about every write
        self._followers: tuple[WriteFollower, ...] = (self._search, self._keywords)

    # -- namespaces ----------------------------------------------------------------------------

    def namespace(self, namespace: str) -> NamespaceInfo | None:
        namespace = require_text("namespace", namespace)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            row = self._ns.row(conn, namespace)
            return None if row is None else self._ns.info(conn, row, now)

    def namespaces(self, prefix: str | None = None) -> list[NamespaceInfo]:
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            return [
                self._ns.info(conn, row, now)
                for row in self._ns.rows(conn)
                if prefix is None or row.namespace.startswith(prefix)
            ]

    # -- writes --------------------------------------------------------------------------------

    def add(
        self,
        namespace: str,
        model: str,
        vectors: Sequence[NewVector],
        *,
        replace_documents: Collection[str] | None = None,
    ) -> list[str]:
        namespace = require_text("namespace", namespace)
        model = require_text("model", model)
        documents = (
            None
            if replace_documents is None
            else sorted({require_text("document id", d) for d in replace_documents})
        )
        if not vectors:
            if documents:
                self._delete_documents(namespace, documents)
            return []
        rows, dimension = new_rows(vectors)
        t = vector_table(dimension)
        now = datetime.now(UTC)
        ids = [row["id"] for row in rows]
        with self._lock, self._db.transaction(write=True) as conn:
            swept = self._removals.sweep_table(conn, dimension, now)
            existing = self._ns.pinned(conn, namespace, model, dimension, lock=True)
            if existing is None:
                generation = _new_generation()
                conn.execute(
                    self._ns.insert,
                    {
                        "namespace": namespace,
                        "model": model,
                        "dimension": dimension,
                        "generation": generation,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                created = self._ns.pinned(conn, namespace, model, dimension, lock=True)
                if created.generation != generation:  # another writer created it first
                    existing = created
            if existing is None:
                generations = (generation, generation)
            else:
                generations = self._ns.touch(conn, namespace, now, existing)
            # An add with an existing id replaces that vector, whichever namespace held it
            # (ids made here are new: no need to look).
            given = [v.id for v in vectors if v.id is not None]
            replaced = self._removals.owners_of(conn, given) if given else {}
            dropped = (
                self._removals.drop_documents(conn, dimension, namespace, documents)
                if documents and existing is not None
                else []
            )
            if replaced:
                self._removals.delete_ids(conn, ids)
                for other in replaced:
                    if other != namespace:
                        self._ns.after_delete(conn, other, now)
            stmt = self._statements.get(
                ("insert", dimension),
                lambda: insert(t).values(self._tenant.values(**self._search.new_row_values)),
            )
            conn.execute(
                stmt,
                [
                    {**row, "namespace": namespace, "model": model, "created_at": now}
                    for row in rows
                ],
            )
        for follower in self._followers:
            follower.forget([*swept, *(ns for ns in replaced if ns != namespace)])
            follower.added(namespace, existing is not None, generations, dropped, rows)
        return ids

    def _forget(self, namespaces: Iterable[str]) -> None:
        """These namespaces changed in ways only a reload of what the process keeps follows."""
        changed = list(namespaces)
        for follower in self._followers:
            follower.forget(changed)

    def _removed(
        self,
        generations: Mapping[str, tuple[str, str] | None],
        ids: Mapping[str, Sequence[str]],
    ) -> None:
        """Vectors were deleted (namespace -> ids); a namespace's generations are None when
        the delete emptied it."""
        for namespace, moved in generations.items():
            for follower in self._followers:
                if moved is None:
                    follower.forget([namespace])
                else:
                    follower.removed(namespace, moved, ids[namespace])

    def _delete_documents(self, namespace: str, documents: Sequence[str]) -> None:
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._ns.row(conn, namespace, lock=True)
            if row is None:
                return
            dropped = self._removals.drop_documents(conn, int(row.dimension), namespace, documents)
            generations = self._ns.after_delete(conn, namespace, now) if dropped else None
        if dropped:
            self._removed({namespace: generations}, {namespace: dropped})

    def set_expiry(self, namespace: str, expires_at: datetime | None) -> int:
        namespace = require_text("namespace", namespace)
        if expires_at is not None and (
            not isinstance(expires_at, datetime) or expires_at.tzinfo is None
        ):
            raise ValueError("expires_at must be a timezone-aware datetime or None")
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._ns.row(conn, namespace, lock=True)
            if row is None:
                return 0
            t = vector_table(int(row.dimension))
            stmt = self._statements.get(
                ("set_expiry", int(row.dimension)),
                lambda: (
                    update(t)
                    .where(self._tenant.where(t), t.c.namespace == bindparam("ns"), live(t))
                    .values(expires_at=bindparam("expiry", type_=UtcDateTime()))
                ),
            )
            changed = int(
                conn.execute(stmt, {"ns": namespace, "now": now, "expiry": expires_at}).rowcount
            )
            self._ns.touch(conn, namespace, now, row)
        # The matrix keeps expiry times per row: it reloads on the next search.
        self._forget([namespace])
        return changed

    def sweep_expired(self) -> int:
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            removed: dict[str, list[str]] = {}
            for dimension in self._ns.dimensions(conn):
                for ns, ids in self._removals.sweep_table(conn, dimension, now).items():
                    removed.setdefault(ns, []).extend(ids)
        # The generation changed under those namespaces; their matrices reload.
        self._forget(removed)
        return sum(len(ids) for ids in removed.values())

    def delete(self, ids: Sequence[str]) -> int:
        ids = [require_text("id", vid) for vid in ids]
        if not ids:
            return 0
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            owners = self._removals.owners_of(conn, ids)
            self._removals.delete_ids(conn, ids)
            generations = {ns: self._ns.after_delete(conn, ns, now) for ns in owners}
        self._removed(generations, owners)
        return sum(len(v) for v in owners.values())

    def delete_where(self, namespace: str | None, where: VectorFilter) -> int:
        if namespace is not None:
            require_text("namespace", namespace)
        namespaces = (
            [namespace] if namespace is not None else [info.namespace for info in self.namespaces()]
        )
        ids = [
            record.id
            for ns in namespaces
            for record in self._scan(ns, where, None, include_expired=True)
        ]
        return self.delete(ids)

    def delete_namespace(self, namespace: str) -> int:
        namespace = require_text("namespace", namespace)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._ns.row(conn, namespace, lock=True)
            if row is None:
                return 0
            t = vector_table(int(row.dimension))
            stmt = self._statements.get(
                ("delete_ns", int(row.dimension)),
                lambda: delete(t).where(self._tenant.where(t, "namespace")),
            )
            removed = int(conn.execute(stmt, {"namespace": namespace}).rowcount)
            conn.execute(self._ns.delete, {"namespace": namespace})
        self._forget([namespace])
        return removed

    def set_metadata(self, namespace: str, updates: Mapping[str, Mapping[str, Any]]) -> int:
        namespace = require_text("namespace", namespace)
        if not updates:
            return 0
        encoded = {vid: json_object("metadata", meta) for vid, meta in updates.items()}
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._ns.row(conn, namespace)
            if row is None:
                return 0
            t = vector_table(int(row.dimension))
            stmt = self._statements.get(
                ("set_metadata", int(row.dimension)),
                lambda: (
                    update(t)
                    .where(
                        self._tenant.where(t),
                        t.c.namespace == bindparam("ns"),
                        t.c.id == bindparam("vid"),
                    )
                    .values(metadata=bindparam("meta"))
                ),
            )
            changed = 0
            for vid, meta in encoded.items():
                changed += int(
                    conn.execute(stmt, {"ns": namespace, "vid": vid, "meta": meta}).rowcount
                )
            generations = self._ns.touch(conn, namespace, now)
        for follower in self._followers:
            follower.metadata_set(namespace, generations, encoded)
        return changed

    # -- reads ---------------------------------------------------------------------------------

    def get(self, ids: Sequence[str], with_embeddings: bool = False) -> list[VectorRecord]:
        ids = [require_text("id", vid) for vid in ids]
        if not ids:
            return []
        now = datetime.now(UTC)
        found: dict[str, VectorRecord] = {}
        with self._db.transaction() as conn:
            for dimension in self._ns.dimensions(conn):
                t = vector_table(dimension)
                stmt = self._statements.get(
                    ("get", dimension, with_embeddings),
                    lambda t: select(*record_columns(t, with_embeddings)).where(
                        self._tenant.where(t),
                        live(t),
                        t.c.id.in_(bindparam("ids", expanding=True)),
                    ),
                    t,
                )
                for row in conn.execute(stmt, {"ids": ids, "now": now}):
                    found[row[0]] = record_of(row, with_embeddings)
        return [found[vid] for vid in ids if vid in found]

    def scan(
        self, namespace: str, where: VectorFilter | None = None, limit: int | None = None
    ) -> list[VectorRecord]:
        return self._scan(
            require_text("namespace", namespace), where, check_limit(limit), include_expired=False
        )

    def _scan(
        self,
        namespace: str,
        where: VectorFilter | None,
        limit: int | None,
        *,
        include_expired: bool,
    ) -> list[VectorRecord]:
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            row = self._ns.row(conn, namespace)
            if row is None:
                return []
            dimension = int(row.dimension)
            t = vector_table(dimension)
            shape = shape_of(where, sql_metadata=False)

            def build() -> Select[Any]:
                stmt = select(*record_columns(t, False)).where(
                    filter_clauses(self._tenant, t, shape, with_namespace=True)
                )
                # Oldest event first; vectors without event time after those with one.
                return stmt.order_by(
                    t.c.event_time.is_(None), t.c.event_time, t.c.created_at, t.c.id
                )

            stmt = self._statements.get(("scan", dimension, shape), build)
            params = {**filter_params(where, now), "namespace": namespace}
            if include_expired:
                params["now"] = datetime.min.replace(tzinfo=UTC)
            records = []
            for found in conn.execute(stmt, params):
                record = record_of(found, False)
                if where is not None and not where.matches_metadata(record.metadata):
                    continue
                records.append(record)
                if limit is not None and len(records) >= limit:
                    break
        return records

    def count(self, namespace: str | None = None, where: VectorFilter | None = None) -> int:
        if where is not None and not where.is_empty:
            spaces = (
                [namespace] if namespace is not None else [i.namespace for i in self.namespaces()]
            )
            return sum(len(self.scan(ns, where)) for ns in spaces)
        if namespace is not None:
            info = self.namespace(namespace)
            return 0 if info is None else info.count
        return sum(info.count for info in self.namespaces())

    def documents(
        self, namespace: str, document_ids: Collection[str] | None = None
    ) -> list[DocumentSummary]:
        namespace = require_text("namespace", namespace)
        chosen = None if document_ids is None else sorted(set(document_ids))
        refuse_nul("document ids", chosen)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            row = self._ns.row(conn, namespace)
            if row is None or chosen == []:
                return []
            dimension = int(row.dimension)
            stmt = self._statements.get(
                ("documents", dimension, chosen is not None),
                lambda: documents_statement(
                    self._tenant, vector_table(dimension), chosen is not None
                ),
            )
            params: dict[str, Any] = {"namespace": namespace, "now": now}
            if chosen is not None:
                params["document_ids"] = chosen
            rows = conn.execute(stmt, params).all()
        return [
            DocumentSummary(
                document_id=r.document_id,
                vectors=int(r.vectors),
                content_chars=int(r.content_chars or 0),
                first_created_at=r.first_created_at,
                last_created_at=r.last_created_at,
                metadata=dict(r.metadata or {}),
                expires_at=r.expires_at,
            )
            for r in rows
        ]

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None = None,
    ) -> list[VectorHit]:
        namespace = require_text("namespace", namespace)
        model = require_text("model", model)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        return self._search.search(namespace, model, query, k, where, datetime.now(UTC))

    def index_now(self) -> int:
        with self._db.transaction() as conn:
            dimensions = self._ns.dimensions(conn)
        return self._search.index_now(dimensions)

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]:
        namespace = require_text("namespace", namespace)
        model = require_text("model", model)
        return self._search.similarity(namespace, model, query, list(ids))

    def keyword_search(
        self,
        namespace: str,
        terms: Sequence[str],
        k: int,
        where: VectorFilter | None = None,
        ids: Collection[str] | None = None,
    ) -> list[VectorHit]:
        namespace = require_text("namespace", namespace)
        return self._keywords.search(namespace, terms, k, where, ids)


def _new_generation() -> str:
    return secrets.token_hex(8)
