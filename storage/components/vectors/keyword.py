"""Keyword search over the vectors' content, ranked by the database's own full-text index
(`llmspell.storage.fulltext`). The dialect's ranking is picked once per store:
`PostgresKeywords` (tsvector, `ts_rank`, metadata filtered in SQL) or `SqliteKeywords` (FTS5,
`bm25()`, metadata compared in Python as JSON equality)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Select, Table, bindparam, select

from llmspell.storage import fulltext
from llmspell.storage.components.vectors.model import VectorHit
from llmspell.storage.components.vectors.namespaces import Namespaces
from llmspell.storage.components.vectors.rows import (
    Shape,
    Statements,
    filter_clauses,
    filter_params,
    record_columns,
    record_of,
    shape_of,
)
from llmspell.storage.components.vectors.tables import vector_table
from llmspell.storage.database import Database
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import refuse_nul
from llmspell.storage.vector_matrix import VectorFilter


class KeywordSearch:
    """Keyword search of one tenant's namespaces; subclasses name the dialect."""

    dialect: ClassVar[str]
    sql_metadata: ClassVar[bool]  # metadata filters run in SQL (else in Python, past `k`)

    def __init__(
        self, db: Database, tenant: Tenant, statements: Statements, namespaces: Namespaces
    ) -> None:
        self._db = db
        self._tenant = tenant
        self._statements = statements
        self._namespaces = namespaces

    def search(
        self,
        namespace: str,
        terms: Sequence[str],
        k: int,
        where: VectorFilter | None,
        ids: Collection[str] | None,
    ) -> list[VectorHit]:
        words = fulltext.check_terms(terms)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        chosen = None if ids is None else sorted(set(ids))
        refuse_nul("ids", chosen)
        if not words or k == 0 or chosen == []:
            return []
        now = datetime.now(UTC)
        shape = shape_of(where, sql_metadata=self.sql_metadata)
        # Metadata compared in Python reads past `k` rows.
        post_filter = not self.sql_metadata and where is not None and bool(where.metadata)
        with self._db.transaction() as conn:
            row = self._namespaces.row(conn, namespace)
            if row is None:
                return []
            dimension = int(row.dimension)
            stmt = self._statements.get(
                ("keyword", dimension, shape, chosen is not None, post_filter),
                lambda: self._statement(
                    vector_table(dimension), shape, chosen is not None, not post_filter
                ),
            )
            params = {
                **filter_params(where, now),
                "namespace": namespace,
                "terms": fulltext.match_text(words, self.dialect),
            }
            if chosen is not None:
                params["ids"] = chosen
            if not post_filter:
                params["k"] = k
            hits: list[VectorHit] = []
            for found in conn.execute(stmt, params):
                record = record_of(found, False)
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

    def _statement(self, t: Table, shape: Shape, some_ids: bool, limited: bool) -> Select[Any]:
        rank = fulltext.rank_expression(t, self.dialect).label("keyword_score")
        clauses = [
            filter_clauses(self._tenant, t, shape, with_namespace=True),
            fulltext.match_clause(t, self.dialect),
        ]
        if some_ids:
            clauses.append(t.c.id.in_(bindparam("ids", expanding=True)))
        stmt = self._from(select(*record_columns(t, False), rank), t)
        stmt = stmt.where(*clauses).order_by(rank.desc(), t.c.id)
        return stmt.limit(bindparam("k")) if limited else stmt

    def _from(self, stmt: Select[Any], t: Table) -> Select[Any]:
        return stmt


class PostgresKeywords(KeywordSearch):
    """The table's generated tsvector column, ranked by `ts_rank`."""

    dialect = "postgresql"
    sql_metadata = True


class SqliteKeywords(KeywordSearch):
    """The table's FTS5 shadow table joined by rowid, ranked by `bm25()`."""

    dialect = "sqlite"
    sql_metadata = False

    def _from(self, stmt: Select[Any], t: Table) -> Select[Any]:
        return stmt.select_from(
            fulltext.sqlite_fts_table(t).join(t, fulltext.sqlite_join_condition(t))
        )
