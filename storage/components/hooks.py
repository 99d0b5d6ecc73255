"""Component 9, hook history: every execution of a hook callback, with its context and result.

Contexts are JSON; one larger than `compress_over_bytes` is stored zlib-compressed.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    insert,
    select,
)

from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import check_limit, message_text, refuse_nul

__all__ = ["HookExecution", "HookHistorySettings", "HookHistoryStore", "SqlHookHistoryStore"]

RESULTS = ("continue", "skip", "modified", "cancel", "error")
_TEXT_FIELDS = (
    "execution_id",
    "hook_id",
    "hook_name",
    "point",
    "component",
    "correlation_id",
    "session_id",
)


@dataclass(frozen=True)
class HookExecution:
    """One run of one hook callback at one point."""

    execution_id: str
    hook_id: str
    hook_name: str | None
    point: str
    component: str
    correlation_id: str | None
    session_id: str | None
    started_at: datetime  # timezone-aware, UTC
    duration_ms: float
    result: str  # one of RESULTS
    error: str | None
    context: dict[str, Any]  # what the callback was given (JSON-able)


class HookHistoryStore(Protocol):
    """Recorded hook executions of one tenant."""

    def record(self, execution: HookExecution) -> None: ...
    def query(
        self,
        point: str | None = None,
        correlation_id: str | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> list[HookExecution]:
        """Executions matching every given filter, newest first (at most `limit`)."""
        ...


@dataclass(frozen=True)
class HookHistorySettings:
    """Contexts whose JSON is larger than this are stored compressed."""

    compress_over_bytes: int = 4096


hook_history = Table(
    "hook_history",
    metadata,
    tenant_column(),
    Column("execution_id", Text, nullable=False),
    Column("hook_point", Text, nullable=False),
    Column("hook_id", Text, nullable=False),
    Column("hook_name", Text, nullable=True),
    Column("component", Text, nullable=False),
    Column("correlation_id", Text, nullable=True),
    Column("session_id", Text, nullable=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("result", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("context", LargeBinary, nullable=False),  # JSON, zlib-compressed when large
    Column("context_compressed", Boolean, nullable=False),
    PrimaryKeyConstraint("tenant_id", "execution_id"),
    Index(None, "tenant_id", "hook_point", "started_at"),
    Index(None, "tenant_id", "correlation_id", "started_at"),
    Index(None, "tenant_id", "session_id", "started_at"),
)


class SqlHookHistoryStore:
    """`HookHistoryStore` on any SQL backend, for one tenant."""

    def __init__(self, db: Database, tenant: Tenant, settings: HookHistorySettings) -> None:
        self._db = db
        self.compress_over_bytes = settings.compress_over_bytes
        h = hook_history
        self._insert = insert(h).values(tenant.values())
        self._select = select(
            h.c.execution_id,
            h.c.hook_id,
            h.c.hook_name,
            h.c.hook_point,
            h.c.component,
            h.c.correlation_id,
            h.c.session_id,
            h.c.started_at,
            h.c.duration_ms,
            h.c.result,
            h.c.error,
            h.c.context,
            h.c.context_compressed,
        ).where(tenant.where(h))
        self._filters = {
            "point": h.c.hook_point == bindparam("point"),
            "correlation_id": h.c.correlation_id == bindparam("correlation_id"),
            "session_id": h.c.session_id == bindparam("session_id"),
        }

    def record(self, execution: HookExecution) -> None:
        if execution.result not in RESULTS:
            raise ValueError(
                f"hook result must be one of {', '.join(RESULTS)}, got {execution.result!r}"
            )
        for what in _TEXT_FIELDS:
            refuse_nul(what, getattr(execution, what))
        text = json.dumps(execution.context, ensure_ascii=False, separators=(",", ":"))
        body = text.encode("utf-8")
        compressed = len(body) > self.compress_over_bytes
        with self._db.transaction(write=True) as conn:
            conn.execute(
                self._insert,
                {
                    "execution_id": execution.execution_id,
                    "hook_point": execution.point,
                    "hook_id": execution.hook_id,
                    "hook_name": execution.hook_name,
                    "component": execution.component,
                    "correlation_id": execution.correlation_id,
                    "session_id": execution.session_id,
                    "started_at": execution.started_at,
                    "duration_ms": execution.duration_ms,
                    "result": execution.result,
                    "error": message_text(execution.error),
                    "context": zlib.compress(body) if compressed else body,
                    "context_compressed": compressed,
                },
            )

    def query(
        self,
        point: str | None = None,
        correlation_id: str | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> list[HookExecution]:
        check_limit(limit)
        given = {"point": point, "correlation_id": correlation_id, "session_id": session_id}
        for what, value in given.items():
            refuse_nul(what, value)
        params = {name: value for name, value in given.items() if value is not None}
        stmt = self._select.where(*(self._filters[name] for name in params)).order_by(
            hook_history.c.started_at.desc(), hook_history.c.execution_id.desc()
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).all()
        return [_execution(row) for row in rows]


def _execution(row: Any) -> HookExecution:
    body = zlib.decompress(row.context) if row.context_compressed else row.context
    return HookExecution(
        execution_id=row.execution_id,
        hook_id=row.hook_id,
        hook_name=row.hook_name,
        point=row.hook_point,
        component=row.component,
        correlation_id=row.correlation_id,
        session_id=row.session_id,
        started_at=row.started_at,
        duration_ms=float(row.duration_ms),
        result=row.result,
        error=row.error,
        context=json.loads(bytes(body).decode("utf-8")),
    )


COMPONENT = Component(
    name="hooks",
    title="hook history: every execution of a hook callback (Hook.history, Session.replay)",
    protocol=HookHistoryStore,
    tables=(hook_history,),
    store=SqlHookHistoryStore,
    settings=HookHistorySettings,
)
