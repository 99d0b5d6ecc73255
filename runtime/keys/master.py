"""Master keys: where the key that encrypts stored API keys comes from, and its versions.

Two sources, one chosen per runtime (`master_key_source`):

- `LLMSPELL_MASTER_KEY`: base64 of 32 random bytes. One key; rows record a version number
  that rotation increments, and rotating means giving the next key explicitly, then putting it
  in the variable.
- the key file `<user data dir>/master.key`, created on first use with mode 0600 and refused
  when other users may read it. It is a keyring: per tenant, numbered master key versions and
  the current one. Rotation appends a version first (the file is rewritten atomically), and
  drops the versions no row uses only after the re-encryption committed, so a crash or a
  failure at any point leaves every key readable.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmspell.runtime.errors import ServiceError
from llmspell.runtime.keys.cipher import KEY_BYTES

MASTER_KEY_ENV = "LLMSPELL_MASTER_KEY"
KEY_FILE_NAME = "master.key"
FILE_FORMAT = 1
GENERATE_HINT = "e.g. the output of `openssl rand -base64 32`"


class MasterKeyError(ServiceError):
    """The master key is missing, malformed, unsafely stored, or not the one that encrypted a
    stored key. The message says which and what to do; it never holds key material."""

    ename = "MasterKeyError"


def decode_master_key(text: str, where: str) -> bytes:
    """The 32-byte key that `text` (base64) encodes; MasterKeyError naming `where` otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(
            f"{where} is not valid base64; it must be the base64 encoding of {KEY_BYTES} random "
            f"bytes ({GENERATE_HINT})"
        ) from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(
            f"{where} decodes to {len(key)} bytes; it must be the base64 encoding of exactly "
            f"{KEY_BYTES} random bytes ({GENERATE_HINT})"
        )
    return key


def new_master_key() -> bytes:
    """A fresh random master key."""
    return secrets.token_bytes(KEY_BYTES)


class MasterKeySource(Protocol):
    """Where a tenant's master keys come from (`EnvMasterKey`, `KeyFile`).

    `versions_in_use` are the key versions the tenant's stored rows name: a new version is
    always above them, and a rotation keeps every version some row still needs.
    """

    def describe(self) -> str:
        """What messages call it: `LLMSPELL_MASTER_KEY`, `the key file /path/master.key`."""
        ...

    def key(self, version: int) -> bytes | None:
        """The master key of `version`, or None when this source does not hold it."""
        ...

    def missing(self, version: int) -> str:
        """Why `key(version)` is None, and what to do (for an error message)."""
        ...

    def mismatch(self, version: int) -> str:
        """Why a key of `version` failed to decrypt a row: a different key than the one used."""
        ...

    def current(self, versions_in_use: Collection[int]) -> tuple[int, bytes]:
        """(version, key) that encrypts new keys, created on first use where possible."""
        ...

    def begin_rotation(
        self, new_key: bytes | None, versions_in_use: Collection[int]
    ) -> tuple[int, bytes]:
        """Make a new current version (`new_key`, or a generated one) available next to the
        old ones, durably, before any row is re-encrypted with it."""
        ...

    def finish_rotation(self, versions_in_use: Collection[int]) -> None:
        """After the re-encryption committed: forget the versions no row uses any more."""
        ...


class EnvMasterKey:
    """The master key in `LLMSPELL_MASTER_KEY` (decoded on use, so a runtime that never
    touches a stored key does not fail on a malformed value)."""

    def __init__(self, value: str, name: str = MASTER_KEY_ENV) -> None:
        self._value = value
        self.name = name

    def __repr__(self) -> str:
        return f"EnvMasterKey({self.name})"

    def describe(self) -> str:
        return self.name

    def _key(self) -> bytes:
        if not self._value.strip():
            raise MasterKeyError(
                f"{self.name} is set but empty; set it to the base64 encoding of {KEY_BYTES} "
                f"random bytes ({GENERATE_HINT}), or unset it to use the key file"
            )
        return decode_master_key(self._value, self.name)

    def key(self, version: int) -> bytes | None:
        # One key, whatever the version: a row it does not decrypt is a mismatch.
        return self._key()

    def missing(self, version: int) -> str:
        return f"{self.name} does not hold master key version {version}"

    def mismatch(self, version: int) -> str:
        return (
            f"{self.name} differs from the master key that encrypted it (was the variable "
            "changed, or was the key added with the key file or on another host?)"
        )

    def current(self, versions_in_use: Collection[int]) -> tuple[int, bytes]:
        return max(versions_in_use, default=1), self._key()

    def begin_rotation(
        self, new_key: bytes | None, versions_in_use: Collection[int]
    ) -> tuple[int, bytes]:
        if new_key is None:
            raise MasterKeyError(
                f"the master key is in {self.name}: give the new one explicitly "
                f"(`llmspell keys rotate-master --new-key-env VAR`, VAR holding {GENERATE_HINT}), "
                f"then set {self.name} to it"
            )
        if new_key == self._key():
            raise MasterKeyError(f"the new master key is the one {self.name} holds already")
        return max(versions_in_use, default=0) + 1, new_key

    def finish_rotation(self, versions_in_use: Collection[int]) -> None:
        # Nothing is kept here: the operator puts the new key into the variable.
        return None


@dataclass
class _Keyring:
    """One tenant's master key versions in the key file."""

    current: int
    keys: dict[int, bytes] = field(repr=False)


class KeyFile:
    """The keyring file: `{"format": 1, "tenants": {tenant: {"current": N, "keys": {N:
    base64}}}}`, mode 0600, for the key versions of one tenant.

    Every write holds `<file>.lock` (so processes on this host do not lose each other's
    versions) and replaces the file atomically; the first one creates it with O_EXCL.
    """

    def __init__(self, path: Path, tenant_id: str) -> None:
        self.path = path
        self.tenant_id = tenant_id

    def __repr__(self) -> str:
        return f"KeyFile({str(self.path)!r}, tenant={self.tenant_id!r})"

    def describe(self) -> str:
        return f"the key file {self.path}"

    def key(self, version: int) -> bytes | None:
        ring = self._load().get(self.tenant_id)
        return None if ring is None else ring.keys.get(version)

    def missing(self, version: int) -> str:
        if not self.path.exists():
            where = f"the key file {self.path} does not exist (deleted or moved?)"
        else:
            where = (
                f"the key file {self.path} has no master key version {version} for tenant "
                f"{self.tenant_id!r} (was the file replaced?)"
            )
        return (
            f"{where}, and {MASTER_KEY_ENV} is not set; restore the file, or remove the key "
            "(`llmspell keys remove SERVICE`) and add it again"
        )

    def mismatch(self, version: int) -> str:
        return (
            f"master key version {version} in {self.describe()} differs from the one that "
            f"encrypted it (was the file replaced, or was the key added with {MASTER_KEY_ENV} "
            "or on another host?)"
        )

    def current(self, versions_in_use: Collection[int]) -> tuple[int, bytes]:
        ring = self._load().get(self.tenant_id)
        if ring is None:
            with self._locked():
                rings = self._load()
                ring = rings.get(self.tenant_id)
                if ring is None:
                    # Above every version a row names: a replaced file never reuses a number.
                    version = max(versions_in_use, default=0) + 1
                    ring = rings[self.tenant_id] = _Keyring(version, {version: new_master_key()})
                    self._save(rings)
        return ring.current, ring.keys[ring.current]

    def begin_rotation(
        self, new_key: bytes | None, versions_in_use: Collection[int]
    ) -> tuple[int, bytes]:
        key = new_master_key() if new_key is None else new_key
        with self._locked():
            rings = self._load()
            ring = rings.setdefault(self.tenant_id, _Keyring(0, {}))
            if ring.keys.get(ring.current) == key:
                raise MasterKeyError(f"the new master key is the current one in {self.describe()}")
            version = max([*ring.keys, *versions_in_use], default=0) + 1
            ring.keys[version] = key
            ring.current = version
            self._save(rings)
        return version, key

    def finish_rotation(self, versions_in_use: Collection[int]) -> None:
        with self._locked():
            rings = self._load()
            ring = rings.get(self.tenant_id)
            if ring is None:
                return
            kept = {v: k for v, k in ring.keys.items() if v in versions_in_use or v == ring.current}
            if kept != ring.keys:
                ring.keys = kept
                self._save(rings)

    # --- the file -------------------------------------------------------------------------

    def _load(self) -> dict[str, _Keyring]:
        """Every tenant's keyring; {} when the file does not exist yet."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise MasterKeyError(f"cannot open {self.describe()}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise MasterKeyError(f"{self.describe()} is not a regular file")
            if mode & 0o077:
                raise MasterKeyError(
                    f"{self.describe()} is accessible to other users (mode "
                    f"{stat.S_IMODE(mode):04o}); refusing to use it: run `chmod 600 {self.path}` "
                    "(and `llmspell keys rotate-master` if others may have read it)"
                )
            raw = file.read()
        return self._parse(raw)

    def _parse(self, raw: bytes) -> dict[str, _Keyring]:
        def bad(why: str) -> MasterKeyError:
            return MasterKeyError(
                f"{self.describe()} is not a llmspell master key file ({why}); restore it from "
                "a backup: the stored API keys cannot be decrypted without it"
            )

        try:
            data = json.loads(raw)
        except ValueError:
            raise bad("not JSON") from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise bad(f"format is not {FILE_FORMAT}")
        tenants = data.get("tenants")
        if not isinstance(tenants, dict):
            raise bad("no tenants")
        rings: dict[str, _Keyring] = {}
        for tenant, entry in tenants.items():
            try:
                keys = {
                    int(version): decode_master_key(text, "a key")
                    for version, text in entry["keys"].items()
                }
                current = int(entry["current"])
            except (KeyError, TypeError, ValueError, AttributeError, MasterKeyError):
                raise bad(f"the keyring of tenant {tenant!r} is malformed") from None
            if current not in keys:
                raise bad(f"tenant {tenant!r}: the current version {current} has no key")
            rings[tenant] = _Keyring(current, keys)
        return rings

    def _save(self, rings: dict[str, _Keyring]) -> None:
        data: dict[str, Any] = {
            "format": FILE_FORMAT,
            "tenants": {
                tenant: {
                    "current": ring.current,
                    "keys": {
                        str(v): base64.b64encode(k).decode("ascii")
                        for v, k in sorted(ring.keys.items())
                    },
                }
                for tenant, ring in sorted(rings.items())
            },
        }
        payload = (json.dumps(data, indent=2) + "\n").encode("utf-8")
        if not self.path.exists():
            # First use: nobody else may have created it meanwhile, and it is private from
            # the first byte.
            self._write_new(self.path, payload)
            return
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        try:
            self._write_new(temporary, payload)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _sync_directory(self.path.parent)

    @staticmethod
    def _write_new(path: Path, payload: bytes) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask allowed
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_exclusive(fd)  # released when the descriptor closes
            yield
        finally:
            os.close(fd)


def _lock_exclusive(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform (Windows)
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _sync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def key_file_path() -> Path:
    """Where the key file lives: `master.key` in the user data directory."""
    from llmspell.runtime.config import data_dir

    return data_dir() / KEY_FILE_NAME


def master_key_source(
    tenant_id: str, env: Mapping[str, str] | None = None, key_file: Path | None = None
) -> MasterKeySource:
    """`LLMSPELL_MASTER_KEY` when it is set (even to something invalid: that is an error when
    a key is needed, never a silent switch to the file), else the key file."""
    environ = os.environ if env is None else env
    if MASTER_KEY_ENV in environ:
        return EnvMasterKey(environ[MASTER_KEY_ENV])
    return KeyFile(key_file or key_file_path(), tenant_id)
