"""`KeyStore`: API keys of one tenant, encrypted with the master key before they reach storage.

The rules live here (one active key per service, rotation keeps history, expired keys are not
handed out); the `api_keys` storage component keeps the encrypted bytes. A secret exists in
plaintext only in the arguments of `add`/`rotate` and the return value of `secret`: never in
SQL, logs, error messages or reprs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag

from llmspell.runtime.errors import InvalidArgument, InvalidState, NotFound, kind_of
from llmspell.runtime.keys import cipher
from llmspell.runtime.keys.master import MasterKeyError, MasterKeySource, master_key_source
from llmspell.storage.components.api_keys import ApiKeyConflict, ApiKeyRecord, ApiKeyStore

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure

logger = logging.getLogger("llmspell.keys")

SERVICE_MAX = 128
SECRET_MAX_BYTES = 16 * 1024


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a stored key: everything but the secret."""

    key_id: str
    service: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    usage_count: int
    active: bool
    rotated_from: str | None
    key_version: int  # the master key version that encrypted it

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyInfo:
        return cls(
            key_id=record.key_id,
            service=record.service,
            created_at=record.created_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
            usage_count=record.usage_count,
            active=record.active,
            rotated_from=record.rotated_from,
            key_version=record.key_version,
        )


@dataclass(frozen=True)
class MasterKeyRotation:
    """What `KeyStore.rotate_master` did."""

    keys: int  # how many stored keys (history included) were re-encrypted
    key_version: int  # the master key version they are encrypted with now
    source: str  # where that master key is: `LLMSPELL_MASTER_KEY` or `the key file ...`


def check_service(service: Any) -> str:
    """`service` if it names a service (1-128 characters, no control characters)."""
    if not isinstance(service, str) or not service:
        raise InvalidArgument(f"service must be a non-empty string, got {kind_of(service)}")
    if len(service) > SERVICE_MAX or not service.isprintable():
        raise InvalidArgument(
            f"service must be 1-{SERVICE_MAX} printable characters, got {service[:40]!r}"
        )
    return service


def _check_secret(service: str, secret: Any) -> str:
    # The value never appears in a message: only its kind or its size.
    if not isinstance(secret, str):
        raise InvalidArgument(f"the key for {service!r} must be text, got {kind_of(secret)}")
    if not secret:
        raise InvalidArgument(f"the key for {service!r} is empty")
    size = len(secret.encode("utf-8", "surrogatepass"))
    if size > SECRET_MAX_BYTES:
        raise InvalidArgument(
            f"the key for {service!r} is {size} bytes; at most {SECRET_MAX_BYTES} are allowed"
        )
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"the key for {service!r} is not valid text") from None
    return secret


def _check_expiry(expires_at: Any) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        raise InvalidArgument(f"expires_at must be a timezone-aware time, got {expires_at!r}")
    if expires_at <= datetime.now(UTC):
        raise InvalidArgument(f"expires_at {expires_at.isoformat()} is in the past")
    return expires_at


class KeyStore:
    """Encrypted API keys of one tenant: add, read, list, remove, rotate, rotate the master key."""

    def __init__(self, store: ApiKeyStore, tenant_id: str, master: MasterKeySource) -> None:
        self._store = store
        self.tenant_id = tenant_id
        self.master = master

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> KeyStore:
        storage = infra.storage
        return cls(storage.api_keys, storage.tenant_id, master_key_source(storage.tenant_id))

    def __repr__(self) -> str:
        return f"<KeyStore tenant={self.tenant_id!r} master={self.master.describe()}>"

    # --- keys -----------------------------------------------------------------------------

    def add(self, service: str, secret: str, expires_at: datetime | None = None) -> KeyInfo:
        """Store the first key of `service`; refused when it has an active key (use rotate)."""
        service = check_service(service)
        _check_secret(service, secret)
        expires_at = _check_expiry(expires_at)
        active = self._store.list(service)
        if active:
            raise InvalidState(self._has_active_key(service, active[0]))
        record = self._encrypted(service, secret, expires_at, rotated_from=None)
        try:
            self._store.add(record)
        except ApiKeyConflict:  # another writer added one meanwhile
            raise InvalidState(self._has_active_key(service, None)) from None
        logger.debug("added key %s of service %r", record.key_id, service)
        return KeyInfo.of(record)

    def secret(self, service: str) -> str | None:
        """The plaintext of `service`'s active, unexpired key (its use is counted), or None."""
        record = self._store.active(check_service(service))
        if record is None:
            return None
        plaintext = self._decrypt(record)
        self._store.record_use(record.key_id)
        logger.debug("used key %s of service %r", record.key_id, service)
        return plaintext

    def has(self, service: str) -> bool:
        """Whether `service` has an active, unexpired key (nothing is decrypted or counted)."""
        return self._store.active(check_service(service)) is not None

    def list(self, service: str | None = None, include_inactive: bool = False) -> list[KeyInfo]:
        """Stored keys (active ones unless `include_inactive`), by service then age."""
        if service is not None:
            check_service(service)
        return [KeyInfo.of(r) for r in self._store.list(service, bool(include_inactive))]

    def remove(self, service: str) -> int:
        """Delete every key of `service`, history included; return how many."""
        removed = self._store.remove(check_service(service))
        logger.debug("removed %d keys of service %r", removed, service)
        return removed

    def rotate(self, service: str, new_secret: str, expires_at: datetime | None = None) -> KeyInfo:
        """Replace `service`'s active key with `new_secret`; the old one stays, inactive."""
        service = check_service(service)
        _check_secret(service, new_secret)
        expires_at = _check_expiry(expires_at)
        active = self._store.list(service)
        if not active:
            raise NotFound(
                f"service {service!r} has no active key to rotate; add one with "
                f"`llmspell keys add {service}`"
            )
        old = active[0]
        record = self._encrypted(service, new_secret, expires_at, rotated_from=old.key_id)
        try:
            self._store.rotate(old.key_id, record)
        except ApiKeyConflict:
            raise InvalidState(
                f"the key of service {service!r} was changed by another writer meanwhile; "
                "nothing was rotated: list the keys and try again"
            ) from None
        logger.debug("rotated service %r: key %s replaces %s", service, record.key_id, old.key_id)
        return KeyInfo.of(record)

    # --- the master key -------------------------------------------------------------------

    def rotate_master(self, new_key: bytes | None = None) -> MasterKeyRotation:
        """Re-encrypt every stored key of the tenant (history included) with a new master key,
        in one transaction.

        Key file: a new version is generated (or `new_key` used), written to the file before
        any row changes; the versions no row uses are dropped after the commit. A failure
        midway changes no row, and every key still decrypts. `LLMSPELL_MASTER_KEY`: `new_key`
        is required; afterwards the variable must be set to it (the old key no longer
        decrypts the rows).
        """
        if new_key is not None and (not isinstance(new_key, bytes) or len(new_key) != 32):
            raise InvalidArgument("the new master key must be 32 bytes")
        version, key = self.master.begin_rotation(new_key, self._versions_in_use())

        def reencrypt(record: ApiKeyRecord) -> tuple[bytes, bytes, int]:
            aad = cipher.associated_data(self.tenant_id, record.key_id, record.service)
            ciphertext, nonce = cipher.encrypt(key, self._decrypt(record), aad)
            return ciphertext, nonce, version

        count = self._store.reencrypt(reencrypt)
        self.master.finish_rotation(self._versions_in_use())
        logger.debug("re-encrypted %d keys with master key version %d", count, version)
        return MasterKeyRotation(keys=count, key_version=version, source=self.master.describe())

    # --- encryption -----------------------------------------------------------------------

    def _versions_in_use(self) -> set[int]:
        return {r.key_version for r in self._store.list(include_inactive=True)}

    def _encrypted(
        self, service: str, secret: str, expires_at: datetime | None, rotated_from: str | None
    ) -> ApiKeyRecord:
        version, key = self.master.current(self._versions_in_use())
        key_id = str(uuid.uuid4())
        aad = cipher.associated_data(self.tenant_id, key_id, service)
        ciphertext, nonce = cipher.encrypt(key, secret, aad)
        return ApiKeyRecord(
            key_id=key_id,
            service=service,
            ciphertext=ciphertext,
            nonce=nonce,
            key_version=version,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
            rotated_from=rotated_from,
        )

    def _decrypt(self, record: ApiKeyRecord) -> str:
        what = (
            f"cannot decrypt the API key of service {record.service!r} (key {record.key_id}, "
            f"master key version {record.key_version})"
        )
        key = self.master.key(record.key_version)
        if key is None:
            raise MasterKeyError(f"{what}: {self.master.missing(record.key_version)}")
        aad = cipher.associated_data(self.tenant_id, record.key_id, record.service)
        try:
            return cipher.decrypt(key, record.ciphertext, record.nonce, aad)
        except (InvalidTag, UnicodeDecodeError):
            raise MasterKeyError(f"{what}: {self.master.mismatch(record.key_version)}") from None

    @staticmethod
    def _has_active_key(service: str, existing: Any) -> str:
        since = f" (added {existing.created_at:%Y-%m-%d %H:%M} UTC)" if existing else ""
        return (
            f"service {service!r} already has an active key{since}; replace it with "
            f"`llmspell keys rotate {service}` (history is kept), or remove it first"
        )
