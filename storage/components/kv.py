"""Component 0, kv/state: scoped JSON values with versions and bounded history (one SQL for all).

Every method runs for the tenant the store was opened for; there is no way to name another.
Values are JSON-able Python values (dict/list/str/int/float/bool/None).
"""

from __future__ import annotations

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
    exists,
    func,
    select,
)

from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import (
    COPYING_SETTING,
    UtcDateTime,
    created_with,
    metadata,
    tenant_column,
)
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import check_limit, json_text, mebibytes, refuse_nul, require_text

__all__ = ["KVSettings", "KVStore", "SqlKVStore", "StateVersion"]


@dataclass(frozen=True)
class StateVersion:
    """One kept version of a state value (`State.history`)."""

    value: Any
    version: int
    updated_at: datetime  # timezone-aware, UTC


@dataclass(frozen=True)
class KVUsage:
    """What one tenant's state takes: current entries, the scopes they are in, the UTF-8 bytes
    of their JSON values, and the kept versions (current ones included)."""

    entries: int
    scopes: int
    value_bytes: int
    versions: int


class KVStore(Protocol):
    """Scoped key/value state with kept versions."""

    def get(self, scope: str, key: str) -> Any | None: ...
    def put(self, scope: str, key: str, value: Any) -> int:
        """Store `value`; return its new version (1 for a new key)."""
        ...

    def delete(self, scope: str, key: str) -> bool: ...
    def exists(self, scope: str, key: str) -> bool: ...
    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        """Sorted keys of `scope` (optionally only those starting with `prefix`)."""
        ...

    def count(self, scope: str) -> int:
        """How many keys `scope` holds."""
        ...

    def clear(self, scope: str) -> int:
        """Delete every key of `scope`; return how many."""
        ...

    def history(self, scope: str, key: str, limit: int | None = None) -> list[StateVersion]:
        """Kept versions, current first."""
        ...

    def usage(self) -> KVUsage:
        """What the tenant's state takes, over every scope."""
        ...


@dataclass(frozen=True)
class KVSettings:
    """Limits of the kv store (config: `storage.max_value_mb`, `storage.state_history_limit`)."""

    max_value_bytes: int = 10 * 1024 * 1024
    history_limit: int = 10  # kept versions per key, current included

    def __post_init__(self) -> None:
        if self.max_value_bytes < 1:
            raise ValueError(f"max_value_bytes must be positive, got {self.max_value_bytes}")
        if self.history_limit < 1:
            raise ValueError(f"history_limit must be at least 1, got {self.history_limit}")


# The current value of each key ...
kv_entries = Table(
    "kv_entries",
    metadata,
    tenant_column(),
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),  # JSON text
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "scope", "key"),
)

# ... and its kept versions (the current one included), for `State.history`.
kv_history = Table(
    "kv_history",
    metadata,
    tenant_column(),
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "scope", "key", "version"),
)


# The database records every version of a key, so a put is one statement from Python: the
# INSERT of a new key copies its row into kv_history (RECORD_FIRST_TRIGGER, revision 0018), an
# UPDATE that raises `version` (only `put` makes one) the new row (RECORD_VERSION_TRIGGER, 0015).
# Copies (`storage migrate`, `storage restore`) write a unit's history rows themselves: on
# PostgreSQL the insert trigger stands aside while COPYING_SETTING is on (a PL/pgSQL call per
# row would slow a COPY of millions); SQLite has no setting a trigger reads for less than the
# trigger saves (a pragma table costs a put 2-3 us), so there a copy's INSERT skips rows already
# there: the first versions the trigger wrote from the entries, equal to the source's. (A source
# whose entries lack their kept version, which no put leaves, fails the copy's row count there.)
RECORD_VERSION_TRIGGER = "kv_entries_record_version"
RECORD_FIRST_TRIGGER = "kv_entries_record_first"
RECORD_VERSION_FUNCTION = "llmspell_kv_record_version"  # PostgreSQL's function for both
_HISTORY_COLUMNS = 'tenant_id, scope, "key", version, value, updated_at'
_NEW_ROW = 'NEW.tenant_id, NEW.scope, NEW."key", NEW.version, NEW.value, NEW.updated_at'


def record_version_sql(dialect_name: str) -> list[str]:
    """The triggers (and on PostgreSQL their function) that record each version of a key."""
    insert_new = f"INSERT INTO kv_history ({_HISTORY_COLUMNS}) VALUES ({_NEW_ROW});"
    raised = "AFTER UPDATE OF version ON kv_entries FOR EACH ROW WHEN (NEW.version > OLD.version)"
    inserted = "AFTER INSERT ON kv_entries FOR EACH ROW"
    if dialect_name == "postgresql":
        run = f"EXECUTE FUNCTION {RECORD_VERSION_FUNCTION}()"
        not_copying = f"WHEN (current_setting('{COPYING_SETTING}', true) IS DISTINCT FROM 'on')"
        return [
            f"CREATE FUNCTION {RECORD_VERSION_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {insert_new} RETURN NULL; END $$",
            f"CREATE TRIGGER {RECORD_VERSION_TRIGGER} {raised} {run}",
            f"CREATE TRIGGER {RECORD_FIRST_TRIGGER} {inserted} {not_copying} {run}",
        ]
    return [
        f"CREATE TRIGGER {RECORD_VERSION_TRIGGER} {raised} BEGIN {insert_new} END",
        f"CREATE TRIGGER {RECORD_FIRST_TRIGGER} {inserted} BEGIN {insert_new} END",
    ]


created_with(kv_entries, record_version_sql)  # migrations 0015 and 0018 for files and PostgreSQL


# A put deletes the versions past `history_limit` when its version is a multiple of this; in
# between, at most PRUNE_EVERY - 1 older rows of a key wait (no read returns them).
PRUNE_EVERY = 8


class SqlKVStore:
    """`KVStore` on any SQL backend, for one tenant.

    The current value lives in `kv_entries`; every kept version (current included) in
    `kv_history`, recorded by the database (RECORD_FIRST_TRIGGER, RECORD_VERSION_TRIGGER), so a
    put is one statement from Python. Reads see the newest `history_limit` versions; older
    rows are deleted by every PRUNE_EVERY-th put of a key (one statement in PRUNE_EVERY, not one
    per put).
    Statements are built once per store (statement construction costs more than a SQLite
    lookup); get and put, the hot path, are compiled once too and run through
    `driver_transaction`.
    """

    def __init__(self, db: Database, tenant: Tenant, settings: KVSettings) -> None:
        self._db = db
        self.tenant_id = tenant.id
        self.max_value_bytes = settings.max_value_bytes
        self.history_limit = settings.history_limit
        e, h = kv_entries, kv_history
        self._get = select(e.c.value).where(tenant.where(e, "scope", "key"))
        self._exists = select(e.c.version).where(tenant.where(e, "scope", "key"))
        self._keys = select(e.c.key).where(tenant.where(e, "scope"))
        # substr, not LIKE: SQLite's LIKE ignores ASCII case and LIKE needs escaping.
        self._keys_with_prefix = self._keys.where(
            func.substr(e.c.key, 1, bindparam("prefix_length")) == bindparam("prefix")
        )
        self._count = select(func.count()).where(tenant.where(e, "scope"))
        self._scopes = select(func.count(func.distinct(e.c.scope))).where(tenant.where(e))
        self._values = select(e.c.value).where(tenant.where(e))
        # kept versions: the newest `history_limit` of each key (older rows wait for a prune)
        self._versions = select(func.count()).where(
            tenant.where(h),
            exists().where(
                e.c.tenant_id == h.c.tenant_id,
                e.c.scope == h.c.scope,
                e.c.key == h.c.key,
                h.c.version > e.c.version - self.history_limit,
            ),
        )
        upsert = upsert_into(db.dialect_name, e).values(tenant.values(version=1))
        self._put = upsert.on_conflict_do_update(
            index_elements=[e.c.tenant_id, e.c.scope, e.c.key],
            set_={
                "value": upsert.excluded.value,
                "version": e.c.version + 1,
                "updated_at": upsert.excluded.updated_at,
            },
        ).returning(e.c.version)
        self._prune = delete(h).where(
            tenant.where(h, "scope", "key"), h.c.version <= bindparam("oldest_dropped")
        )
        self._fast_get = db.statement(self._get)
        columns = ("scope", "key", "value", "updated_at")
        self._fast_put = db.statement(self._put, column_keys=columns)
        self._fast_prune = db.statement(self._prune)
        self._delete_history = delete(h).where(tenant.where(h, "scope", "key"))
        self._delete = delete(e).where(tenant.where(e, "scope", "key"))
        self._clear_history = delete(h).where(tenant.where(h, "scope"))
        self._clear = delete(e).where(tenant.where(e, "scope"))
        self._history = (
            select(h.c.value, h.c.version, h.c.updated_at)
            .where(tenant.where(h, "scope", "key"))
            .order_by(h.c.version.desc())
            .limit(bindparam("limit"))
        )

    def get(self, scope: str, key: str) -> Any | None:
        params = {"scope": require_text("scope", scope), "key": require_text("key", key)}
        with self._db.driver_transaction() as run:
            row = run.first(self._fast_get, params)
        return None if row is None else json.loads(row[0])

    def put(self, scope: str, key: str, value: Any) -> int:
        params: dict[str, Any] = {
            "scope": require_text("scope", scope),
            "key": require_text("key", key),
            "value": json_text("value", value, self.max_value_bytes),
            "updated_at": datetime.now(UTC),
        }
        with self._db.driver_transaction(write=True) as run:
            version = int(run.first(self._fast_put, params)[0])
            if version > self.history_limit and version % PRUNE_EVERY == 0:
                params["oldest_dropped"] = version - self.history_limit
                run.execute(self._fast_prune, params)
        return version

    def delete(self, scope: str, key: str) -> bool:
        params = {"scope": require_text("scope", scope), "key": require_text("key", key)}
        with self._db.transaction(write=True) as conn:
            conn.execute(self._delete_history, params)
            removed = conn.execute(self._delete, params).rowcount
        return bool(removed)

    def exists(self, scope: str, key: str) -> bool:
        params = {"scope": require_text("scope", scope), "key": require_text("key", key)}
        with self._db.transaction() as conn:
            return conn.execute(self._exists, params).first() is not None

    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        params: dict[str, Any] = {"scope": require_text("scope", scope)}
        stmt = self._keys
        if prefix:
            refuse_nul("prefix", prefix)
            stmt = self._keys_with_prefix
            params.update(prefix=prefix, prefix_length=len(prefix))
        with self._db.transaction() as conn:
            keys = list(conn.execute(stmt, params).scalars())
        # Sorted in Python: code-point order, whatever the database collation is.
        return sorted(keys)

    def count(self, scope: str) -> int:
        """How many keys `scope` holds."""
        params = {"scope": require_text("scope", scope)}
        with self._db.transaction() as conn:
            return int(conn.execute(self._count, params).scalar_one())

    def usage(self) -> KVUsage:
        with self._db.transaction() as conn:
            scopes = int(conn.execute(self._scopes).scalar_one())
            versions = int(conn.execute(self._versions).scalar_one())
            entries, value_bytes = 0, 0
            # in Python: SQL's length counts characters, and octet_length is not everywhere
            for text in conn.execute(self._values).scalars():
                entries += 1
                value_bytes += len(text.encode("utf-8"))
        return KVUsage(entries, scopes, value_bytes, versions)

    def clear(self, scope: str) -> int:
        params = {"scope": require_text("scope", scope)}
        with self._db.transaction(write=True) as conn:
            conn.execute(self._clear_history, params)
            return int(conn.execute(self._clear, params).rowcount)

    def history(self, scope: str, key: str, limit: int | None = None) -> list[StateVersion]:
        check_limit(limit)
        params = {
            "scope": require_text("scope", scope),
            "key": require_text("key", key),
            "limit": self.history_limit if limit is None else min(limit, self.history_limit),
        }
        with self._db.transaction() as conn:
            rows = conn.execute(self._history, params).all()
        return [
            StateVersion(value=json.loads(value), version=int(version), updated_at=updated_at)
            for value, version, updated_at in rows
        ]


COMPONENT = Component(
    name="kv",
    title="scoped key/value state with kept versions (State)",
    protocol=KVStore,
    tables=(kv_entries, kv_history),
    store=SqlKVStore,
    settings=KVSettings,
    from_config=lambda storage: KVSettings(
        max_value_bytes=mebibytes(storage.max_value_mb),
        history_limit=int(storage.state_history_limit),
    ),
    session_data_owner="llmspell.runtime.state:StateManager",
)
