"""Component 4, agent state: one JSON object per agent, versioned and checksummed.

`(tenant_id, agent_id) -> state, schema_version, data_version, checksum, created_at,
updated_at`. `data_version` goes up by one on every change, and a put may name the version it
read (optimistic concurrency: of two writers that read the same version, exactly one wins).
`checksum` is the SHA-256 of the state's canonical JSON; every read verifies it.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    delete,
    func,
    select,
    update,
)

from llmspell.storage.database import Database
from llmspell.storage.errors import StorageError
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import (
    canonical_json,
    check_limit,
    json_object,
    mebibytes,
    require_name,
)

__all__ = [
    "AgentStateConflict",
    "AgentStateCorrupt",
    "AgentStateRecord",
    "AgentStateSettings",
    "AgentStateStore",
    "SqlAgentStateStore",
]

AGENT_ID_MAX = 256
# What a put changes in a stored row (data_version aside).
UPDATED_COLUMNS = ("state", "schema_version", "checksum", "updated_at")


class AgentStateConflict(StorageError):
    """A put named a version the stored state is no longer (or not yet) at."""

    def __init__(self, agent_id: str, stored: int, expected: int) -> None:
        now = f"is at version {stored}" if stored else "does not exist (version 0)"
        super().__init__(
            f"agent {agent_id!r}: its stored state {now}, but the put expected version "
            f"{expected}; another writer changed it: read it again and retry"
        )
        self.agent_id = agent_id
        self.stored_version = stored
        self.expected_version = expected


class AgentStateCorrupt(StorageError):
    """A stored state does not match its checksum (changed outside llmspell, or damaged)."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(
            f"the stored state of agent {agent_id!r} does not match its checksum: it was changed "
            "outside llmspell or damaged; put a new state (or delete it) to replace it"
        )
        self.agent_id = agent_id


@dataclass(frozen=True)
class AgentStateRecord:
    """One agent's state as stored."""

    agent_id: str
    state: dict[str, Any]
    schema_version: int  # the shape of `state`, as the agents layer defines it
    data_version: int  # 1 when first stored, +1 on every put
    checksum: str  # sha256 hex of the canonical JSON of `state`
    created_at: datetime  # timezone-aware, UTC
    updated_at: datetime


class AgentStateStore(Protocol):
    """The state of each agent of one tenant."""

    def get(self, agent_id: str) -> AgentStateRecord | None:
        """The agent's state, or None; AgentStateCorrupt when its checksum does not match."""
        ...

    def put(
        self,
        agent_id: str,
        state: dict[str, Any],
        *,
        expected_version: int | None = None,
        schema_version: int = 1,
    ) -> AgentStateRecord:
        """Store `state`. `expected_version`: None writes whatever is stored; 0 only if the
        agent has no state yet; N only if the stored `data_version` is N (else
        AgentStateConflict). Returns the stored record (`data_version` previous + 1)."""
        ...

    def delete(self, agent_id: str) -> bool:
        """Forget the agent's state; true if there was one."""
        ...

    def list(self, prefix: str | None = None, limit: int | None = None) -> list[AgentStateRecord]:
        """States sorted by agent id (code-point order), optionally of ids starting with
        `prefix`, at most `limit`."""
        ...

    def count(self) -> int:
        """How many agents have state."""
        ...

    def clear(self) -> int:
        """Delete every agent's state (this tenant's); return how many."""
        ...


@dataclass(frozen=True)
class AgentStateSettings:
    """Limits of the agent-state store (config: `storage.max_value_mb`)."""

    max_state_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_state_bytes < 1:
            raise ValueError(f"max_state_bytes must be positive, got {self.max_state_bytes}")


agent_states = Table(
    "agent_states",
    metadata,
    tenant_column(),
    Column("agent_id", Text, nullable=False),
    Column("state", Text, nullable=False),  # canonical JSON of an object
    Column("schema_version", Integer, nullable=False),
    Column("data_version", Integer, nullable=False),
    Column("checksum", Text, nullable=False),  # sha256 hex of `state`
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "agent_id"),
)


def state_checksum(canonical: str) -> str:
    """The checksum of a state: SHA-256 (hex) of its canonical JSON text."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _version(what: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer of at least {minimum}, got {value!r}")
    return value


class SqlAgentStateStore:
    """`AgentStateStore` on any SQL backend, for one tenant (statements built once)."""

    def __init__(self, db: Database, tenant: Tenant, settings: AgentStateSettings) -> None:
        self._db = db
        self.tenant_id = tenant.id
        self.max_state_bytes = settings.max_state_bytes
        a = agent_states
        columns = (
            a.c.agent_id,
            a.c.state,
            a.c.schema_version,
            a.c.data_version,
            a.c.checksum,
            a.c.created_at,
            a.c.updated_at,
        )
        upsert = upsert_into(db.dialect_name, a).values(tenant.values(data_version=1))
        key = [a.c.tenant_id, a.c.agent_id]
        self._put = upsert.on_conflict_do_update(
            index_elements=key,
            set_={
                "state": upsert.excluded.state,
                "schema_version": upsert.excluded.schema_version,
                "checksum": upsert.excluded.checksum,
                "updated_at": upsert.excluded.updated_at,
                "data_version": a.c.data_version + 1,
            },
        ).returning(*columns)
        # expected_version 0: the insert does nothing when the agent exists (a unique key, so
        # of two concurrent first puts exactly one inserts).
        self._put_new = upsert.on_conflict_do_nothing(index_elements=key).returning(*columns)
        # expected_version N: the update matches only the row still at N (PostgreSQL re-checks
        # the condition on the row a concurrent writer committed; SQLite writes one at a time).
        # (The SET columns come from the parameters; the row is matched under other names.)
        self._put_at = (
            update(a)
            .where(
                tenant.where(a),
                a.c.agent_id == bindparam("match_agent_id"),
                a.c.data_version == bindparam("expected"),
            )
            .values(data_version=a.c.data_version + 1)
            .returning(*columns)
        )
        self._version = select(a.c.data_version).where(tenant.where(a, "agent_id"))
        self._get = select(*columns).where(tenant.where(a, "agent_id"))
        # Code-point order on both dialects (a PostgreSQL database's collation may differ).
        order = a.c.agent_id.collate("C") if db.dialect_name == "postgresql" else a.c.agent_id
        self._list = select(*columns).where(tenant.where(a)).order_by(order)
        # substr, not LIKE: SQLite's LIKE ignores ASCII case and LIKE needs escaping.
        self._list_with_prefix = self._list.where(
            func.substr(a.c.agent_id, 1, bindparam("prefix_length")) == bindparam("prefix")
        )
        self._count = select(func.count()).where(tenant.where(a))
        self._delete = delete(a).where(tenant.where(a, "agent_id"))
        self._clear = delete(a).where(tenant.where(a))

    @staticmethod
    def _record(row: Any) -> AgentStateRecord:
        agent_id, text, checksum = row[0], row[1], row[4]
        try:
            state = json.loads(text)
            intact = isinstance(state, dict) and checksum == state_checksum(
                canonical_json("state", state)
            )
        except ValueError:  # not JSON, or JSON that is not storable (NaN)
            intact = False
        if not intact:
            raise AgentStateCorrupt(agent_id)
        return AgentStateRecord(
            agent_id=agent_id,
            state=state,
            schema_version=int(row[2]),
            data_version=int(row[3]),
            checksum=checksum,
            created_at=row[5],
            updated_at=row[6],
        )

    def get(self, agent_id: str) -> AgentStateRecord | None:
        params = {"agent_id": require_name("agent_id", agent_id, AGENT_ID_MAX)}
        with self._db.transaction() as conn:
            row = conn.execute(self._get, params).first()
        return None if row is None else self._record(row)

    def put(
        self,
        agent_id: str,
        state: dict[str, Any],
        *,
        expected_version: int | None = None,
        schema_version: int = 1,
    ) -> AgentStateRecord:
        require_name("agent_id", agent_id, AGENT_ID_MAX)
        if state is None or not isinstance(state, dict):
            raise ValueError(
                f"state must be a table of named values (a JSON object), got {type(state).__name__}"
            )
        if expected_version is not None:
            _version("expected_version", expected_version, 0)
        text = canonical_json("state", json_object("state", state), self.max_state_bytes)
        now = datetime.now(UTC)
        params: dict[str, Any] = {
            "agent_id": agent_id,
            "state": text,
            "schema_version": _version("schema_version", schema_version, 1),
            "checksum": state_checksum(text),
            "created_at": now,
            "updated_at": now,
        }
        with self._db.transaction(write=True) as conn:
            if expected_version is None:
                row = conn.execute(self._put, params).one()
            else:
                if expected_version == 0:
                    found = conn.execute(self._put_new, params).first()
                else:
                    changes = {name: params[name] for name in UPDATED_COLUMNS}
                    changes.update(match_agent_id=agent_id, expected=expected_version)
                    found = conn.execute(self._put_at, changes).first()
                if found is None:
                    stored = conn.execute(self._version, {"agent_id": agent_id}).scalar()
                    raise AgentStateConflict(agent_id, int(stored or 0), expected_version)
                row = found
        return self._record(row)

    def delete(self, agent_id: str) -> bool:
        params = {"agent_id": require_name("agent_id", agent_id, AGENT_ID_MAX)}
        with self._db.transaction(write=True) as conn:
            return bool(conn.execute(self._delete, params).rowcount)

    def list(
        self, prefix: str | None = None, limit: int | None = None
    ) -> builtins.list[AgentStateRecord]:
        check_limit(limit)
        stmt = self._list
        params: dict[str, Any] = {}
        if prefix:
            stmt = self._list_with_prefix
            params = {"prefix": prefix, "prefix_length": len(prefix)}
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).all()
        return [self._record(row) for row in rows]

    def count(self) -> int:
        with self._db.transaction() as conn:
            return int(conn.execute(self._count).scalar_one())

    def clear(self) -> int:
        with self._db.transaction(write=True) as conn:
            return int(conn.execute(self._clear).rowcount)


COMPONENT = Component(
    name="agent_state",
    title="agent state: one versioned, checksummed JSON object per agent",
    protocol=AgentStateStore,
    tables=(agent_states,),
    store=SqlAgentStateStore,
    settings=AgentStateSettings,
    from_config=lambda storage: AgentStateSettings(max_state_bytes=mebibytes(storage.max_value_mb)),
)
