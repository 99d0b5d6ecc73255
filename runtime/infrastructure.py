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
    runs at interpreter exit."""

    def __init__(self, config: LLMSpellConfig, storage: Storage) -> None:
        self.config = config
        self.storage = storage
        self.tenant_id = config.tenancy.tenant_id
        self.state = StateManager(storage.kv, int(config.storage.max_value_mb * 1024 * 1024))
        self._closed = False
        self._lock = threading.Lock()
        _open.add(self)

    @classmethod
    def from_config(cls, config: LLMSpellConfig) -> Infrastructure:
        """Open storage for the configured tenant and build the managers on it.

        Storage comes first; everything else is built on top of it. Expensive parts (a
        PostgreSQL pool, embedding models) are created lazily on first use."""
        from llmspell.storage import StorageSettings, open_storage

        settings = StorageSettings.from_config(config)
        storage = open_storage(settings, config.tenancy.tenant_id)
        return cls(config, storage)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.storage.close()
        except Exception:
            logger.exception("closing storage failed")


@atexit.register
def _close_all() -> None:
    for infra in list(_open):
        infra.close()
