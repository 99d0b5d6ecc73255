"""Component 8, the event log: every published event, per tenant, in a monotonic sequence.

`append` numbers an event from the tenant's counter (`event_sequences`, one row per tenant,
bumped in the same transaction, so sequence order is commit order); `query` reads the log in
that order. An event may expire (`expires_at`): expired events never come back from `query`
or `stats`, and `prune` removes them. PostgreSQL range-partitions the log by month (see
`llmspell.storage.postgres.partitions`); `prune` there also drops old partitions that hold
nothing but expired rows, and otherwise deletes only the tenant's own rows.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
)

from llmspell.storage.database import Database
from llmspell.storage.errors import StorageError
from llmspell.storage.event_types import check_event_type, compile_pattern
from llmspell.storage.postgres.partitions import (
    APP_MONTHS_AHEAD,
    MonthlyPartitioning,
    add_months,
    month_start,
)
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import check_limit, json_text, mebibytes, refuse_nul

__all__ = [
    "EVENT_LOG_PARTITIONS",
    "EventLog",
    "EventLogSettings",
    "EventLogStats",
    "LoggedEvent",
    "PruneResult",
    "SqlEventLog",
    "ensure_event_partitions",
]

logger = logging.getLogger("llmspell.storage")

MAX_ID_LEN = 256


@dataclass(frozen=True)
class LoggedEvent:
    """One event as the log holds it."""

    event_id: str
    event_type: str
    data: Any
    timestamp: datetime  # timezone-aware, UTC
    sequence: int  # per tenant, strictly increasing in publication order
    correlation_id: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class EventLogStats:
    """The live (unexpired) events of the tenant, by type, and its last sequence number."""

    total: int
    by_type: dict[str, int]
    last_sequence: int


@dataclass(frozen=True)
class PruneResult:
    """What `prune` removed: the tenant's own rows, and (PostgreSQL) whole partitions that held
    only expired events."""

    deleted: int
    partitions_dropped: tuple[str, ...] = ()


class EventLog(Protocol):
    """The persisted event log of one tenant."""

    def append(
        self,
        event_type: str,
        data: Any,
        *,
        correlation_id: str | None = None,
        expires_at: datetime | None = None,
        timestamp: datetime | None = None,
        event_id: str | None = None,
    ) -> LoggedEvent:
        """Store an event with the tenant's next sequence number (timestamp default: now)."""
        ...

    def query(
        self,
        *,
        event_type: str | None = None,
        pattern: str | None = None,
        correlation_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[LoggedEvent]:
        """Unexpired events matching every given filter (`since <= timestamp <= until`), in
        sequence order; `limit` keeps the first ones."""
        ...

    def stats(self) -> EventLogStats: ...

    def prune(self, before: datetime | None = None) -> PruneResult:
        """Delete the tenant's events older than `before` and its expired ones."""
        ...


@dataclass(frozen=True)
class EventLogSettings:
    """Limits of the event log (config: `storage.max_value_mb` bounds a payload too)."""

    max_payload_bytes: int = 10 * 1024 * 1024
    # PostgreSQL: monthly partitions kept ready beyond the current month.
    partition_months_ahead: int = 2

    def __post_init__(self) -> None:
        if self.max_payload_bytes < 1:
            raise ValueError(f"max_payload_bytes must be positive, got {self.max_payload_bytes}")
        if not 0 <= self.partition_months_ahead <= APP_MONTHS_AHEAD:
            raise ValueError(
                f"partition_months_ahead must be 0-{APP_MONTHS_AHEAD}, got "
                f"{self.partition_months_ahead}"
            )


event_log = Table(
    "event_log",
    metadata,
    tenant_column(),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("correlation_id", Text, nullable=True),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),  # JSON text
    Column("expires_at", UtcDateTime(), nullable=True),
    # A partitioned table's key must hold the partition column; the sequence alone is unique
    # per tenant (the counter hands each number out once).
    PrimaryKeyConstraint("tenant_id", "sequence", "timestamp"),
    Index("ix_event_log_tenant_id_event_type", "tenant_id", "event_type"),
    Index("ix_event_log_tenant_id_correlation_id", "tenant_id", "correlation_id"),
    Index("ix_event_log_tenant_id_timestamp", "tenant_id", "timestamp"),
    postgresql_partition_by='RANGE ("timestamp")',
)

# The last sequence number handed out, per tenant; pruning never lowers it.
event_sequences = Table(
    "event_sequences",
    metadata,
    tenant_column(),
    Column("last_sequence", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id"),
)

EVENT_LOG_PARTITIONS = MonthlyPartitioning(
    table="event_log",
    column="timestamp",
    live_rows="expires_at IS NULL OR expires_at > now()",
)


def _optional_id(what: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN:
        raise ValueError(f"{what} must be a string of 1-{MAX_ID_LEN} characters, got {value!r}")
    refuse_nul(what, value)
    return value


def _aware(what: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


class SqlEventLog:
    """`EventLog` on any SQL backend, for one tenant. Statements are built once per store;
    a query adds the prebuilt filter clauses it needs."""

    def __init__(self, db: Database, tenant: Tenant, settings: EventLogSettings) -> None:
        self._db = db
        self.tenant_id = tenant.id
        self.max_payload_bytes = settings.max_payload_bytes
        self._partitions = _partitioning(db, settings.partition_months_ahead)
        e, s = event_log, event_sequences
        counter = upsert_into(db.dialect_name, s).values(tenant.values(last_sequence=1))
        self._next_sequence = counter.on_conflict_do_update(
            index_elements=[s.c.tenant_id],
            set_={"last_sequence": s.c.last_sequence + 1},
        ).returning(s.c.last_sequence)
        self._last_sequence = select(s.c.last_sequence).where(tenant.where(s))
        self._insert = insert(e).values(tenant.values())
        live = or_(e.c.expires_at.is_(None), e.c.expires_at > bindparam("now"))
        self._select = (
            select(
                e.c.event_id,
                e.c.event_type,
                e.c.payload,
                e.c.timestamp,
                e.c.sequence,
                e.c.correlation_id,
                e.c.expires_at,
            )
            .where(tenant.where(e), live)
            .order_by(e.c.sequence)
        )
        self._by_type = e.c.event_type == bindparam("event_type")
        self._by_exact_pattern = e.c.event_type == bindparam("pattern_type")
        self._by_pattern = e.c.event_type.regexp_match(bindparam("pattern_regex"))
        self._by_correlation = e.c.correlation_id == bindparam("correlation_id")
        self._since = e.c.timestamp >= bindparam("since")
        self._until = e.c.timestamp <= bindparam("until")
        self._limit: BindParameter[int] = bindparam("limit")
        self._counts = (
            select(e.c.event_type, func.count())
            .where(tenant.where(e), live)
            .group_by(e.c.event_type)
        )
        expired = and_(e.c.expires_at.is_not(None), e.c.expires_at <= bindparam("now"))
        self._prune_expired = delete(e).where(tenant.where(e), expired)
        self._prune_before = delete(e).where(
            tenant.where(e), or_(e.c.timestamp < bindparam("before"), expired)
        )

    def append(
        self,
        event_type: str,
        data: Any,
        *,
        correlation_id: str | None = None,
        expires_at: datetime | None = None,
        timestamp: datetime | None = None,
        event_id: str | None = None,
    ) -> LoggedEvent:
        now = datetime.now(UTC)
        row: dict[str, Any] = {
            "event_id": _optional_id("event_id", event_id) or str(uuid.uuid4()),
            "event_type": check_event_type(event_type),
            "correlation_id": _optional_id("correlation_id", correlation_id),
            "timestamp": _aware("timestamp", timestamp) or now,
            "payload": json_text("data", data, self.max_payload_bytes),
            "expires_at": _aware("expires_at", expires_at),
        }
        # Around now only: an event stamped far from now lands in the DEFAULT partition
        # (the app role may not make partitions far away; the owner may).
        self._partitions.ensure_for(now)
        with self._db.transaction(write=True) as conn:
            row["sequence"] = int(conn.execute(self._next_sequence).scalar_one())
            conn.execute(self._insert, row)
        return LoggedEvent(
            event_id=row["event_id"],
            event_type=row["event_type"],
            data=json.loads(row["payload"]),
            timestamp=row["timestamp"],
            sequence=row["sequence"],
            correlation_id=row["correlation_id"],
            expires_at=row["expires_at"],
        )

    def query(
        self,
        *,
        event_type: str | None = None,
        pattern: str | None = None,
        correlation_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[LoggedEvent]:
        stmt = self._select
        params: dict[str, Any] = {"now": datetime.now(UTC)}
        if event_type is not None:
            stmt = stmt.where(self._by_type)
            params["event_type"] = check_event_type(event_type)
        if pattern is not None:
            compiled = compile_pattern(pattern)
            if compiled.exact is not None:
                stmt = stmt.where(self._by_exact_pattern)
                params["pattern_type"] = compiled.exact
            elif not compiled.everything:
                stmt = stmt.where(self._by_pattern)
                params["pattern_regex"] = compiled.regex
        if correlation_id is not None:
            stmt = stmt.where(self._by_correlation)
            params["correlation_id"] = _optional_id("correlation_id", correlation_id)
        if since is not None:
            stmt = stmt.where(self._since)
            params["since"] = _aware("since", since)
        if until is not None:
            stmt = stmt.where(self._until)
            params["until"] = _aware("until", until)
        if limit is not None:
            check_limit(limit)
            stmt = stmt.limit(self._limit)
            params["limit"] = limit
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).all()
        return [
            LoggedEvent(
                event_id=event_id,
                event_type=kind,
                data=json.loads(payload),
                timestamp=stamp,
                sequence=int(sequence),
                correlation_id=correlation,
                expires_at=expires,
            )
            for event_id, kind, payload, stamp, sequence, correlation, expires in rows
        ]

    def stats(self) -> EventLogStats:
        with self._db.transaction() as conn:
            counts = conn.execute(self._counts, {"now": datetime.now(UTC)}).all()
            last = conn.execute(self._last_sequence).scalar_one_or_none()
        by_type = {kind: int(count) for kind, count in sorted(counts)}
        return EventLogStats(
            total=sum(by_type.values()), by_type=by_type, last_sequence=int(last or 0)
        )

    def prune(self, before: datetime | None = None) -> PruneResult:
        now = datetime.now(UTC)
        cutoff = _aware("before", before)
        with self._db.transaction(write=True) as conn:
            if cutoff is None:
                deleted = conn.execute(self._prune_expired, {"now": now}).rowcount
            else:
                deleted = conn.execute(self._prune_before, {"now": now, "before": cutoff}).rowcount
        dropped = self._partitions.drop_older_than(min(cutoff or now, month_start(now)))
        return PruneResult(deleted=int(deleted), partitions_dropped=dropped)


class _Unpartitioned:
    """SQLite: one table, nothing to create or drop."""

    def ensure_for(self, moment: datetime) -> None:
        pass

    def ensure(self, moment: datetime, months: int) -> list[str]:
        return []

    def drop_older_than(self, older_than: datetime) -> tuple[str, ...]:
        return ()


class _MonthlyPartitions:
    """PostgreSQL: the log is range-partitioned by month; partitions are made ahead of the
    writes and dropped by `prune` when empty of live rows."""

    def __init__(self, db: Database, months_ahead: int) -> None:
        self._db = db
        self._months_ahead = months_ahead
        self._until: datetime | None = None  # end of the months known to exist
        self._lock = threading.Lock()
        self._drop = EVENT_LOG_PARTITIONS.drop_statement()

    def ensure_for(self, moment: datetime) -> None:
        """Create this month's partition and the ones ahead once per process and month; the
        DEFAULT partition catches rows meanwhile, so a failure here only logs."""
        until = self._until
        if until is not None and moment < until:
            return
        with self._lock:
            if self._until is not None and moment < self._until:
                return
            first = month_start(moment)
            months = self._months_ahead + 1
            try:
                created = self.ensure(first, months)
            except StorageError as exc:
                # Not again before next month: until then DEFAULT holds the rows.
                logger.warning("event log partitions could not be created: %s", exc)
                self._until = add_months(first, 1)
                return
            if created:
                logger.info("created event log partitions %s", ", ".join(created))
            self._until = add_months(first, months)

    def ensure(self, moment: datetime, months: int) -> list[str]:
        with self._db.transaction(write=True) as conn:
            created = conn.execute(
                EVENT_LOG_PARTITIONS.ensure_statement(),
                {"first_month": month_start(moment), "months": months},
            ).scalar_one()
        return list(created or ())

    def drop_older_than(self, older_than: datetime) -> tuple[str, ...]:
        # Whole partitions go only when they end before `older_than` (the prune's cutoff, and
        # before this month) and the function finds no live row of any tenant in them.
        with self._db.transaction(write=True) as conn:
            names = conn.execute(self._drop, {"older_than": older_than})
            return tuple(names.scalar_one() or ())


def _partitioning(db: Database, months_ahead: int) -> _Unpartitioned | _MonthlyPartitions:
    """The log's partitioning on `db`'s dialect (chosen once per store)."""
    if db.dialect_name == "postgresql":
        return _MonthlyPartitions(db, months_ahead)
    return _Unpartitioned()


def ensure_event_partitions(db: Database, moment: datetime, months: int) -> list[str]:
    """Create the event log's monthly partitions for `months` months from `moment`'s
    (PostgreSQL; the maintenance an operator runs on demand). Returns the names created.
    On a database of the app role only months near now are allowed (see
    `llmspell.storage.postgres.partitions`); the owner's may make any."""
    return _partitioning(db, 0).ensure(moment, months)


COMPONENT = Component(
    name="events",
    title="the event log: published events per tenant in sequence order (Event)",
    protocol=EventLog,
    tables=(event_log, event_sequences),
    store=SqlEventLog,
    settings=EventLogSettings,
    from_config=lambda storage: EventLogSettings(max_payload_bytes=mebibytes(storage.max_value_mb)),
)
