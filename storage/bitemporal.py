"""The bi-temporal row model (docs/user-guide/07-memory.md, Semantic memory), for tables that
version rows.

Each row is one version with a valid period `[valid_from, valid_to)` (when it is true in the
world; NULL end = still true) and a transaction period `[recorded_at, superseded_at)` (when it
was believed; NULL end = still believed). A lookup at `(as_of, known_at)` returns the row whose
periods contain both. Changing a thing at valid time T supersedes the current rows overlapping
`[T, ∞)`, re-records their part before T unchanged, and records the new version from T; nothing
is physically removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from llmspell.storage.schema import UtcDateTime
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import json_object


def temporal_columns() -> list[Column[Any]]:
    """The four period columns a versioned table adds to its own."""
    return [
        Column("valid_from", UtcDateTime(), nullable=False),
        Column("valid_to", UtcDateTime()),
        Column("recorded_at", UtcDateTime(), nullable=False),
        Column("superseded_at", UtcDateTime()),
    ]


def first_version(
    properties: Mapping[str, Any], valid_from: datetime | None, valid_to: datetime | None
) -> dict[str, Any]:
    """The versioning columns of a new entity or relationship, recorded now."""
    now = datetime.now(UTC)
    start = valid_from or now
    if valid_to is not None and valid_to <= start:
        raise ValueError(
            f"valid_to ({valid_to.isoformat()}) must be after valid_from ({start.isoformat()})"
        )
    return {
        "version": 1,
        "properties": json_object("properties", properties),
        "valid_from": start,
        "valid_to": valid_to,
        "recorded_at": now,
        "superseded_at": None,
    }


class BitemporalVersions:
    """The versioning rules for one bi-temporal table (entities or relationships)."""

    def __init__(self, tenant: Tenant, table: Table, key: str) -> None:
        self.table = t = table
        self.key = t.c[key]
        self.key_name = key
        self.columns = [c for c in t.columns if c.name != "tenant_id"]
        self.current_overlapping = (
            select(*self.columns)
            .where(
                tenant.where(t, key),
                t.c.superseded_at.is_(None),
                or_(t.c.valid_to.is_(None), t.c.valid_to > bindparam("at")),
            )
            .order_by(t.c.valid_from)
            .with_for_update()
        )
        self.supersede = (
            update(t)
            .where(tenant.where(t), self.key == bindparam("key"), t.c.version == bindparam("v"))
            .values(superseded_at=bindparam("now"))
        )
        self.next_version = select(func.coalesce(func.max(t.c.version), 0) + 1).where(
            tenant.where(t, key)
        )
        self.insert = insert(t).values(tenant.values())
        self.at = (
            select(*self.columns)
            .where(tenant.where(t, key), self.valid(t))
            .order_by(t.c.version.desc())
            .limit(1)
        )
        self.exists = select(t.c.version).where(tenant.where(t, key)).limit(1)
        self.history = (
            select(*self.columns)
            .where(tenant.where(t, key))
            .order_by(t.c.recorded_at.desc(), t.c.valid_from.desc(), t.c.version.desc())
        )

    @staticmethod
    def valid(t: Any) -> ColumnElement[bool]:
        """The row is valid at :as_of and believed at :known_at."""
        return and_(
            t.c.valid_from <= bindparam("as_of"),
            or_(t.c.valid_to.is_(None), t.c.valid_to > bindparam("as_of")),
            t.c.recorded_at <= bindparam("known_at"),
            or_(t.c.superseded_at.is_(None), t.c.superseded_at > bindparam("known_at")),
        )

    def change(
        self,
        conn: Connection,
        key: str,
        at: datetime,
        now: datetime,
        new: Callable[[Any], dict[str, Any]] | None,
    ) -> Any:
        """Supersede the current rows overlapping [at, ∞), re-record their part before `at`,
        and (when `new` is given) record `new(base_row)` from `at`. Returns the new row's values
        (or True for a close), None when no current row overlaps [at, ∞)."""
        rows = conn.execute(self.current_overlapping, {self.key_name: key, "at": at}).all()
        if not rows:
            return None
        version = int(conn.execute(self.next_version, {self.key_name: key}).scalar_one())
        for row in rows:
            conn.execute(self.supersede, {"key": key, "v": row.version, "now": now})
        for row in rows:
            if row.valid_from < at:
                values = {c.name: getattr(row, c.name) for c in self.columns}
                values.update(version=version, valid_to=at, recorded_at=now, superseded_at=None)
                conn.execute(self.insert, values)
                version += 1
        if new is None:
            return True
        base = next(
            (r for r in rows if r.valid_from <= at and (r.valid_to is None or r.valid_to > at)),
            rows[0],
        )
        ends = [r.valid_to for r in rows]
        values = {c.name: getattr(base, c.name) for c in self.columns}
        values.update(new(base))
        values.update(
            version=version,
            valid_from=at,
            valid_to=None if any(end is None for end in ends) else max(e for e in ends if e),
            recorded_at=now,
            superseded_at=None,
        )
        conn.execute(self.insert, values)
        return values
