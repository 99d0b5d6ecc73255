"""The namespaces of one tenant's vectors: the row that pins a namespace's model and
dimension, its generation stamp (new on every write), its count, and its end when it empties."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from llmspell.storage.components.vectors.model import NamespaceInfo, VectorModelMismatch
from llmspell.storage.components.vectors.rows import Statements, live
from llmspell.storage.components.vectors.tables import vector_namespaces, vector_table
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into


class Namespaces:
    """Namespace rows of one tenant, read and changed inside the caller's transaction."""

    def __init__(self, dialect_name: str, tenant: Tenant, statements: Statements) -> None:
        self._tenant = tenant
        self._statements = statements
        n = vector_namespaces
        self._get = select(n).where(tenant.where(n, "namespace"))
        self._lock = self._get.with_for_update()
        self._all = select(n).where(tenant.where(n)).order_by(n.c.namespace)
        # two writers may create a namespace at once: the second one's insert does nothing
        # and it reads the first one's row (a lock on a missing row locks nothing)
        self.insert = (
            upsert_into(dialect_name, n)
            .values(tenant.values())
            .on_conflict_do_nothing(index_elements=["tenant_id", "namespace"])
        )
        # UPDATE reserves column names as parameter names: the namespace goes in as `ns`.
        self._bump = (
            update(n)
            .where(tenant.where(n), n.c.namespace == bindparam("ns"))
            .values(generation=bindparam("generation"), updated_at=bindparam("updated_at"))
        )
        self.delete = delete(n).where(tenant.where(n, "namespace"))
        self._dimensions = select(n.c.dimension).where(tenant.where(n)).distinct()

    def row(self, conn: Connection, namespace: str, lock: bool = False) -> Any:
        stmt = self._lock if lock else self._get
        return conn.execute(stmt, {"namespace": namespace}).first()

    def rows(self, conn: Connection) -> list[Any]:
        return list(conn.execute(self._all).all())

    def dimensions(self, conn: Connection) -> list[int]:
        """The sizes the tenant's namespaces hold (the tables worth looking in)."""
        return sorted(int(d) for d in conn.execute(self._dimensions).scalars())

    def pinned(
        self,
        conn: Connection,
        namespace: str,
        model: str,
        dimension: int | None,
        lock: bool = False,
    ) -> Any:
        """The namespace row, checking it was written by `model` (and `dimension`)."""
        row = self.row(conn, namespace, lock)
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

    def count(self, conn: Connection, dimension: int, namespace: str, now: datetime) -> int:
        t = vector_table(dimension)
        stmt = self._statements.get(
            ("count_ns", dimension),
            lambda: select(func.count()).where(self._tenant.where(t, "namespace"), live(t)),
        )
        return int(conn.execute(stmt, {"namespace": namespace, "now": now}).scalar_one())

    def info(self, conn: Connection, row: Any, now: datetime) -> NamespaceInfo:
        return NamespaceInfo(
            namespace=row.namespace,
            model=row.model,
            dimension=int(row.dimension),
            generation=row.generation,
            count=self.count(conn, int(row.dimension), row.namespace, now),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def touch(
        self, conn: Connection, namespace: str, now: datetime, row: Any = None
    ) -> tuple[str, str]:
        """Give `namespace` a new generation; returns (old, new). `row`: its row, when the
        caller already read it under lock."""
        if row is None:
            row = self.row(conn, namespace, lock=True)
        new = secrets.token_hex(8)
        conn.execute(self._bump, {"ns": namespace, "generation": new, "updated_at": now})
        return row.generation, new

    def after_delete(
        self, conn: Connection, namespace: str, now: datetime
    ) -> tuple[str, str] | None:
        """A namespace lost vectors: new generation (returns (old, new)), or gone when it is
        empty (returns None)."""
        row = self.row(conn, namespace, lock=True)
        if row is None:
            return None
        t = vector_table(int(row.dimension))
        any_left = self._statements.get(
            ("any_left", int(row.dimension)),
            lambda: select(t.c.id).where(self._tenant.where(t, "namespace")).limit(1),
        )
        if conn.execute(any_left, {"namespace": namespace}).first() is None:
            conn.execute(self.delete, {"namespace": namespace})
            return None
        return self.touch(conn, namespace, now, row)
