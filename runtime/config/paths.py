"""What settings whose empty value means "the default place" resolve to: the user data and
config dirs, the SQLite file, the embedded cluster, the kernel history, a provider's key
variable. The models' methods (`config.resolved_storage_path()`) and the cached config's views
both answer with these.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from llmspell.runtime.config.models import LLMSpellConfig, ProviderConfig

APP_NAME = "llmspell"

# The environment variable a provider type reads its key from when `api_key_env` is not set.
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def data_dir() -> Path:
    """The per-user data directory (databases, kernel history, embedded PostgreSQL)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_file() -> Path:
    """The user's config file (the base layer of discovery)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def storage_path_of(config: LLMSpellConfig) -> Path:
    """The SQLite file `config` uses (the user data dir when `storage.path` is empty)."""
    if config.storage.path:
        return Path(config.storage.path).expanduser()
    return data_dir() / "llmspell.db"


def pg_data_dir_of(config: LLMSpellConfig) -> Path:
    """Where an embedded PostgreSQL keeps its cluster."""
    if config.storage.postgres.data_dir:
        return Path(config.storage.postgres.data_dir).expanduser()
    return data_dir() / "postgres"


def history_file_of(config: LLMSpellConfig) -> Path:
    """The kernel's history file (the user data dir when `kernel.history_file` is empty)."""
    if config.kernel.history_file:
        return Path(config.kernel.history_file).expanduser()
    return data_dir() / "kernel_history.db"


def key_env_of(provider: ProviderConfig) -> str:
    """The environment variable a provider's key is read from ("" when its type needs none)."""
    return provider.api_key_env or DEFAULT_KEY_ENV.get(provider.type, "")


# Settings whose empty value means "a file in the user data dir": what they resolve to.
RESOLVED_PATHS = {
    "storage.path": storage_path_of,
    "storage.postgres.data_dir": pg_data_dir_of,
    "kernel.history_file": history_file_of,
}
