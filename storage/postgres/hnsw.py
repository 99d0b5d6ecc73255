"""pgvector nearest-neighbour search: the HNSW scan settings and the two statements.

The vectors component builds its statements with these on PostgreSQL (SQLite searches an
in-process matrix instead). Distances are cosine (`<=>`); similarity is `1 - distance`.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    Select,
    Table,
    bindparam,
    func,
    not_,
    select,
    union_all,
)

from llmspell.storage.schema import Embedding


def prepare_hnsw_scan(conn: Connection, ef_search: int) -> None:
    """Settings for the transaction's HNSW scans: `relaxed_order` iterative scans keep reading
    the index until enough rows pass the filters (the tenant and the namespace always filter);
    `ef_search` widens the candidate list (recall against speed). No sequential or bitmap
    scans: the un-indexed tail is read through its partial index (statistics taken while a
    large tail waited make a scan of the whole table look cheaper, and a bitmap scan visits
    the folded rows' dead versions every time, where an index scan marks them dead once)."""
    conn.execute(
        select(
            func.set_config("hnsw.iterative_scan", "relaxed_order", True),
            func.set_config("hnsw.ef_search", str(ef_search), True),
            func.set_config("enable_seqscan", "off", True),
            func.set_config("enable_bitmapscan", "off", True),
        )
    )


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
