"""`StorageSettings`: the plain values storage needs, built by the runtime from its config."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

BACKENDS = ("sqlite", "memory", "postgres")


@dataclass(frozen=True)
class StorageSettings:
    """What `open_storage` and the admin commands read; storage never imports runtime config."""

    backend: str = "sqlite"  # "sqlite" | "memory" | "postgres"
    sqlite_path: str = "llmspell.db"
    auto_upgrade: bool = True
    max_value_bytes: int = 10 * 1024 * 1024
    history_limit: int = 10  # kept State versions per key, current included
    pg_url: str = "postgresql://llmspell_app@localhost/llmspell"
    pg_admin_url: str = ""  # owner role for migrations; "" = pg_url
    pg_pool_min: int = 1
    pg_pool_max: int = 10
    pg_embedded: bool = False
    pg_data_dir: str = ""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(
                f"storage backend {self.backend!r} is not supported; allowed: {', '.join(BACKENDS)}"
            )
        if self.max_value_bytes < 1:
            raise ValueError(f"max_value_bytes must be positive, got {self.max_value_bytes}")
        if self.history_limit < 1:
            raise ValueError(f"history_limit must be at least 1, got {self.history_limit}")

    @classmethod
    def from_config(cls, config: Any) -> StorageSettings:
        """Build from the runtime's `LLMSpellConfig` (read by attribute only, never imported)."""
        storage = config.storage
        pg = storage.postgres
        # `[storage.components] kv = ...` overrides the backend of the only component so far.
        return cls(
            backend=storage.components.get("kv", storage.backend),
            sqlite_path=str(config.resolved_storage_path()),
            auto_upgrade=bool(storage.auto_upgrade),
            max_value_bytes=int(storage.max_value_mb * 1024 * 1024),
            history_limit=int(storage.state_history_limit),
            pg_url=pg.url,
            pg_admin_url=pg.admin_url,
            pg_pool_min=int(pg.pool_min),
            pg_pool_max=int(pg.pool_max),
            pg_embedded=bool(pg.embedded),
            pg_data_dir=str(config.resolved_pg_data_dir()),
        )

    @property
    def admin_url(self) -> str:
        """The owner URL migrations run as (`pg_admin_url`, or `pg_url` when that is empty)."""
        return self.pg_admin_url or self.pg_url

    def with_changes(self, **changes: Any) -> StorageSettings:
        """A copy with some fields replaced (tests, embedded mode filling in its URLs)."""
        return replace(self, **changes)
