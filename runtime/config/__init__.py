"""Configuration: validated TOML, layered defaults < profile < files < environment < flags.

One module per concept:
  `loader`     `load_config`, profiles, `LoadedConfig`, overrides
  `sources`    where values come from (files, `LLMSPELL_*` variables, flags) and their names
  `models`     the schema: one pydantic model per section (loaded on first validation)
  `paths`      what empty path settings resolve to (the user data dir), provider key variables
  `redaction`  secrets kept out of what is shown
  `cache`      a validated config kept between CLI starts (no pydantic on a warm start)
  `storage`    the `StorageSettings` a config gives `open_storage`

Everything public is importable from here. The models, the cache and the storage mapping are
imported on first use of one of their names: a start from the cache does without pydantic,
and a config alone does not load storage.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from llmspell.runtime.config.errors import ConfigError
from llmspell.runtime.config.loader import (
    PROFILES,
    LoadedConfig,
    known_profiles,
    load_config,
    validate_file,
    with_host_defaults,
    with_overrides,
)
from llmspell.runtime.config.paths import (
    APP_NAME,
    DEFAULT_KEY_ENV,
    RESOLVED_PATHS,
    data_dir,
    history_file_of,
    key_env_of,
    pg_data_dir_of,
    storage_path_of,
    user_config_file,
)
from llmspell.runtime.config.redaction import (
    SECRET_MARKERS,
    config_to_flat,
    redact,
    redacted_view,
    secret_env_names,
)
from llmspell.runtime.config.sources import (
    ENV_PREFIX,
    RESERVED_ENV,
    candidate_files,
    describe_sources,
    format_sources,
)

if TYPE_CHECKING:
    from llmspell.runtime.config.cache import (
        ConfigView as ConfigView,
    )
    from llmspell.runtime.config.cache import (
        LLMSpellConfigView as LLMSpellConfigView,
    )
    from llmspell.runtime.config.cache import (
        cache_file as cache_file,
    )
    from llmspell.runtime.config.cache import (
        load_config_cached as load_config_cached,
    )
    from llmspell.runtime.config.models import AgentsConfig as AgentsConfig
    from llmspell.runtime.config.models import EmbeddingsConfig as EmbeddingsConfig
    from llmspell.runtime.config.models import EnginesConfig as EnginesConfig
    from llmspell.runtime.config.models import EventsConfig as EventsConfig
    from llmspell.runtime.config.models import HooksConfig as HooksConfig
    from llmspell.runtime.config.models import KernelConfig as KernelConfig
    from llmspell.runtime.config.models import LLMSpellConfig as LLMSpellConfig
    from llmspell.runtime.config.models import LuaEngineConfig as LuaEngineConfig
    from llmspell.runtime.config.models import MemoryConfig as MemoryConfig
    from llmspell.runtime.config.models import MockReplyConfig as MockReplyConfig
    from llmspell.runtime.config.models import MockToolCallConfig as MockToolCallConfig
    from llmspell.runtime.config.models import PostgresConfig as PostgresConfig
    from llmspell.runtime.config.models import ProviderConfig as ProviderConfig
    from llmspell.runtime.config.models import PythonEngineConfig as PythonEngineConfig
    from llmspell.runtime.config.models import RagConfig as RagConfig
    from llmspell.runtime.config.models import StorageConfig as StorageConfig
    from llmspell.runtime.config.models import TenancyConfig as TenancyConfig
    from llmspell.runtime.config.models import ToolsConfig as ToolsConfig
    from llmspell.runtime.config.storage import component_settings as component_settings
    from llmspell.runtime.config.storage import storage_settings as storage_settings

# name -> the module (of this package) that defines it, imported on first use
_LAZY = {
    **dict.fromkeys(
        (
            "AgentsConfig",
            "EmbeddingsConfig",
            "EnginesConfig",
            "EventsConfig",
            "HooksConfig",
            "KernelConfig",
            "LLMSpellConfig",
            "LuaEngineConfig",
            "MemoryConfig",
            "MockReplyConfig",
            "MockToolCallConfig",
            "PostgresConfig",
            "ProviderConfig",
            "PythonEngineConfig",
            "RagConfig",
            "StorageConfig",
            "TenancyConfig",
            "ToolsConfig",
        ),
        "models",
    ),
    **dict.fromkeys(
        ("ConfigView", "LLMSpellConfigView", "cache_file", "load_config_cached"), "cache"
    ),
    **dict.fromkeys(("component_settings", "storage_settings"), "storage"),
}

__all__ = [
    "APP_NAME",
    "DEFAULT_KEY_ENV",
    "ENV_PREFIX",
    "PROFILES",
    "RESERVED_ENV",
    "RESOLVED_PATHS",
    "SECRET_MARKERS",
    "ConfigError",
    "LoadedConfig",
    "candidate_files",
    "config_to_flat",
    "data_dir",
    "describe_sources",
    "format_sources",
    "history_file_of",
    "key_env_of",
    "known_profiles",
    "load_config",
    "pg_data_dir_of",
    "redact",
    "redacted_view",
    "secret_env_names",
    "storage_path_of",
    "user_config_file",
    "validate_file",
    "with_host_defaults",
    "with_overrides",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'llmspell.runtime.config' has no attribute {name!r}")
    value = getattr(import_module(f"llmspell.runtime.config.{home}"), name)
    globals()[name] = value
    return value
