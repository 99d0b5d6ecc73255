"""How vectors leave a tenant's tables inside a write: by id (whichever namespace holds them),
by document of a namespace, and by expiry (the sweep every write to a table runs). Each
namespace that lost vectors gets a new generation, or goes when it is empty."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, select

from llmspell.storage.components.vectors.namespaces import Namespaces
from llmspell.storage.components.vectors.rows import Statements
from llmspell.storage.components.vectors.tables import vector_table
from llmspell.storage.tenancy import Tenant


class Removals:
    """Deletes of one tenant's vectors, run in the caller's write transaction."""

    def __init__(self, tenant: Tenant, statements: Statements, namespaces: Namespaces) -> None:
        self._tenant = tenant
        self._statements = statements
        self._ns = namespaces

    def drop_documents(
        self, conn: Connection, dimension: int, namespace: str, documents: Sequence[str]
    ) -> list[str]:
        """Delete the namespace's vectors of `documents` (expired ones too); their ids."""
        t = vector_table(dimension)

        def where() -> ColumnElement[bool]:
            return and_(
                self._tenant.where(t, "namespace"),
                t.c.document_id.in_(bindparam("document_ids", expanding=True)),
            )

        find = self._statements.get(
            ("document_ids", dimension), lambda: select(t.c.id).where(where())
        )
        drop = self._statements.get(("drop_documents", dimension), lambda: delete(t).where(where()))
        params = {"namespace": namespace, "document_ids": list(documents)}
        ids = list(conn.execute(find, params).scalars())
        if ids:
            conn.execute(drop, params)
        return ids

    def owners_of(self, conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
        """namespace -> ids, for ids that already exist (an add with their id replaces them)."""
        owners: dict[str, list[str]] = {}
        for dimension in self._ns.dimensions(conn):
            t = vector_table(dimension)
            stmt = self._statements.get(
                ("owners", dimension),
                lambda t: select(t.c.namespace, t.c.id).where(
                    self._tenant.where(t), t.c.id.in_(bindparam("ids", expanding=True))
                ),
                t,
            )
            for ns, vid in conn.execute(stmt, {"ids": list(ids)}):
                owners.setdefault(ns, []).append(vid)
        return owners

    def delete_ids(self, conn: Connection, ids: Sequence[str]) -> None:
        for dimension in self._ns.dimensions(conn):
            t = vector_table(dimension)
            stmt = self._statements.get(
                ("delete_ids", dimension),
                lambda t: delete(t).where(
                    self._tenant.where(t), t.c.id.in_(bindparam("ids", expanding=True))
                ),
                t,
            )
            conn.execute(stmt, {"ids": list(ids)})

    def sweep_table(self, conn: Connection, dimension: int, now: datetime) -> dict[str, list[str]]:
        """Delete the tenant's expired vectors of one table; namespace -> ids removed."""
        t = vector_table(dimension)
        stmt = self._statements.get(
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
            self._ns.after_delete(conn, ns, now)
        return removed
