"""Component 1, vectors: embeddings with content and metadata, in namespaces, one table per size.

A vector lives in a namespace (`global`, `session:<id>`, `episodic`, any text) and in the table
of its dimension (`vectors_384`...; any other size is an error listing the supported ones). The
namespace's row in `vector_namespaces` pins the model and dimension that wrote it, so a search
with another model is an error instead of a silent mix, and carries a generation stamp that
changes with every write (in-process caches compare it to know they are current).

Search returns `score = 1 - cosine distance`. PostgreSQL: pgvector `vector(N)` columns with an
HNSW index (`halfvec` for 3072), `hnsw.iterative_scan = relaxed_order` on every search (the
tenant and namespace always filter). SQLite and memory: float32 BLOBs and exact search over a
`NamespaceMatrix` kept in step with the store's own writes. Expired vectors never come back and
are swept by every write to their table.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from llmspell.storage import fulltext
from llmspell.storage.database import Database
from llmspell.storage.postgres.hnsw import (
    nearest_statement,
    prepare_hnsw_scan,
    similarity_statement,
)
from llmspell.storage.registry import Component
from llmspell.storage.schema import Embedding, UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import (
    check_limit,
    json_object,
    optional_text,
    refuse_nul,
    require_text,
)
from llmspell.storage.vector_matrix import NamespaceMatrix, VectorFilter

__all__ = [
    "SUPPORTED_DIMENSIONS",
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
    "vector_table",
]

SUPPORTED_DIMENSIONS = (128, 256, 384, 512, 768, 1024, 1536, 3072)


class VectorModelMismatch(ValueError):
    """A namespace holds vectors of another model or size than the one given."""


def check_dimension(dimension: int) -> int:
    """`dimension` if vectors of that size can be stored, else ValueError listing the sizes."""
    if dimension not in SUPPORTED_DIMENSIONS:
        raise ValueError(
            f"vectors of dimension {dimension} cannot be stored; supported dimensions: "
            f"{', '.join(map(str, SUPPORTED_DIMENSIONS))}"
        )
    return dimension


@dataclass(frozen=True)
class NewVector:
    """A vector to add. `id` defaults to a new UUID; adding an existing id replaces it."""

    embedding: Any  # a sequence of floats / numpy array of the namespace's dimension
    content: str = ""
    id: str | None = None
    document_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    event_time: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class VectorRecord:
    """A stored vector (`embedding` only when asked for)."""

    id: str
    namespace: str
    document_id: str | None
    content: str
    metadata: dict[str, Any]
    model: str
    created_at: datetime
    event_time: datetime | None
    expires_at: datetime | None
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class VectorHit:
    """A search result: the record and its cosine similarity to the query."""

    record: VectorRecord
    score: float


@dataclass(frozen=True)
class DocumentSummary:
    """The unexpired vectors of one document of a namespace: how many, how much text, when
    they were added, and the metadata of its first vector (by event time, then insertion)."""

    document_id: str
    vectors: int
    content_chars: int
    first_created_at: datetime
    last_created_at: datetime
    metadata: dict[str, Any]
    expires_at: datetime | None  # the earliest expiry among its vectors (None: never)


@dataclass(frozen=True)
class NamespaceInfo:
    """What a namespace holds: the model and size that wrote it, and its generation stamp."""

    namespace: str
    model: str
    dimension: int
    generation: str
    count: int
    created_at: datetime
    updated_at: datetime


class VectorStore(Protocol):
    """Embeddings with content and metadata, searched by cosine similarity per namespace."""

    def add(
        self,
        namespace: str,
        model: str,
        vectors: Sequence[NewVector],
        *,
        replace_documents: Collection[str] | None = None,
    ) -> list[str]:
        """Store `vectors` (all of one size) in `namespace`; returns their ids. The namespace's
        vectors of `replace_documents` are deleted in the same transaction."""
        ...

    def get(self, ids: Sequence[str], with_embeddings: bool = False) -> list[VectorRecord]:
        """The stored, unexpired vectors among `ids` (any namespace), in the order given."""
        ...

    def search(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None = None,
    ) -> list[VectorHit]:
        """The `k` most similar unexpired vectors of `namespace` passing `where`, best first."""
        ...

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]:
        """Cosine similarity of `query` with each of `ids` found in `namespace`."""
        ...

    def keyword_search(
        self,
        namespace: str,
        terms: Sequence[str],
        k: int,
        where: VectorFilter | None = None,
        ids: Collection[str] | None = None,
    ) -> list[VectorHit]:
        """The `k` unexpired vectors of `namespace` (among `ids` when given) passing `where`
        whose content holds any of `terms` (words), best keyword relevance first (score > 0)."""
        ...

    def scan(
        self, namespace: str, where: VectorFilter | None = None, limit: int | None = None
    ) -> list[VectorRecord]:
        """Unexpired vectors of `namespace` passing `where`, oldest event (then insert) first."""
        ...

    def documents(
        self, namespace: str, document_ids: Collection[str] | None = None
    ) -> list[DocumentSummary]:
        """One summary per document of `namespace` (only `document_ids` when given), most
        recently added first."""
        ...

    def set_expiry(self, namespace: str, expires_at: datetime | None) -> int:
        """Give every vector of `namespace` this expiry (None: never); returns how many."""
        ...

    def count(self, namespace: str | None = None, where: VectorFilter | None = None) -> int:
        """How many unexpired vectors `namespace` (None: every namespace) holds."""
        ...

    def set_metadata(self, namespace: str, updates: Mapping[str, Mapping[str, Any]]) -> int:
        """Replace the metadata of vectors of `namespace` (id -> metadata); returns how many."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete vectors by id (any namespace); returns how many existed."""
        ...

    def delete_where(self, namespace: str | None, where: VectorFilter) -> int:
        """Delete the vectors of `namespace` (None: all) passing `where`; returns how many."""
        ...

    def delete_namespace(self, namespace: str) -> int:
        """Delete a whole namespace; returns how many vectors it held."""
        ...

    def namespace(self, namespace: str) -> NamespaceInfo | None:
        """What `namespace` holds, or None when it holds nothing."""
        ...

    def namespaces(self, prefix: str | None = None) -> list[NamespaceInfo]:
        """Every namespace (optionally only those starting with `prefix`), by name."""
        ...

    def sweep_expired(self) -> int:
        """Delete every expired vector of the tenant; returns how many."""
        ...


@dataclass(frozen=True)
class VectorSettings:
    """Search settings of the vectors component."""

    # PostgreSQL: the HNSW candidate list (`hnsw.ef_search`); higher = better recall, slower.
    hnsw_ef_search: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.hnsw_ef_search <= 1000:
            raise ValueError(f"hnsw_ef_search must be 1-1000, got {self.hnsw_ef_search}")


def _json_type() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


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
        Column("metadata", _json_type(), nullable=False),
        Column("model", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("event_time", UtcDateTime()),
        Column("expires_at", UtcDateTime()),
        Column("embedding", Embedding(dimension), nullable=False),
        PrimaryKeyConstraint("tenant_id", "id"),
        Index(
            f"ix_{name}_tenant_id_namespace_document_id", "tenant_id", "namespace", "document_id"
        ),
        Index(f"ix_{name}_tenant_id_expires_at", "tenant_id", "expires_at"),
    )
    # The HNSW index (PostgreSQL only) is created by the migration, not declared here: pgvector's
    # HNSW takes one column, so it cannot lead with tenant_id, and SQLite searches exactly.
    # Row-level security and the statement's own tenant filter restrict its scans.
    return table


def hnsw_index_name(dimension: int) -> str:
    return f"ix_vectors_{dimension}_embedding_hnsw"


VECTOR_TABLES = {dimension: _vector_table(dimension) for dimension in SUPPORTED_DIMENSIONS}
for _table in VECTOR_TABLES.values():
    fulltext.index_with_table(_table)


def vector_table(dimension: int) -> Table:
    """The table that stores vectors of `dimension`."""
    return VECTOR_TABLES[check_dimension(dimension)]


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
        self._postgres = db.dialect_name == "postgresql"
        self._statements: dict[Hashable, Any] = {}
        self._matrices: dict[str, NamespaceMatrix] = {}
        self._lock = threading.RLock()
        n = vector_namespaces
        self._ns_get = select(n).where(tenant.where(n, "namespace"))
        self._ns_lock = self._ns_get.with_for_update()
        self._ns_all = select(n).where(tenant.where(n)).order_by(n.c.namespace)
        # two writers may create a namespace at once: the second one's insert does nothing
        # and it reads the first one's row (a lock on a missing row locks nothing)
        self._ns_insert = (
            upsert_into(db.dialect_name, n)
            .values(tenant.values())
            .on_conflict_do_nothing(index_elements=["tenant_id", "namespace"])
        )
        # UPDATE reserves column names as parameter names: the namespace goes in as `ns`.
        self._ns_bump = (
            update(n)
            .where(tenant.where(n), n.c.namespace == bindparam("ns"))
            .values(generation=bindparam("generation"), updated_at=bindparam("updated_at"))
        )
        self._ns_delete = delete(n).where(tenant.where(n, "namespace"))
        self._ns_dimensions = select(n.c.dimension).where(tenant.where(n)).distinct()

    # -- statements ------------------------------------------------------------------------

    def _statement(self, key: Hashable, build: Callable[..., Any], *args: Any) -> Any:
        """The statement cached under `key`, built with `build(*args)` the first time."""
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = build(*args)
        return statement

    def _live(self, t: Table) -> ColumnElement[bool]:
        return or_(t.c.expires_at.is_(None), t.c.expires_at > bindparam("now"))

    def _filter_clauses(
        self, t: Table, shape: tuple[bool, bool, bool, bool], with_namespace: bool
    ) -> ColumnElement[bool]:
        documents, since, until, meta = shape
        clauses = [self._tenant.where(t, "namespace") if with_namespace else self._tenant.where(t)]
        clauses.append(self._live(t))
        if documents:
            clauses.append(t.c.document_id.in_(bindparam("document_ids", expanding=True)))
        if since:
            clauses.append(t.c.event_time >= bindparam("since", type_=UtcDateTime()))
        if until:
            clauses.append(t.c.event_time <= bindparam("until", type_=UtcDateTime()))
        if meta:
            # PostgreSQL only: JSONB containment (exact values of the given keys).
            clauses.append(t.c["metadata"].op("@>")(bindparam("meta", type_=JSONB())))
        return and_(*clauses)

    @staticmethod
    def _shape(where: VectorFilter | None, sql_metadata: bool) -> tuple[bool, bool, bool, bool]:
        if where is None:
            return (False, False, False, False)
        return (
            where.document_ids is not None,
            where.since is not None,
            where.until is not None,
            sql_metadata and bool(where.metadata),
        )

    @staticmethod
    def _params(where: VectorFilter | None, now: datetime) -> dict[str, Any]:
        params: dict[str, Any] = {"now": now}
        if where is None:
            return params
        if where.document_ids is not None:
            params["document_ids"] = sorted(where.document_ids)
        if where.since is not None:
            params["since"] = where.since
        if where.until is not None:
            params["until"] = where.until
        if where.metadata:
            params["meta"] = dict(where.metadata)
        return params

    def _record_columns(self, t: Table, with_embedding: bool) -> list[Any]:
        columns = [
            t.c.id,
            t.c.namespace,
            t.c.document_id,
            t.c.content,
            t.c["metadata"],
            t.c.model,
            t.c.created_at,
            t.c.event_time,
            t.c.expires_at,
        ]
        if with_embedding:
            columns.append(t.c.embedding)
        return columns

    @staticmethod
    def _record(row: Any, with_embedding: bool) -> VectorRecord:
        return VectorRecord(
            id=row[0],
            namespace=row[1],
            document_id=row[2],
            content=row[3],
            metadata=dict(row[4] or {}),
            model=row[5],
            created_at=row[6],
            event_time=row[7],
            expires_at=row[8],
            embedding=row[9] if with_embedding else None,
        )

    # -- namespaces ----------------------------------------------------------------------------

    def _namespace_row(self, conn: Connection, namespace: str, lock: bool = False) -> Any:
        stmt = self._ns_lock if lock else self._ns_get
        return conn.execute(stmt, {"namespace": namespace}).first()

    def _count_in(self, conn: Connection, dimension: int, namespace: str, now: datetime) -> int:
        t = vector_table(dimension)
        stmt = self._statement(
            ("count_ns", dimension),
            lambda: select(func.count()).where(self._tenant.where(t, "namespace"), self._live(t)),
        )
        return int(conn.execute(stmt, {"namespace": namespace, "now": now}).scalar_one())

    def _info(self, conn: Connection, row: Any, now: datetime) -> NamespaceInfo:
        return NamespaceInfo(
            namespace=row.namespace,
            model=row.model,
            dimension=int(row.dimension),
            generation=row.generation,
            count=self._count_in(conn, int(row.dimension), row.namespace, now),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def namespace(self, namespace: str) -> NamespaceInfo | None:
        namespace = require_text("namespace", namespace)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            row = self._namespace_row(conn, namespace)
            return None if row is None else self._info(conn, row, now)

    def namespaces(self, prefix: str | None = None) -> list[NamespaceInfo]:
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            rows = conn.execute(self._ns_all).all()
            return [
                self._info(conn, row, now)
                for row in rows
                if prefix is None or row.namespace.startswith(prefix)
            ]

    def _pinned(
        self,
        conn: Connection,
        namespace: str,
        model: str,
        dimension: int | None,
        lock: bool = False,
    ) -> Any:
        """The namespace row, checking it was written by `model` (and `dimension`)."""
        row = self._namespace_row(conn, namespace, lock)
        if row is not None and (
            row.model != model or (dimension is not None and row.dimension != dimension)
        ):
            size = "" if dimension is None else f" ({dimension}-d)"
            raise VectorModelMismatch(
                f"namespace {namespace!r} holds vectors of model {row.model!r} "
                f"({row.dimension}-d), not {model!r}{size}; search it with that model, or "
                "delete the namespace before storing vectors of another model in it"
            )
        return row

    def _touch(
        self, conn: Connection, namespace: str, now: datetime, row: Any = None
    ) -> tuple[str, str]:
        """Give `namespace` a new generation; returns (old, new). `row`: its row, when the
        caller already read it under lock."""
        if row is None:
            row = self._namespace_row(conn, namespace, lock=True)
        new = secrets.token_hex(8)
        conn.execute(self._ns_bump, {"ns": namespace, "generation": new, "updated_at": now})
        return row.generation, new

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
        rows, dimension = self._rows(vectors)
        t = vector_table(dimension)
        now = datetime.now(UTC)
        ids = [row["id"] for row in rows]
        with self._lock, self._db.transaction(write=True) as conn:
            swept = self._sweep_table(conn, dimension, now)
            existing = self._pinned(conn, namespace, model, dimension, lock=True)
            if existing is None:
                generation = secrets.token_hex(8)
                conn.execute(
                    self._ns_insert,
                    {
                        "namespace": namespace,
                        "model": model,
                        "dimension": dimension,
                        "generation": generation,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                created = self._pinned(conn, namespace, model, dimension, lock=True)
                if created.generation != generation:  # another writer created it first
                    existing = created
            if existing is None:
                old = new = generation
            else:
                old, new = self._touch(conn, namespace, now, existing)
            # An add with an existing id replaces that vector, whichever namespace held it
            # (ids made here are new: no need to look).
            given = [v.id for v in vectors if v.id is not None]
            replaced = self._owners_of(conn, given) if given else {}
            dropped = (
                self._drop_documents(conn, dimension, namespace, documents)
                if documents and existing is not None
                else []
            )
            if replaced:
                self._delete_ids(conn, ids)
                for other in replaced:
                    if other != namespace:
                        self._after_delete(conn, other, now)
            stmt = self._statement(
                ("insert", dimension), lambda: insert(t).values(self._tenant.values())
            )
            conn.execute(
                stmt,
                [
                    {**row, "namespace": namespace, "model": model, "created_at": now}
                    for row in rows
                ],
            )
        self._forget_swept(swept)
        self._forget_replaced(replaced, namespace)
        matrix = self._matrices.get(namespace)
        if matrix is not None:
            if existing is not None and matrix.generation == old:
                matrix.remove(dropped)
                for row in rows:
                    matrix.add(
                        row["id"],
                        row["embedding"],
                        document_id=row["document_id"],
                        metadata=row["metadata"],
                        event_time=row["event_time"],
                        expires_at=row["expires_at"],
                    )
                matrix.generation = new
            else:
                self._matrices.pop(namespace, None)
        return ids

    def _drop_documents(
        self, conn: Connection, dimension: int, namespace: str, documents: Sequence[str]
    ) -> list[str]:
        """Delete the namespace's vectors of `documents` (expired ones too); their ids."""
        t = vector_table(dimension)

        def where() -> ColumnElement[bool]:
            return and_(
                self._tenant.where(t, "namespace"),
                t.c.document_id.in_(bindparam("document_ids", expanding=True)),
            )

        find = self._statement(("document_ids", dimension), lambda: select(t.c.id).where(where()))
        drop = self._statement(("drop_documents", dimension), lambda: delete(t).where(where()))
        params = {"namespace": namespace, "document_ids": list(documents)}
        ids = list(conn.execute(find, params).scalars())
        if ids:
            conn.execute(drop, params)
        return ids

    def _delete_documents(self, namespace: str, documents: Sequence[str]) -> None:
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._namespace_row(conn, namespace, lock=True)
            if row is None:
                return
            dropped = self._drop_documents(conn, int(row.dimension), namespace, documents)
            if dropped:
                self._after_delete(conn, namespace, now)
        if dropped:
            self._matrices.pop(namespace, None)

    def set_expiry(self, namespace: str, expires_at: datetime | None) -> int:
        namespace = require_text("namespace", namespace)
        if expires_at is not None and (
            not isinstance(expires_at, datetime) or expires_at.tzinfo is None
        ):
            raise ValueError("expires_at must be a timezone-aware datetime or None")
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._namespace_row(conn, namespace, lock=True)
            if row is None:
                return 0
            t = vector_table(int(row.dimension))
            stmt = self._statement(
                ("set_expiry", int(row.dimension)),
                lambda: (
                    update(t)
                    .where(self._tenant.where(t), t.c.namespace == bindparam("ns"), self._live(t))
                    .values(expires_at=bindparam("expiry", type_=UtcDateTime()))
                ),
            )
            changed = int(
                conn.execute(stmt, {"ns": namespace, "now": now, "expiry": expires_at}).rowcount
            )
            self._touch(conn, namespace, now, row)
        # The matrix keeps expiry times per row: it reloads on the next search.
        self._matrices.pop(namespace, None)
        return changed

    def _owners_of(self, conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
        """namespace -> ids, for ids that already exist (an add with their id replaces them)."""
        owners: dict[str, list[str]] = {}
        for dimension in self._dimensions(conn):
            t = vector_table(dimension)
            stmt = self._statement(
                ("owners", dimension),
                lambda t: select(t.c.namespace, t.c.id).where(
                    self._tenant.where(t), t.c.id.in_(bindparam("ids", expanding=True))
                ),
                t,
            )
            for ns, vid in conn.execute(stmt, {"ids": list(ids)}):
                owners.setdefault(ns, []).append(vid)
        return owners

    def _delete_ids(self, conn: Connection, ids: Sequence[str]) -> None:
        for dimension in self._dimensions(conn):
            t = vector_table(dimension)
            stmt = self._statement(
                ("delete_ids", dimension),
                lambda t: delete(t).where(
                    self._tenant.where(t), t.c.id.in_(bindparam("ids", expanding=True))
                ),
                t,
            )
            conn.execute(stmt, {"ids": list(ids)})

    def _forget_replaced(self, replaced: Mapping[str, list[str]], namespace: str) -> None:
        for ns in replaced:
            if ns != namespace:
                self._matrices.pop(ns, None)

    def _rows(self, vectors: Sequence[NewVector]) -> tuple[list[dict[str, Any]], int]:
        rows: list[dict[str, Any]] = []
        dimension: int | None = None
        seen: set[str] = set()
        for i, vector in enumerate(vectors):
            array = np.asarray(vector.embedding, dtype=np.float32)
            if array.ndim != 1:
                raise ValueError(f"vector {i + 1}: embedding must be a flat list of numbers")
            if dimension is None:
                dimension = check_dimension(int(array.shape[0]))
            elif array.shape[0] != dimension:
                raise ValueError(
                    f"vector {i + 1} has {array.shape[0]} dimensions; the others have {dimension}"
                )
            if not np.isfinite(array).all():
                raise ValueError(f"vector {i + 1}: embedding holds NaN or infinite values")
            vector_id = optional_text(f"vector {i + 1}: id", vector.id) or str(uuid.uuid4())
            if vector_id in seen:
                raise ValueError(f"vector id {vector_id!r} is given twice")
            seen.add(vector_id)
            if not isinstance(vector.content, str):
                raise ValueError(f"vector {i + 1}: content must be a string")
            refuse_nul(f"vector {i + 1}: content", vector.content)
            optional_text(f"vector {i + 1}: document id", vector.document_id)
            for name in ("event_time", "expires_at"):
                moment = getattr(vector, name)
                if moment is not None and (
                    not isinstance(moment, datetime) or moment.tzinfo is None
                ):
                    raise ValueError(f"vector {i + 1}: {name} must be a timezone-aware datetime")
            rows.append(
                {
                    "id": vector_id,
                    "document_id": vector.document_id,
                    "content": vector.content,
                    "metadata": json_object("metadata", vector.metadata),
                    "event_time": vector.event_time,
                    "expires_at": vector.expires_at,
                    "embedding": array,
                }
            )
        assert dimension is not None
        return rows, dimension

    def _dimensions(self, conn: Connection) -> list[int]:
        return sorted(int(d) for d in conn.execute(self._ns_dimensions).scalars())

    def _sweep_table(self, conn: Connection, dimension: int, now: datetime) -> dict[str, list[str]]:
        """Delete the tenant's expired vectors of one table; namespace -> ids removed."""
        t = vector_table(dimension)
        stmt = self._statement(
            ("sweep", dimension),
            lambda: (
                delete(t)
                .where(self._tenant.where(t), t.c.expires_at <= bindparam("now"))
                .returning(t.c.namespace, t.c.id)
            ),
        )
        removed: dict[str, list[str]] = {}
        for ns, vid in conn.execute(stmt, {"now": now}):
            removed.setdefault(ns, []).append(vid)
        for ns in removed:
            self._after_delete(conn, ns, now)
        return removed

    def _after_delete(self, conn: Connection, namespace: str, now: datetime) -> None:
        """A namespace lost vectors: new generation, or gone when it is empty."""
        row = self._namespace_row(conn, namespace, lock=True)
        if row is None:
            return
        t = vector_table(int(row.dimension))
        any_left = self._statement(
            ("any_left", int(row.dimension)),
            lambda: select(t.c.id).where(self._tenant.where(t, "namespace")).limit(1),
        )
        if conn.execute(any_left, {"namespace": namespace}).first() is None:
            conn.execute(self._ns_delete, {"namespace": namespace})
        else:
            self._touch(conn, namespace, now)

    def _forget_swept(self, removed: Mapping[str, list[str]]) -> None:
        # The generation changed under those matrices; they reload on their next search.
        for ns in removed:
            self._matrices.pop(ns, None)

    def sweep_expired(self) -> int:
        now = datetime.now(UTC)
        total = 0
        with self._lock, self._db.transaction(write=True) as conn:
            removed: dict[str, list[str]] = {}
            for dimension in self._dimensions(conn):
                for ns, ids in self._sweep_table(conn, dimension, now).items():
                    removed.setdefault(ns, []).extend(ids)
        self._forget_swept(removed)
        total = sum(len(ids) for ids in removed.values())
        return total

    def delete(self, ids: Sequence[str]) -> int:
        ids = [require_text("id", vid) for vid in ids]
        if not ids:
            return 0
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            owners = self._owners_of(conn, ids)
            self._delete_ids(conn, ids)
            for ns in owners:
                self._after_delete(conn, ns, now)
        self._forget_swept(owners)
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
            row = self._namespace_row(conn, namespace, lock=True)
            if row is None:
                return 0
            t = vector_table(int(row.dimension))
            stmt = self._statement(
                ("delete_ns", int(row.dimension)),
                lambda: delete(t).where(self._tenant.where(t, "namespace")),
            )
            removed = int(conn.execute(stmt, {"namespace": namespace}).rowcount)
            conn.execute(self._ns_delete, {"namespace": namespace})
        self._matrices.pop(namespace, None)
        return removed

    def set_metadata(self, namespace: str, updates: Mapping[str, Mapping[str, Any]]) -> int:
        namespace = require_text("namespace", namespace)
        if not updates:
            return 0
        encoded = {vid: json_object("metadata", meta) for vid, meta in updates.items()}
        now = datetime.now(UTC)
        with self._lock, self._db.transaction(write=True) as conn:
            row = self._namespace_row(conn, namespace)
            if row is None:
                return 0
            t = vector_table(int(row.dimension))
            stmt = self._statement(
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
            old, new = self._touch(conn, namespace, now)
        matrix = self._matrices.get(namespace)
        if matrix is not None:
            if matrix.generation == old:
                for vid, meta in encoded.items():
                    matrix.set_metadata(vid, meta)
                matrix.generation = new
            else:
                self._matrices.pop(namespace, None)
        return changed

    # -- reads ---------------------------------------------------------------------------------

    def get(self, ids: Sequence[str], with_embeddings: bool = False) -> list[VectorRecord]:
        ids = [require_text("id", vid) for vid in ids]
        if not ids:
            return []
        now = datetime.now(UTC)
        found: dict[str, VectorRecord] = {}
        with self._db.transaction() as conn:
            for dimension in self._dimensions(conn):
                t = vector_table(dimension)
                stmt = self._statement(
                    ("get", dimension, with_embeddings),
                    lambda t: select(*self._record_columns(t, with_embeddings)).where(
                        self._tenant.where(t),
                        self._live(t),
                        t.c.id.in_(bindparam("ids", expanding=True)),
                    ),
                    t,
                )
                for row in conn.execute(stmt, {"ids": ids, "now": now}):
                    found[row[0]] = self._record(row, with_embeddings)
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
            row = self._namespace_row(conn, namespace)
            if row is None:
                return []
            dimension = int(row.dimension)
            t = vector_table(dimension)
            shape = self._shape(where, sql_metadata=False)

            def build() -> Select[Any]:
                stmt = select(*self._record_columns(t, False)).where(
                    self._filter_clauses(t, shape, with_namespace=True)
                )
                # Oldest event first; vectors without event time after those with one.
                return stmt.order_by(
                    t.c.event_time.is_(None), t.c.event_time, t.c.created_at, t.c.id
                )

            stmt = self._statement(("scan", dimension, shape), build)
            params = {**self._params(where, now), "namespace": namespace}
            if include_expired:
                params["now"] = datetime.min.replace(tzinfo=UTC)
            records = []
            for found in conn.execute(stmt, params):
                record = self._record(found, False)
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
            row = self._namespace_row(conn, namespace)
            if row is None or chosen == []:
                return []
            dimension = int(row.dimension)
            stmt = self._statement(
                ("documents", dimension, chosen is not None),
                lambda: self._documents_statement(vector_table(dimension), chosen is not None),
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

    def _documents_statement(self, t: Table, only_some: bool) -> Select[Any]:
        clauses = [self._tenant.where(t, "namespace"), self._live(t), t.c.document_id.is_not(None)]
        if only_some:
            clauses.append(t.c.document_id.in_(bindparam("document_ids", expanding=True)))
        per_document = t.c.document_id
        first = (
            func.row_number()
            .over(
                partition_by=t.c.document_id,
                order_by=(t.c.event_time.is_(None), t.c.event_time, t.c.created_at, t.c.id),
            )
            .label("position")
        )
        ranked = select(
            t.c.document_id,
            t.c["metadata"],
            first,
            func.count().over(partition_by=per_document).label("vectors"),
            func.sum(func.length(t.c.content))
            .over(partition_by=per_document)
            .label("content_chars"),
            func.min(t.c.created_at).over(partition_by=per_document).label("first_created_at"),
            func.max(t.c.created_at).over(partition_by=per_document).label("last_created_at"),
            func.min(t.c.expires_at).over(partition_by=per_document).label("expires_at"),
        ).where(*clauses)
        inner = ranked.subquery("ranked")
        return (
            select(
                inner.c.document_id,
                inner.c["metadata"],
                inner.c.vectors,
                inner.c.content_chars,
                inner.c.first_created_at,
                inner.c.last_created_at,
                inner.c.expires_at,
            )
            .where(inner.c.position == 1)
            .order_by(inner.c.last_created_at.desc(), inner.c.document_id)
        )

    def keyword_search(
        self,
        namespace: str,
        terms: Sequence[str],
        k: int,
        where: VectorFilter | None = None,
        ids: Collection[str] | None = None,
    ) -> list[VectorHit]:
        namespace = require_text("namespace", namespace)
        words = fulltext.check_terms(terms)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        chosen = None if ids is None else sorted(set(ids))
        refuse_nul("ids", chosen)
        if not words or k == 0 or chosen == []:
            return []
        now = datetime.now(UTC)
        dialect = self._db.dialect_name
        shape = self._shape(where, sql_metadata=self._postgres)
        # SQLite compares metadata in Python (JSON equality), so it reads past `k` rows.
        post_filter = not self._postgres and where is not None and bool(where.metadata)
        with self._db.transaction() as conn:
            row = self._namespace_row(conn, namespace)
            if row is None:
                return []
            dimension = int(row.dimension)
            stmt = self._statement(
                ("keyword", dimension, shape, chosen is not None, post_filter),
                lambda: self._keyword_statement(
                    vector_table(dimension), shape, chosen is not None, not post_filter
                ),
            )
            params = {
                **self._params(where, now),
                "namespace": namespace,
                "terms": fulltext.match_text(words, dialect),
            }
            if chosen is not None:
                params["ids"] = chosen
            if not post_filter:
                params["k"] = k
            hits: list[VectorHit] = []
            for found in conn.execute(stmt, params):
                record = self._record(found, False)
                if (
                    post_filter
                    and where is not None
                    and not where.matches_metadata(record.metadata)
                ):
                    continue
                hits.append(VectorHit(record, float(found[-1])))
                if len(hits) >= k:
                    break
        return hits

    def _keyword_statement(
        self, t: Table, shape: tuple[bool, bool, bool, bool], some_ids: bool, limited: bool
    ) -> Select[Any]:
        dialect = self._db.dialect_name
        rank = fulltext.rank_expression(t, dialect).label("keyword_score")
        clauses = [
            self._filter_clauses(t, shape, with_namespace=True),
            fulltext.match_clause(t, dialect),
        ]
        if some_ids:
            clauses.append(t.c.id.in_(bindparam("ids", expanding=True)))
        stmt = select(*self._record_columns(t, False), rank)
        if dialect != "postgresql":
            stmt = stmt.select_from(
                fulltext.sqlite_fts_table(t).join(t, fulltext.sqlite_join_condition(t))
            )
        stmt = stmt.where(*clauses).order_by(rank.desc(), t.c.id)
        return stmt.limit(bindparam("k")) if limited else stmt

    # -- search --------------------------------------------------------------------------------

    def _query_vector(self, query: Any, dimension: int) -> np.ndarray:
        array = np.asarray(query, dtype=np.float32)
        if array.ndim != 1 or array.shape[0] != dimension:
            raise VectorModelMismatch(
                f"query vector has {array.shape[-1] if array.ndim else 0} dimensions; the "
                f"namespace holds {dimension}-d vectors"
            )
        if not np.isfinite(array).all():
            raise ValueError("query vector holds NaN or infinite values")
        return array

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
        now = datetime.now(UTC)
        if self._postgres:
            return self._search_postgres(namespace, model, query, k, where, now)
        scored = self._search_matrix(namespace, model, query, k, where, now)
        records = {r.id: r for r in self.get([vid for vid, _ in scored])}
        return [VectorHit(records[vid], score) for vid, score in scored if vid in records]

    def _matrix(self, conn: Connection, namespace: str, row: Any) -> NamespaceMatrix:
        """The namespace's matrix at the stored generation (loaded when missing or stale)."""
        matrix = self._matrices.get(namespace)
        if matrix is not None and matrix.generation == row.generation:
            return matrix
        dimension = int(row.dimension)
        t = vector_table(dimension)
        stmt = self._statement(
            ("load", dimension),
            lambda: select(
                t.c.id,
                t.c.embedding,
                t.c.document_id,
                t.c["metadata"],
                t.c.event_time,
                t.c.expires_at,
            ).where(self._tenant.where(t, "namespace")),
        )
        matrix = NamespaceMatrix(dimension, row.generation)
        for vid, embedding, document_id, meta, event_time, expires_at in conn.execute(
            stmt, {"namespace": namespace}
        ):
            matrix.add(
                vid,
                embedding,
                document_id=document_id,
                metadata=dict(meta or {}),
                event_time=event_time,
                expires_at=expires_at,
            )
        self._matrices[namespace] = matrix
        return matrix

    def _search_matrix(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None,
        now: datetime,
    ) -> list[tuple[str, float]]:
        with self._lock, self._db.transaction() as conn:
            row = self._pinned(conn, namespace, model, None)
            if row is None:
                return []
            vector = self._query_vector(query, int(row.dimension))
            return self._matrix(conn, namespace, row).search(vector, k, where, now)

    def _search_postgres(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None,
        now: datetime,
    ) -> list[VectorHit]:
        with self._db.transaction() as conn:
            row = self._pinned(conn, namespace, model, None)
            if row is None or k == 0:
                return []
            dimension = int(row.dimension)
            vector = self._query_vector(query, dimension)
            stmt = self._statement(
                ("search", dimension, self._shape(where, sql_metadata=True)),
                lambda: nearest_statement(
                    vector_table(dimension),
                    self._record_columns(vector_table(dimension), False),
                    self._filter_clauses(vector_table(dimension), self._shape(where, True), True),
                ),
            )
            prepare_hnsw_scan(conn, self.settings.hnsw_ef_search)
            params = {**self._params(where, now), "namespace": namespace, "query": vector, "k": k}
            rows = conn.execute(stmt, params).all()
        hits = [VectorHit(self._record(r, False), 1.0 - float(r[-1])) for r in rows]
        # relaxed_order may return neighbours slightly out of order.
        hits.sort(key=lambda hit: -hit.score)
        return hits

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]:
        namespace = require_text("namespace", namespace)
        model = require_text("model", model)
        ids = list(ids)
        if not self._postgres:
            with self._lock, self._db.transaction() as conn:
                row = self._pinned(conn, namespace, model, None)
                if row is None or not ids:
                    return {}
                vector = self._query_vector(query, int(row.dimension))
                return self._matrix(conn, namespace, row).scores_of(vector, ids)
        with self._db.transaction() as conn:
            row = self._pinned(conn, namespace, model, None)
            if row is None or not ids:
                return {}
            dimension = int(row.dimension)
            vector = self._query_vector(query, dimension)
            t = vector_table(dimension)
            stmt = self._statement(
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


COMPONENT = Component(
    name="vectors",
    title="embeddings by namespace with content, metadata and TTL, searched by cosine similarity",
    protocol=VectorStore,
    tables=(vector_namespaces, *VECTOR_TABLES.values()),
    store=SqlVectorStore,
    settings=VectorSettings,
)
