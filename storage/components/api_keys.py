"""Component 10, API keys: encrypted secrets per service, with rotation history.

`(tenant_id, key_id) -> service, ciphertext, nonce, key_version, created_at, expires_at,
last_used_at, usage_count, active, rotated_from`. The store keeps bytes: encryption and the
master key live above it (`llmspell.runtime.keys`), so no plaintext ever passes through here.
A service has at most one active key (a partial unique index enforces it on both dialects);
`rotate` replaces it in one transaction, keeping the old row, inactive, as history.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)

from llmspell.storage.database import Database
from llmspell.storage.errors import ConstraintViolation, StorageError
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import require_name

__all__ = ["ApiKeyConflict", "ApiKeyRecord", "ApiKeyStore", "SqlApiKeyStore"]

SERVICE_MAX = 128
KEY_ID_MAX = 128


class ApiKeyConflict(StorageError):
    """A write would break "one active key per service": a second active key, or a rotation
    of a key that is no longer the active one."""


@dataclass(frozen=True)
class ApiKeyRecord:
    """One stored key: ciphertext and how to decrypt it, never the secret itself."""

    key_id: str
    service: str
    ciphertext: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    key_version: int  # the master key version that encrypted `ciphertext`
    created_at: datetime  # timezone-aware, UTC
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    usage_count: int = 0
    active: bool = True
    rotated_from: str | None = None  # the key_id this key replaced


class ApiKeyStore(Protocol):
    """Encrypted API keys of one tenant."""

    def add(self, record: ApiKeyRecord) -> ApiKeyRecord:
        """Store a new key; ApiKeyConflict if it is active and its service has an active key."""
        ...

    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    def active(self, service: str) -> ApiKeyRecord | None:
        """The service's active key, unless it has expired."""
        ...

    def list(
        self, service: str | None = None, include_inactive: bool = False
    ) -> list[ApiKeyRecord]:
        """Keys (of `service`), active ones only unless `include_inactive`; by service, then
        oldest first."""
        ...

    def deactivate(self, key_id: str) -> bool:
        """Make a key inactive (kept as history); true if it was active."""
        ...

    def rotate(self, old_key_id: str, new: ApiKeyRecord) -> ApiKeyRecord:
        """In one transaction: the active key `old_key_id` becomes inactive and `new` (same
        service) is added, active, with `rotated_from = old_key_id`. ApiKeyConflict if the old
        key is not (or no longer) the active key."""
        ...

    def remove(self, service: str) -> int:
        """Delete every key of `service`, history included; return how many."""
        ...

    def record_use(self, key_id: str) -> None:
        """Count one use of a key (usage_count + 1, last_used_at = now)."""
        ...

    def reencrypt(self, transform: Callable[[ApiKeyRecord], tuple[bytes, bytes, int]]) -> int:
        """Rewrite every key of the tenant with the (ciphertext, nonce, key_version) that
        `transform` returns for it, in one transaction: if `transform` raises, nothing
        changes. Returns how many keys were rewritten."""
        ...


api_keys = Table(
    "api_keys",
    metadata,
    tenant_column(),
    Column("key_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("usage_count", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("rotated_from", Text, nullable=True),
    PrimaryKeyConstraint("tenant_id", "key_id"),
    Index(None, "tenant_id", "service", "created_at"),
    # At most one active key per service: concurrent adds or rotations cannot both win.
    Index(
        "ix_api_keys_tenant_id_service_active",
        "tenant_id",
        "service",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
)

COLUMNS = tuple(column.name for column in api_keys.columns if column.name != "tenant_id")


def _record(row: Any) -> ApiKeyRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    return ApiKeyRecord(
        **{
            **values,
            "ciphertext": bytes(values["ciphertext"]),
            "nonce": bytes(values["nonce"]),
            "key_version": int(values["key_version"]),
            "usage_count": int(values["usage_count"]),
            "active": bool(values["active"]),
        }
    )


def _bytes(what: str, value: Any) -> bytes:
    if not isinstance(value, bytes) or not value:
        raise ValueError(f"{what} must be non-empty bytes, got {type(value).__name__}")
    return value


def _key_version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"key_version must be a positive integer, got {value!r}")
    return value


def _time(what: str, value: Any, optional: bool = True) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def _params(record: ApiKeyRecord) -> dict[str, Any]:
    if not isinstance(record, ApiKeyRecord):
        raise ValueError(f"expected an ApiKeyRecord, got {type(record).__name__}")
    if record.usage_count < 0:
        raise ValueError(f"usage_count must not be negative, got {record.usage_count}")
    return {
        "key_id": require_name("key_id", record.key_id, KEY_ID_MAX),
        "service": require_name("service", record.service, SERVICE_MAX),
        "ciphertext": _bytes("ciphertext", record.ciphertext),
        "nonce": _bytes("nonce", record.nonce),
        "key_version": _key_version(record.key_version),
        "created_at": _time("created_at", record.created_at, optional=False),
        "expires_at": _time("expires_at", record.expires_at),
        "last_used_at": _time("last_used_at", record.last_used_at),
        "usage_count": int(record.usage_count),
        "active": bool(record.active),
        "rotated_from": None
        if record.rotated_from is None
        else require_name("rotated_from", record.rotated_from, KEY_ID_MAX),
    }


class SqlApiKeyStore:
    """`ApiKeyStore` on any SQL backend, for one tenant (statements built once)."""

    def __init__(self, db: Database, tenant: Tenant, settings: None = None) -> None:
        self._db = db
        self.tenant_id = tenant.id
        k = api_keys
        columns = [k.c[name] for name in COLUMNS]
        self._insert = insert(k).values(tenant.values())
        self._get = select(*columns).where(tenant.where(k, "key_id"))
        listed = select(*columns).order_by(k.c.service, k.c.created_at, k.c.key_id)
        self._list = {
            (False, False): listed.where(tenant.where(k), k.c.active.is_(True)),
            (False, True): listed.where(tenant.where(k)),
            (True, False): listed.where(tenant.where(k, "service"), k.c.active.is_(True)),
            (True, True): listed.where(tenant.where(k, "service")),
        }
        self._active = select(*columns).where(
            tenant.where(k, "service"),
            k.c.active.is_(True),
            or_(k.c.expires_at.is_(None), k.c.expires_at > bindparam("now")),
        )
        self._active_of = select(k.c.key_id).where(tenant.where(k, "service"), k.c.active.is_(True))
        # The row is matched under other names: a parameter named as a column would be SET.
        self._deactivate = (
            update(k)
            .where(
                tenant.where(k),
                k.c.key_id == bindparam("match_key_id"),
                k.c.active.is_(True),
            )
            .values(active=False)
            .returning(k.c.service)
        )
        self._record_use = (
            update(k)
            .where(tenant.where(k), k.c.key_id == bindparam("match_key_id"))
            .values(usage_count=k.c.usage_count + 1)
        )
        self._all_for_update = (
            select(*columns).where(tenant.where(k)).order_by(k.c.key_id).with_for_update()
        )
        self._reencrypt = update(k).where(tenant.where(k), k.c.key_id == bindparam("match_key_id"))
        self._remove = delete(k).where(tenant.where(k, "service"))

    def add(self, record: ApiKeyRecord) -> ApiKeyRecord:
        params = _params(record)
        try:
            with self._db.transaction(write=True) as conn:
                if params["active"]:
                    self._refuse_second_active(conn, params["service"])
                conn.execute(self._insert, params)
        except ConstraintViolation:
            self._explain_conflict(params)
        return record

    def _refuse_second_active(self, conn: Any, service: str) -> None:
        existing = conn.execute(self._active_of, {"service": service}).scalar()
        if existing is not None:
            raise ApiKeyConflict(
                f"service {service!r} already has an active key ({existing}); rotate it to "
                "replace it"
            )

    def _explain_conflict(self, params: dict[str, Any]) -> None:
        # A concurrent writer won the race for the unique keys; say which rule it broke.
        if self.get(params["key_id"]) is not None:
            raise ApiKeyConflict(f"a key with id {params['key_id']!r} already exists") from None
        raise ApiKeyConflict(
            f"service {params['service']!r} already has an active key; rotate it to replace it"
        ) from None

    def get(self, key_id: str) -> ApiKeyRecord | None:
        params = {"key_id": require_name("key_id", key_id, KEY_ID_MAX)}
        with self._db.transaction() as conn:
            row = conn.execute(self._get, params).first()
        return None if row is None else _record(row)

    def active(self, service: str) -> ApiKeyRecord | None:
        params = {"service": require_name("service", service, SERVICE_MAX), "now": _now()}
        with self._db.transaction() as conn:
            row = conn.execute(self._active, params).first()
        return None if row is None else _record(row)

    def list(
        self, service: str | None = None, include_inactive: bool = False
    ) -> builtins.list[ApiKeyRecord]:
        params = (
            {} if service is None else {"service": require_name("service", service, SERVICE_MAX)}
        )
        stmt = self._list[(service is not None, bool(include_inactive))]
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).all()
        return [_record(row) for row in rows]

    def deactivate(self, key_id: str) -> bool:
        params = {"match_key_id": require_name("key_id", key_id, KEY_ID_MAX)}
        with self._db.transaction(write=True) as conn:
            return conn.execute(self._deactivate, params).first() is not None

    def rotate(self, old_key_id: str, new: ApiKeyRecord) -> ApiKeyRecord:
        old = {"match_key_id": require_name("old_key_id", old_key_id, KEY_ID_MAX)}
        params = _params(new)
        if not new.active or new.rotated_from != old_key_id:
            raise ValueError(
                f"the new key must be active with rotated_from = {old_key_id!r}, got "
                f"active={new.active}, rotated_from={new.rotated_from!r}"
            )
        try:
            with self._db.transaction(write=True) as conn:
                service = conn.execute(self._deactivate, old).scalar()
                if service is None:
                    raise ApiKeyConflict(
                        f"key {old_key_id!r} is not an active key (it does not exist or was "
                        "rotated or deactivated already): nothing was rotated"
                    )
                if service != new.service:
                    raise ApiKeyConflict(
                        f"key {old_key_id!r} belongs to service {service!r}, not "
                        f"{new.service!r}: nothing was rotated"
                    )
                conn.execute(self._insert, params)
        except ConstraintViolation:
            self._explain_conflict(params)
        return new

    def remove(self, service: str) -> int:
        params = {"service": require_name("service", service, SERVICE_MAX)}
        with self._db.transaction(write=True) as conn:
            return int(conn.execute(self._remove, params).rowcount)

    def record_use(self, key_id: str) -> None:
        params = {
            "match_key_id": require_name("key_id", key_id, KEY_ID_MAX),
            "last_used_at": _now(),
        }
        with self._db.transaction(write=True) as conn:
            conn.execute(self._record_use, params)

    def reencrypt(self, transform: Callable[[ApiKeyRecord], tuple[bytes, bytes, int]]) -> int:
        with self._db.transaction(write=True) as conn:
            # Locked (PostgreSQL): a concurrent rotation waits rather than slipping a key in
            # under the old master key between this read and the commit.
            records = [_record(row) for row in conn.execute(self._all_for_update)]
            for record in records:
                ciphertext, nonce, key_version = transform(record)
                conn.execute(
                    self._reencrypt,
                    {
                        "match_key_id": record.key_id,
                        "ciphertext": _bytes("ciphertext", ciphertext),
                        "nonce": _bytes("nonce", nonce),
                        "key_version": _key_version(key_version),
                    },
                )
        return len(records)


def _now() -> datetime:
    return datetime.now(UTC)


COMPONENT = Component(
    name="api_keys",
    title="API keys: encrypted secrets per service, with rotation history",
    protocol=ApiKeyStore,
    tables=(api_keys,),
    store=SqlApiKeyStore,
)
