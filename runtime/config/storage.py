"""The storage settings of a config: what `open_storage` and `llmspell storage` are given.

Storage never reads the runtime's config; this is where config keys become storage settings,
including each component's settings object and backend override.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.storage.settings import StorageSettings

if TYPE_CHECKING:
    from llmspell.runtime.config.models import LLMSpellConfig


def storage_settings(config: LLMSpellConfig) -> StorageSettings:
    """The `StorageSettings` for `config` (component settings from their config keys)."""
    storage = config.storage
    pg = storage.postgres
    return StorageSettings(
        backend=storage.backend,
        sqlite_path=str(config.resolved_storage_path()),
        sqlite_busy_timeout_s=float(storage.busy_timeout_s),
        auto_upgrade=bool(storage.auto_upgrade),
        pg_url=pg.url,
        pg_admin_url=pg.admin_url,
        pg_pool_min=int(pg.pool_min),
        pg_pool_max=int(pg.pool_max),
        pg_embedded=bool(pg.embedded),
        pg_data_dir=str(config.resolved_pg_data_dir()),
        component_backends=dict(storage.components),
        component_settings=component_settings(config),
    )


def component_settings(config: LLMSpellConfig) -> dict[str, Any]:
    """Component name → its settings object, for the components that map config keys
    (each declares its mapping: `Component.from_config`, given the `[storage]` section)."""
    # Imported here: component modules load SQLAlchemy, which only an opening storage needs.
    from llmspell.storage import registry

    return {
        component.name: component.from_config(config.storage)
        for component in registry.components()
        if component.from_config is not None
    }
