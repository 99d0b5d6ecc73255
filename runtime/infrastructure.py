"""Infrastructure: the one place where a runtime's storage and managers are built and closed."""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Protocol, TypeVar

from llmspell.runtime.host_limits import HostLimits

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig
    from llmspell.storage.sql_storage import SqlStorage

logger = logging.getLogger("llmspell.infrastructure")
_open: weakref.WeakSet[Infrastructure] = weakref.WeakSet()


class Manager(Protocol):
    """A runtime component (StateManager, SessionManager, ...): built from the infrastructure
    on first use, after (and from) the managers it needs, so dependency order is implicit."""

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> Manager: ...


M = TypeVar("M", bound=Manager)


class Infrastructure:
    """Storage and the managers built on it, for one tenant. `close()` is idempotent and also
    runs at interpreter exit.

    Storage opens on first use (importing SQLAlchemy alone takes ~250 ms, which a kernel start or
    a script that never touches storage should not pay); `open()` opens it now. Managers are
    built on first `get(ManagerClass)`; `close()` closes those that have a `close` method, newest
    first. `limits` are the limits of the script the runtime runs, for host work (see
    `host_limits`): a script waiting for storage to open stops at an interrupt or its time
    limit, and the opening goes on for the next call."""

    def __init__(self, config: LLMSpellConfig, storage: SqlStorage | None = None) -> None:
        self.config = config
        self.tenant_id = config.tenancy.tenant_id
        self._storage = storage
        self._managers: dict[type, object] = {}
        self._closed = False
        self._lock = threading.RLock()
        self._storage_lock = threading.Lock()
        self.limits = HostLimits()
        _open.add(self)

    @classmethod
    def from_config(cls, config: LLMSpellConfig) -> Infrastructure:
        """The infrastructure of the configured tenant; storage and managers open on first use."""
        return cls(config)

    def open(self) -> Infrastructure:
        """Open storage now (migrating SQLite if needed) instead of on first use."""
        _ = self.storage
        return self

    def check(self) -> Infrastructure:
        """Fail now, not at the script's first storage call, when storage cannot work: open a
        PostgreSQL database (connect, check the schema); for SQLite only create the file and
        take its write lock, with the standard library, so a script that never touches
        storage does not wait for SQLAlchemy (~150 ms) and the schema check."""
        storage = self.config.storage
        backends = {storage.backend, *storage.components.values()}
        if "postgres" in backends:
            return self.open()
        if "sqlite" in backends:
            from llmspell.storage.sqlite_file import check_sqlite_file

            check_sqlite_file(str(self.config.resolved_storage_path()))
        return self

    @property
    def storage(self) -> SqlStorage:
        storage = self._storage
        if storage is None:
            storage = self.limits.wait(self._open_storage, "opening storage")
        return storage

    def _open_storage(self) -> SqlStorage:
        # Its own lock: it runs on a helper thread (`limits.wait`) while the script's thread
        # may hold `_lock` (a manager being built that opens storage).
        with self._storage_lock:
            if self._closed:
                raise RuntimeError("Infrastructure: closed")
            if self._storage is None:
                from llmspell.runtime.config.storage import storage_settings
                from llmspell.storage import open_storage

                self._storage = open_storage(storage_settings(self.config), self.tenant_id)
            return self._storage

    def get(self, kind: type[M]) -> M:
        """The runtime's one `kind` manager, built on first use."""
        manager = self._managers.get(kind)
        if manager is None:
            self.limits.check_stop()
            with self._lock:
                if self._closed:
                    raise RuntimeError("Infrastructure: closed")
                manager = self._managers.get(kind)
                if manager is None:
                    manager = self._managers[kind] = kind.from_infrastructure(self)
        return manager  # type: ignore[return-value]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock, self._storage_lock:
            if self._closed:
                return
            self._closed = True
            managers = list(self._managers.values())
            storage, self._storage = self._storage, None
        for manager in reversed(managers):
            close = getattr(manager, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:
                logger.exception("closing %s failed", type(manager).__name__)
        if storage is None:
            return
        try:
            storage.close()
        except Exception:
            logger.exception("closing storage failed")


@atexit.register
def _close_all() -> None:
    for infra in list(_open):
        infra.close()
