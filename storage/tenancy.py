"""Tenancy: the one place that builds tenant filters, so no statement can forget its tenant."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, FromClause, and_, bindparam

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# The PostgreSQL setting row-level security policies compare `tenant_id` with.
TENANT_SETTING = "app.tenant_id"


def check_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` if it is a valid tenant name, else ValueError saying what is allowed."""
    if not isinstance(tenant_id, str) or not TENANT_PATTERN.match(tenant_id):
        raise ValueError(
            f"tenant id {tenant_id!r} is invalid; use 1-128 characters from A-Z a-z 0-9 _ . : -"
        )
    return tenant_id


class Tenant:
    """The tenant a store was opened for; builds the WHERE clause and row of every statement.

    Components build their statements once, through these two methods: the tenant is bound
    into the statement itself; the other values are parameters given at execution.
    """

    __slots__ = ("id",)

    def __init__(self, tenant_id: str) -> None:
        self.id = check_tenant_id(tenant_id)

    def _bound(self) -> BindParameter[str]:
        return bindparam("tenant_id", self.id, unique=True)

    def where(self, table: FromClause, *columns: str) -> ColumnElement[bool]:
        """`tenant_id = <this tenant> AND col = :col ...` on `table`."""
        clauses = [table.c.tenant_id == self._bound()]
        clauses.extend(table.c[name] == bindparam(name) for name in columns)
        return and_(*clauses)

    def values(self, **fixed: Any) -> dict[str, Any]:
        """INSERT values: this tenant plus `fixed`; other columns come from execute parameters."""
        return {"tenant_id": self._bound(), **fixed}

    def __repr__(self) -> str:
        return f"Tenant({self.id!r})"
