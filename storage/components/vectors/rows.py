"""How the vectors store reads and writes rows: the statement cache, the filter clauses a
`VectorFilter` becomes, the selected columns and the records made of them, and the checked
rows of an add."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from llmspell.storage.components.vectors.model import NewVector, VectorRecord, check_dimension
from llmspell.storage.schema import UtcDateTime
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import json_object, optional_text, refuse_nul
from llmspell.storage.vector_matrix import VectorFilter

# (document ids, since, until, metadata in SQL): which clauses a filter adds to a statement
Shape = tuple[bool, bool, bool, bool]


class Statements:
    """Statements depend on the table (dimension) and the filter's shape; each variant is
    built once per store and kept."""

    def __init__(self) -> None:
        self._built: dict[Hashable, Any] = {}

    def get(self, key: Hashable, build: Callable[..., Any], *args: Any) -> Any:
        """The statement cached under `key`, built with `build(*args)` the first time."""
        statement = self._built.get(key)
        if statement is None:
            statement = self._built[key] = build(*args)
        return statement


def live(t: Table) -> ColumnElement[bool]:
    """Rows not expired at `:now`."""
    return or_(t.c.expires_at.is_(None), t.c.expires_at > bindparam("now"))


def filter_clauses(
    tenant: Tenant, t: Table, shape: Shape, with_namespace: bool
) -> ColumnElement[bool]:
    documents, since, until, meta = shape
    clauses = [tenant.where(t, "namespace") if with_namespace else tenant.where(t)]
    clauses.append(live(t))
    if documents:
        clauses.append(t.c.document_id.in_(bindparam("document_ids", expanding=True)))
    if since:
        clauses.append(t.c.event_time >= bindparam("since", type_=UtcDateTime()))
    if until:
        clauses.append(t.c.event_time <= bindparam("until", type_=UtcDateTime()))
    if meta:
        # PostgreSQL only. Containment narrows the rows, but `{"tags": ["x"]}` is contained in
        # `{"tags": ["x", "y"]}`: the metadata cut to the filter's keys must also equal the
        # filter, as `VectorFilter` (exact JSON equality) and the other backends have it.
        wanted = bindparam("meta", type_=JSONB())
        key = func.jsonb_object_keys(wanted).table_valued("key").render_derived(name="wanted_key")
        cut = select(
            func.jsonb_object_agg(key.c.key, t.c["metadata"].op("->")(key.c.key))
        ).scalar_subquery()
        clauses.append(t.c["metadata"].op("@>")(wanted))
        clauses.append(cut.op("=")(wanted))
    return and_(*clauses)


def shape_of(where: VectorFilter | None, sql_metadata: bool) -> Shape:
    if where is None:
        return (False, False, False, False)
    return (
        where.document_ids is not None,
        where.since is not None,
        where.until is not None,
        sql_metadata and bool(where.metadata),
    )


def filter_params(where: VectorFilter | None, now: datetime) -> dict[str, Any]:
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


def record_columns(t: Table, with_embedding: bool) -> list[Any]:
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


def record_of(row: Any, with_embedding: bool) -> VectorRecord:
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


def documents_statement(tenant: Tenant, t: Table, only_some: bool) -> Select[Any]:
    """One row per document of `:namespace`: counts, sizes, times and its first vector's
    metadata (by event time, then insertion), most recently added first."""
    clauses = [tenant.where(t, "namespace"), live(t), t.c.document_id.is_not(None)]
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
        func.sum(func.length(t.c.content)).over(partition_by=per_document).label("content_chars"),
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


def new_rows(vectors: Sequence[NewVector]) -> tuple[list[dict[str, Any]], int]:
    """The rows of an add (without namespace, model and time) and their common dimension;
    ValueError naming the first bad vector."""
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
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
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
