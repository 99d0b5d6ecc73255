"""Component 6, sessions: the record of each unit of work (name, tags, status, parent, metadata).

Every method runs for the tenant the store was opened for. Tags live twice, both written in
one transaction: as the ordered JSON list the record returns, and one row per tag in
`session_tags`, which the tag filter of `list` joins (the same SQL on both dialects).
Lifecycle rules (which status may follow which) are the runtime's; the store only makes a
status change conditional on the status the caller read (`update`), so two writers cannot
both apply a transition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import (
    Column,
    Index,
    PrimaryKeyConstraint,
    Select,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from llmspell.storage.database import Database
from llmspell.storage.glob import matches_glob
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import check_limit, refuse_nul

__all__ = [
    "SESSION_ORDER_FIELDS",
    "SESSION_STATUSES",
    "SessionQuery",
    "SessionRecord",
    "SessionStore",
    "SqlSessionStore",
]

SESSION_STATUSES = ("active", "suspended", "completed", "failed", "archived")
SESSION_ORDER_FIELDS = ("updated_at", "created_at", "name")
SessionOrder = Literal["updated_at", "created_at", "name"]
MUTABLE_FIELDS = ("name", "description", "tags", "status", "metadata", "updated_at")


@dataclass(frozen=True)
class SessionRecord:
    """One session as stored (the runtime adds `artifact_count` from the artifacts store)."""

    id: str  # a canonical UUID string
    name: str | None
    description: str | None
    tags: tuple[str, ...]
    status: str
    parent_id: str | None
    metadata: dict[str, Any]
    created_at: datetime  # timezone-aware, UTC
    updated_at: datetime


@dataclass(frozen=True)
class SessionQuery:
    """What `SessionStore.list` returns: sessions matching every filter given, in order."""

    status: str | None = None
    tags: tuple[str, ...] = ()  # sessions carrying all of these tags
    name: str | None = None  # a glob: `research*`; a name without * ? [ matches exactly
    limit: int | None = None
    offset: int = 0
    order_by: SessionOrder = "updated_at"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in SESSION_STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(SESSION_STATUSES)}, got {self.status!r}"
            )
        if self.order_by not in SESSION_ORDER_FIELDS:
            raise ValueError(
                f"order must be one of {', '.join(SESSION_ORDER_FIELDS)}, got {self.order_by!r}"
            )
        check_limit(self.limit)
        if self.offset < 0:
            raise ValueError(f"offset must be a non-negative integer, got {self.offset}")
        refuse_nul("name", self.name)
        refuse_nul("tags", self.tags)


class SessionStore(Protocol):
    """Session records of one tenant."""

    def create(self, session: SessionRecord) -> None:
        """Store a new session (ValueError if its id exists)."""
        ...

    def get(self, session_id: str) -> SessionRecord | None: ...

    def list(self, query: SessionQuery) -> list[SessionRecord]:
        """Sessions matching `query`, in its order (ties broken by id)."""
        ...

    def update(self, session: SessionRecord, expected_status: str) -> bool:
        """Replace the stored record's mutable fields (name, description, tags, status,
        metadata, updated_at) if it still has `expected_status`; False otherwise."""
        ...

    def delete(self, session_id: str) -> bool: ...


sessions = Table(
    "sessions",
    metadata,
    tenant_column(),
    Column("session_id", Text, nullable=False),
    Column("name", Text),
    Column("description", Text),
    Column("tags", Text, nullable=False),  # JSON list, in the order given
    Column("status", Text, nullable=False),
    Column("parent_id", Text),
    Column("metadata", Text, nullable=False),  # JSON object
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "session_id"),
    Index(None, "tenant_id", "updated_at"),
    Index(None, "tenant_id", "status", "updated_at"),
)

session_tags = Table(
    "session_tags",
    metadata,
    tenant_column(),
    Column("session_id", Text, nullable=False),
    Column("tag", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "session_id", "tag"),
    Index(None, "tenant_id", "tag"),
)

_ROW = (
    sessions.c.session_id,
    sessions.c.name,
    sessions.c.description,
    sessions.c.tags,
    sessions.c.status,
    sessions.c.parent_id,
    sessions.c.metadata,
    sessions.c.created_at,
    sessions.c.updated_at,
)


def _record(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.session_id,
        name=row.name,
        description=row.description,
        tags=tuple(json.loads(row.tags)),
        status=row.status,
        parent_id=row.parent_id,
        metadata=json.loads(row.metadata),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _params(session: SessionRecord) -> dict[str, Any]:
    if session.status not in SESSION_STATUSES:
        raise ValueError(
            f"status must be one of {', '.join(SESSION_STATUSES)}, got {session.status!r}"
        )
    for what in ("id", "name", "description", "tags", "parent_id", "metadata"):
        refuse_nul(what, getattr(session, what))
    return {
        "session_id": session.id,
        "name": session.name,
        "description": session.description,
        "tags": _json(list(dict.fromkeys(session.tags))),
        "status": session.status,
        "parent_id": session.parent_id,
        "metadata": _json(session.metadata),
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }


class SqlSessionStore:
    """`SessionStore` on any SQL backend, for one tenant."""

    def __init__(self, db: Database, tenant: Tenant, settings: None = None) -> None:
        self._db = db
        self._tenant = tenant
        self.tenant_id = tenant.id
        s, t = sessions, session_tags
        self._get = select(*_ROW).where(tenant.where(s, "session_id"))
        self._exists = select(s.c.status).where(tenant.where(s, "session_id"))
        self._insert = insert(s).values(tenant.values())
        self._insert_tag = insert(t).values(tenant.values())
        # SET comes from the parameters named after columns (UPDATE reserves those names),
        # so the row is matched through other names.
        self._update = update(s).where(
            tenant.where(s),
            s.c.session_id == bindparam("match_id"),
            s.c.status == bindparam("expected_status"),
        )
        self._delete_tags = delete(t).where(tenant.where(t, "session_id"))
        self._delete = delete(s).where(tenant.where(s, "session_id"))
        # Sessions carrying every tag of :tags (the filter `list` adds when tags are given).
        self._with_all_tags = (
            select(t.c.session_id)
            .where(tenant.where(t), t.c.tag.in_(bindparam("tags", expanding=True)))
            .group_by(t.c.session_id)
            .having(func.count(t.c.tag) == bindparam("tag_count"))
        )
        self._list_base = select(*_ROW).where(tenant.where(s))

    def create(self, session: SessionRecord) -> None:
        params = _params(session)
        with self._db.transaction(write=True) as conn:
            if conn.execute(self._exists, {"session_id": session.id}).first() is not None:
                raise ValueError(f"a session with id {session.id} exists already")
            conn.execute(self._insert, params)
            self._write_tags(conn, session)

    def get(self, session_id: str) -> SessionRecord | None:
        refuse_nul("session id", session_id)
        with self._db.transaction() as conn:
            row = conn.execute(self._get, {"session_id": session_id}).first()
        return None if row is None else _record(row)

    def list(self, query: SessionQuery) -> list[SessionRecord]:
        stmt, params = self._list_statement(query)
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).all()
        return [_record(row) for row in rows]

    def update(self, session: SessionRecord, expected_status: str) -> bool:
        row = _params(session)
        params = {name: row[name] for name in MUTABLE_FIELDS}
        params.update(match_id=session.id, expected_status=expected_status)
        with self._db.transaction(write=True) as conn:
            if conn.execute(self._update, params).rowcount == 0:
                return False
            conn.execute(self._delete_tags, {"session_id": session.id})
            self._write_tags(conn, session)
        return True

    def delete(self, session_id: str) -> bool:
        refuse_nul("session id", session_id)
        with self._db.transaction(write=True) as conn:
            conn.execute(self._delete_tags, {"session_id": session_id})
            return bool(conn.execute(self._delete, {"session_id": session_id}).rowcount)

    def _write_tags(self, conn: Any, session: SessionRecord) -> None:
        tags = list(dict.fromkeys(session.tags))
        if tags:
            conn.execute(self._insert_tag, [{"session_id": session.id, "tag": t} for t in tags])

    def _list_statement(self, query: SessionQuery) -> tuple[Select[Any], dict[str, Any]]:
        # Built per call: which filters apply varies, and listing is not the hot path.
        s = sessions
        stmt = self._list_base
        params: dict[str, Any] = {}
        if query.status is not None:
            stmt = stmt.where(s.c.status == bindparam("status"))
            params["status"] = query.status
        if query.tags:
            tags = sorted(set(query.tags))
            stmt = stmt.where(s.c.session_id.in_(self._with_all_tags))
            params.update(tags=tags, tag_count=len(tags))
        if query.name is not None:
            stmt = stmt.where(matches_glob(s.c.name, query.name))
        column = func.coalesce(s.c.name, "") if query.order_by == "name" else s.c[query.order_by]
        if query.descending:
            stmt = stmt.order_by(column.desc(), s.c.session_id.desc())
        else:
            stmt = stmt.order_by(column.asc(), s.c.session_id.asc())
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        if query.offset:
            stmt = stmt.offset(query.offset)
        return stmt, params


COMPONENT = Component(
    name="sessions",
    title="session records: name, tags, status, parent, metadata (Session)",
    protocol=SessionStore,
    tables=(sessions, session_tags),
    store=SqlSessionStore,
)
