"""Infrastructure: the one place where a runtime's components are built, in dependency order."""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import TYPE_CHECKING

from llmspell.runtime.config import LLMSpellConfig
from llmspell.runtime.state import StateManager

if TYPE_CHECKING:
    from llmspell.storage.protocols import Storage

logger = logging.getLogger("llmspell.infrastructure")
_open: weakref.WeakSet[Infrastructure] = weakref.WeakSet()


class Infrastructure:
    """Storage and the managers built on it, for one tenant. `close()` is idempotent and also
    runs at interpreter exit.

    Storage opens on first use (importing SQLAlchemy alone takes ~250 ms, which a kernel start or
    a script that never touches storage should not pay); `open()` opens it now."""

    def __init__(self, config: LLMSpellConfig, storage: Storage | None = None) -> None:
        self.config = config
        self.tenant_id = config.tenancy.tenant_id
        self._storage = storage
        self._state: StateManager | None = None
        self._closed = False
        self._lock = threading.RLock()
        _open.add(self)

    @classmethod
    def from_config(cls, config: LLMSpellConfig) -> Infrastructure:
        """Build the components for the configured tenant, in dependency order: storage, then
        the managers on it (today StateManager). Expensive parts open on first use."""
        return cls(config)

    def open(self) -> Infrastructure:
        """Open storage now (migrating SQLite if needed) instead of on first use."""
        _ = self.storage
        return self

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("Infrastructure: closed")
                if self._storage is None:
                    from llmspell.storage import StorageSettings, open_storage

                    settings = StorageSettings.from_config(self.config)
                    self._storage = open_storage(settings, self.tenant_id)
        return self._storage

    @property
    def state(self) -> StateManager:
        if self._state is None:
            max_bytes = int(self.config.storage.max_value_mb * 1024 * 1024)
            self._state = StateManager(lambda: self.storage.kv, max_bytes)
        return self._state

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            storage, self._storage = self._storage, None
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
