"""Component 3, procedural memory: how often an action worked for a trigger.

`(tenant_id, trigger, action) -> successes, failures, first_seen, last_seen, context`; the
success rate is derived. Ranking with a minimum-evidence rule lives in the runtime
(`llmspell.runtime.memory.procedural`); the store counts and lists.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    delete,
    func,
    select,
)

from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import check_limit, refuse_nul_in_json, require_text

__all__ = ["ProceduralPattern", "ProceduralStore", "SqlProceduralStore"]


@dataclass(frozen=True)
class ProceduralPattern:
    """One (trigger, action) pair and its track record."""

    id: str
    trigger: str
    action: str
    successes: int
    failures: int
    first_seen: datetime
    last_seen: datetime
    context: Any

    @property
    def observations(self) -> int:
        return self.successes + self.failures

    @property
    def success_rate(self) -> float:
        return self.successes / self.observations if self.observations else 0.0


class ProceduralStore(Protocol):
    """Success/failure counts of actions taken for triggers."""

    def record(
        self, trigger: str, action: str, success: bool, context: Any = None
    ) -> ProceduralPattern:
        """Count one outcome of `action` for `trigger` (context replaces the stored one when
        given); returns the updated pattern."""
        ...

    def for_trigger(self, trigger: str) -> list[ProceduralPattern]:
        """Every pattern of `trigger`."""
        ...

    def list(self, min_observations: int = 0, limit: int | None = None) -> list[ProceduralPattern]:
        """Patterns seen at least `min_observations` times, most observed first."""
        ...

    def count(self) -> int:
        """How many patterns the tenant has."""
        ...

    def delete(self, trigger: str, action: str) -> bool:
        """Forget one pattern; true if it existed."""
        ...


procedural_patterns = Table(
    "procedural_patterns",
    metadata,
    tenant_column(),
    Column("trigger", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("successes", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("context", JSON()),
    PrimaryKeyConstraint("tenant_id", "trigger", "action"),
    Index("ix_procedural_patterns_tenant_id_id", "tenant_id", "id", unique=True),
)


class SqlProceduralStore:
    """`ProceduralStore` on any SQL backend, for one tenant."""

    def __init__(self, db: Database, tenant: Tenant, settings: None = None) -> None:
        self._db = db
        self.tenant_id = tenant.id
        p = procedural_patterns
        columns = (
            p.c.id,
            p.c.trigger,
            p.c.action,
            p.c.successes,
            p.c.failures,
            p.c.first_seen,
            p.c.last_seen,
            p.c.context,
        )
        upsert = upsert_into(db.dialect_name, p).values(tenant.values())
        counts = {
            "successes": p.c.successes + upsert.excluded.successes,
            "failures": p.c.failures + upsert.excluded.failures,
            "last_seen": upsert.excluded.last_seen,
        }
        key = [p.c.tenant_id, p.c.trigger, p.c.action]
        self._record = upsert.on_conflict_do_update(index_elements=key, set_=counts).returning(
            *columns
        )
        # A record that brings a context replaces the stored one; one without keeps it.
        self._record_with_context = upsert.on_conflict_do_update(
            index_elements=key, set_={**counts, "context": upsert.excluded.context}
        ).returning(*columns)
        self._for_trigger = select(*columns).where(tenant.where(p, "trigger"))
        self._list = (
            select(*columns)
            .where(tenant.where(p), (p.c.successes + p.c.failures) >= bindparam("minimum"))
            .order_by((p.c.successes + p.c.failures).desc(), p.c.last_seen.desc(), p.c.trigger)
        )
        self._count = select(func.count()).where(tenant.where(p))
        self._delete = delete(p).where(tenant.where(p, "trigger", "action"))

    @staticmethod
    def _pattern(row: Any) -> ProceduralPattern:
        return ProceduralPattern(
            id=row[0],
            trigger=row[1],
            action=row[2],
            successes=int(row[3]),
            failures=int(row[4]),
            first_seen=row[5],
            last_seen=row[6],
            context=row[7],
        )

    def record(
        self, trigger: str, action: str, success: bool, context: Any = None
    ) -> ProceduralPattern:
        if not isinstance(success, bool):
            raise ValueError(f"success must be true or false, got {success!r}")
        if context is not None:
            try:
                text = json.dumps(context, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"context cannot be stored as JSON: {exc}") from None
            refuse_nul_in_json("context", text, context)
        now = datetime.now(UTC)
        params = {
            "trigger": require_text("trigger", trigger),
            "action": require_text("action", action),
            "id": str(uuid.uuid4()),
            "successes": int(success),
            "failures": int(not success),
            "first_seen": now,
            "last_seen": now,
            "context": context,
        }
        stmt = self._record if context is None else self._record_with_context
        with self._db.transaction(write=True) as conn:
            return self._pattern(conn.execute(stmt, params).one())

    def for_trigger(self, trigger: str) -> list[ProceduralPattern]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                self._for_trigger, {"trigger": require_text("trigger", trigger)}
            ).all()
        return [self._pattern(row) for row in rows]

    def list(self, min_observations: int = 0, limit: int | None = None) -> list[ProceduralPattern]:
        check_limit(limit)
        with self._db.transaction() as conn:
            rows = conn.execute(self._list, {"minimum": int(min_observations)})
            patterns: list[ProceduralPattern] = []
            for row in rows:
                if limit is not None and len(patterns) >= limit:
                    break
                patterns.append(self._pattern(row))
        return patterns

    def count(self) -> int:
        with self._db.transaction() as conn:
            return int(conn.execute(self._count).scalar_one())

    def delete(self, trigger: str, action: str) -> bool:
        params = {
            "trigger": require_text("trigger", trigger),
            "action": require_text("action", action),
        }
        with self._db.transaction(write=True) as conn:
            return bool(conn.execute(self._delete, params).rowcount)


COMPONENT = Component(
    name="procedural",
    title="procedural memory: success and failure counts of actions per trigger",
    protocol=ProceduralStore,
    tables=(procedural_patterns,),
    store=SqlProceduralStore,
)
