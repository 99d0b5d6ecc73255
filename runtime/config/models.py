"""The configuration's schema: one pydantic model per section, validating what `load_config`
merged. Imported only when a config is validated, so a start from the config cache
(`cache.py`) does not pay for pydantic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmspell.runtime.config.paths import (
    history_file_of,
    key_env_of,
    pg_data_dir_of,
    storage_path_of,
)
from llmspell.runtime.config.redaction import secret_env_names
from llmspell.runtime.config.sources import ENV_PREFIX
from llmspell.runtime.embeddings.catalog import ProviderName
from llmspell.runtime.times import MAX_TTL_S
from llmspell.storage.settings import Backend


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LuaEngineConfig(_Section):
    security: Literal["safe", "trusted"] = "safe"
    max_memory_mb: int = Field(512, ge=16, le=1_048_576)
    timeout_s: float = Field(0, ge=0)
    # What os.getenv may read in safe mode (never LLMSPELL_* nor a provider's api_key_env).
    env_allowlist: list[str] = Field(default_factory=lambda: ["HOME", "USER", "LANG", "TZ"])

    @field_validator("env_allowlist")
    @classmethod
    def _harmless_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if name.startswith(ENV_PREFIX):
                raise ValueError(
                    f"{name!r}: {ENV_PREFIX}* variables hold llmspell's own settings and "
                    "cannot be readable by scripts"
                )
        return value


class PythonEngineConfig(_Section):
    # The Python engine has no sandbox: a deployment running untrusted scripts turns it off.
    enabled: bool = True
    timeout_s: float = Field(0, ge=0)


class EnginesConfig(_Section):
    lua: LuaEngineConfig = LuaEngineConfig()
    python: PythonEngineConfig = PythonEngineConfig()


class PostgresConfig(_Section):
    url: str = "postgresql://llmspell_app@localhost/llmspell"
    admin_url: str = ""
    pool_min: int = Field(1, ge=0, le=1000)
    pool_max: int = Field(10, ge=1, le=1000)
    embedded: bool = False
    data_dir: str = ""


def built_components() -> list[str]:
    """The components `[storage.components]` may route: the storage registry's."""
    from llmspell.storage.registry import component_names  # lists modules, imports none

    return component_names()


class StorageConfig(_Section):
    backend: Backend = "sqlite"
    path: str = ""
    auto_upgrade: bool = True
    max_value_mb: float = Field(10, gt=0, le=1024)
    state_history_limit: int = Field(10, ge=1, le=10_000)
    busy_timeout_s: float = Field(10, gt=0, le=3600)  # SQLite: how long a writer waits for a lock
    max_artifact_mb: float = Field(100, gt=0, le=16_384)
    postgres: PostgresConfig = PostgresConfig()
    components: dict[str, Backend] = Field(default_factory=dict)

    @field_validator("components")
    @classmethod
    def _known_components(cls, value: dict[str, str]) -> dict[str, str]:
        built = built_components()
        unknown = sorted(set(value) - set(built))
        if unknown:
            # A route for a store that does not exist would be silently ignored.
            raise ValueError(f"unknown component {unknown[0]!r}; allowed: {', '.join(built)}")
        return value


class TenancyConfig(_Section):
    tenant_id: str = Field("default", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")


class MemoryConfig(_Section):
    enabled: bool = True
    # Hybrid episodic search: weight of the vector score against BM25 (0 = keywords only).
    vector_weight: float = Field(0.5, ge=0, le=1)
    # Procedural suggestions rank by the lower bound of this confidence interval of the rate.
    procedural_confidence: float = Field(0.9, gt=0, lt=1)
    # "provider/model" that `Memory.consolidate{mode="llm"}` asks ("" = agents.default_model)
    llm_model: str = ""


class EmbeddingsConfig(_Section):
    provider: ProviderName = "local"
    model: str = ""  # "" = the provider's default model
    base_url: str = ""  # openai/ollama: the API root, e.g. http://localhost:11434/v1
    api_key_env: str = ""  # openai: environment variable holding the key
    dimensions: int = Field(0, ge=0, le=8192)  # openai: ask for this size; hash: its size
    batch_size: int = Field(64, ge=1, le=4096)
    cache_size: int = Field(4096, ge=0, le=10_000_000)  # embeddings kept by content hash
    timeout_s: float = Field(60, gt=0)


class RagConfig(_Section):
    enabled: bool = True
    chunk_size: int = Field(512, ge=16, le=65_536)
    chunk_overlap: int = Field(64, ge=0, le=65_535)


class MockToolCallConfig(_Section):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class MockReplyConfig(_Section):
    """One rule of a mock provider: when the last user message contains `when` (case-blind;
    empty = any message), reply with `text` and/or ask for `tool_calls`."""

    when: str = ""
    text: str = ""
    tool_calls: list[MockToolCallConfig] = Field(default_factory=list)


PROVIDER_TYPES = ("openai", "anthropic", "ollama", "mock")
_MOCK_ONLY = ("replies", "delay_ms")


class ProviderConfig(_Section):
    type: Literal["openai", "anthropic", "ollama", "mock"]
    enabled: bool = True
    api_key_env: str = ""  # "" = the type's default (OPENAI_API_KEY, ANTHROPIC_API_KEY)
    base_url: str = ""  # "" = the vendor's API (ollama: http://localhost:11434/v1)
    model: str = ""  # the model used when an agent names only the provider
    models: list[str] = Field(default_factory=list)  # other models to list as available
    timeout_s: float = Field(60, gt=0, le=3600)
    max_retries: int = Field(2, ge=0, le=10)  # on 429, 5xx and dropped connections
    # mock only: scripted rules and a simulated latency
    replies: list[MockReplyConfig] = Field(default_factory=list)
    delay_ms: float = Field(0, ge=0, le=600_000)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if value and not ENV_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _mock_keys_only_for_mock(self) -> ProviderConfig:
        if self.type != "mock":
            for key in _MOCK_ONLY:
                if key in self.model_fields_set:
                    raise ValueError(
                        f"{key} is a setting of type 'mock' providers, not of type {self.type!r}"
                    )
        return self

    @property
    def key_env(self) -> str:
        """The environment variable the key is read from ("" when the type needs none)."""
        return key_env_of(self)


class AgentsConfig(_Section):
    default_model: str = ""  # "provider/model" for agents and templates that name none
    max_tool_rounds: int = Field(5, ge=1, le=100)  # model→tools→model rounds per execute
    max_history_messages: int = Field(20, ge=0, le=10_000)  # conversation kept per agent
    memory_context_tokens: int = Field(1000, ge=1, le=100_000)  # Context for memory(true)


def default_allowed_paths() -> list[str]:
    """The reference system's default file access: a temporary directory. Here one private to
    the user (`<tmp>/llmspell-<uid>`, mode 0700; see `tools.paths.private_temp_root`), so the
    files scripts write never mix with other users'. None (file access off) when that
    directory is not safely the user's own."""
    from llmspell.runtime.tools.paths import private_temp_root

    root = private_temp_root()
    return [] if root is None else [root]


class ToolsConfig(_Section):
    allowed_paths: list[str] = Field(default_factory=default_allowed_paths)
    network_allowed: bool = False


class HooksConfig(_Section):
    enabled: bool = True  # false: the Hook global raises "disabled in config"; nothing runs


class EventsConfig(_Section):
    enabled: bool = True  # false: the Event global raises "disabled in config"
    queue_size: int = Field(1000, ge=1, le=1_000_000)  # per subscription; the oldest drop first
    # expiry of an event published without ttl_s; 0 = never
    default_ttl_s: float = Field(0, ge=0, le=MAX_TTL_S)


class KernelConfig(_Section):
    history_file: str = ""
    display_max_depth: int = Field(4, ge=1, le=64)
    display_max_items: int = Field(100, ge=1, le=100_000)
    display_max_string: int = Field(10_000, ge=16)


class LLMSpellConfig(_Section):
    """The whole validated configuration (docs/user-guide/02-configuration.md, Reference)."""

    default_engine: Literal["lua", "python"] = "lua"
    engines: EnginesConfig = EnginesConfig()
    storage: StorageConfig = StorageConfig()
    tenancy: TenancyConfig = TenancyConfig()
    memory: MemoryConfig = MemoryConfig()
    embeddings: EmbeddingsConfig = EmbeddingsConfig()
    rag: RagConfig = RagConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    agents: AgentsConfig = AgentsConfig()
    tools: ToolsConfig = ToolsConfig()
    hooks: HooksConfig = HooksConfig()
    events: EventsConfig = EventsConfig()
    kernel: KernelConfig = KernelConfig()

    @model_validator(mode="after")
    def _consistent_engines(self) -> LLMSpellConfig:
        if self.default_engine == "python" and not self.engines.python.enabled:
            raise ValueError(
                "default_engine is 'python' but engines.python.enabled is false; "
                "use default_engine = 'lua' or enable the Python engine"
            )
        exposed = sorted(set(self.engines.lua.env_allowlist) & secret_env_names(self))
        if exposed:
            raise ValueError(
                f"engines.lua.env_allowlist names {exposed[0]!r}, a provider's api_key_env: "
                "API keys cannot be readable by scripts"
            )
        return self

    def resolved_storage_path(self) -> Path:
        """The SQLite file this config uses (the user data dir when `storage.path` is empty)."""
        return storage_path_of(self)

    def resolved_pg_data_dir(self) -> Path:
        """Where an embedded PostgreSQL keeps its cluster."""
        return pg_data_dir_of(self)

    def resolved_history_file(self) -> Path:
        """The kernel's history file (the user data dir when `kernel.history_file` is empty)."""
        return history_file_of(self)
