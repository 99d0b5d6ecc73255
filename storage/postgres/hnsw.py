"""pgvector nearest-neighbour search: the HNSW scan settings and the two statements.

The vectors component builds its statements with these on PostgreSQL (SQLite searches an
in-process matrix instead). Distances are cosine (`<=>`); similarity is `1 - distance`.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    Select,
    Table,
    bindparam,
    not_,
    select,
    union_all,
)

from llmspell.storage.schema import Embedding


def hnsw_scan_settings(ef_search: int) -> dict[str, str]:
    """Settings for a transaction's HNSW scans (`Database.transaction(settings=...)`, set with
    the tenant, no round trip of their own): `relaxed_order` iterative scans keep reading the
    index until enough rows pass the filters (the tenant and the namespace always filter);
    `ef_search` widens the candidate list (recall against speed). No sequential or bitmap
    scans: the un-indexed tail is read through its partial index (statistics taken while a
    large tail waited make a scan of the whole table look cheaper, and a bitmap scan visits
    the folded rows' dead versions every time, where an index scan marks them dead once)."""
    return {
        "hnsw.iterative_scan": "relaxed_order",
        "hnsw.ef_search": str(ef_search),
        "enable_seqscan": "off",
        "enable_bitmapscan": "off",
    }


def _distance(table: Table) -> Any:
    dimension = cast(Embedding, table.c.embedding.type).dimension
    return table.c.embedding.op("<=>", return_type=Float())(
        bindparam("query", type_=Embedding(dimension))
    )


def nearest_statement(
    table: Table, columns: list[Any], where: ColumnElement[bool]
) -> CompoundSelect[Any]:
    """`columns` and the cosine distance of rows passing `where`: the `:k` nearest to `:query`
    of the rows in the HNSW index (`indexed`, the partial index serves it) and the `:k`
    nearest of the un-indexed tail, found exactly; the caller keeps the best `k` of both."""
    distance = _distance(table)

    def nearest(part: ColumnElement[bool]) -> Select[Any]:
        return (
            select(*columns, distance.label("distance"))
            .where(where, part)
            .order_by(distance)
            .limit(bindparam("k"))
        )

    return union_all(nearest(table.c.indexed), nearest(not_(table.c.indexed)))


def similarity_statement(table: Table, where: ColumnElement[bool]) -> Select[Any]:
    """(id, cosine distance to `:query`) of the rows passing `where`."""
    return select(table.c.id, _distance(table)).where(where)
