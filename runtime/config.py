"""Configuration: validated TOML, layered defaults < profile < files < environment < flags.

`load_config` is the one entry point. It returns a `LoadedConfig` that carries the validated
`LLMSpellConfig` and, for `llmspell config show`, the source of every value.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from llmspell.runtime.times import MAX_TTL_S
from llmspell.storage.redaction import MASK, redact_secrets

APP_NAME = "llmspell"
ENV_PREFIX = "LLMSPELL_"
# Variables that steer loading itself (or tests) rather than naming a config key.
RESERVED_ENV = {
    "LLMSPELL_CONFIG",
    "LLMSPELL_PROFILE",
    "LLMSPELL_MASTER_KEY",
    "LLMSPELL_TEST_PG_URL",
}
SECRET_MARKERS = ("api_key", "password", "secret", "token")


class ConfigError(ValueError):
    """A configuration file, variable or flag is invalid; the message says where and why."""


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


Backend = Literal["sqlite", "memory", "postgres"]


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
    provider: Literal["local", "openai", "ollama", "hash"] = "local"
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


# The environment variable a provider type reads its key from when `api_key_env` is not set.
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
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
        return self.api_key_env or DEFAULT_KEY_ENV.get(self.type, "")


class AgentsConfig(_Section):
    default_model: str = ""  # "provider/model" for agents and templates that name none
    max_tool_rounds: int = Field(5, ge=1, le=100)  # model→tools→model rounds per execute
    max_history_messages: int = Field(20, ge=0, le=10_000)  # conversation kept per agent
    memory_context_tokens: int = Field(1000, ge=1, le=100_000)  # Context for memory(true)


class ToolsConfig(_Section):
    allowed_paths: list[str] = Field(default_factory=list)
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
    """The whole validated configuration (see spec/architecture.md, Configuration)."""

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
        if self.storage.path:
            return Path(self.storage.path).expanduser()
        return data_dir() / "llmspell.db"

    def resolved_pg_data_dir(self) -> Path:
        """Where an embedded PostgreSQL keeps its cluster."""
        if self.storage.postgres.data_dir:
            return Path(self.storage.postgres.data_dir).expanduser()
        return data_dir() / "postgres"

    def resolved_history_file(self) -> Path:
        """The kernel's history file (the user data dir when `kernel.history_file` is empty)."""
        if self.kernel.history_file:
            return Path(self.kernel.history_file).expanduser()
        return data_dir() / "kernel_history.db"


# Settings whose empty value means "a file in the user data dir": what they resolve to.
RESOLVED_PATHS = {
    "storage.path": LLMSpellConfig.resolved_storage_path,
    "storage.postgres.data_dir": LLMSpellConfig.resolved_pg_data_dir,
    "kernel.history_file": LLMSpellConfig.resolved_history_file,
}


PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "memory": {"storage": {"backend": "memory"}},
    "postgres": {"storage": {"backend": "postgres", "auto_upgrade": False}},
    "embedded-postgres": {"storage": {"backend": "postgres", "postgres": {"embedded": True}}},
}


def secret_env_names(config: LLMSpellConfig) -> set[str]:
    """Environment variables that hold secrets: every `*api_key_env` the config names (any
    section), the default key variables of the provider types, and llmspell's master key."""
    names = {*DEFAULT_KEY_ENV.values(), "LLMSPELL_MASTER_KEY"}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if str(key).endswith("api_key_env") and isinstance(item, str) and item:
                    names.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config.model_dump())
    return names


def data_dir() -> Path:
    """The per-user data directory (databases, kernel history, embedded PostgreSQL)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


@dataclass
class LoadedConfig:
    """A validated config plus where each value came from."""

    config: LLMSpellConfig
    sources: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    profile: str | None = None

    def source_of(self, dotted: str) -> str:
        return self.sources.get(dotted, "default")


def load_config(
    config_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> LoadedConfig:
    """Build the effective configuration.

    `overrides` are command-line flags as dotted keys (`{"storage.backend": "memory"}`).
    `env` defaults to `os.environ`; `LLMSPELL_CONFIG` and `LLMSPELL_PROFILE` there are used
    when `config_file` / `profile` are not given.
    """
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []

    where = ""
    if not profile and env.get("LLMSPELL_PROFILE"):
        profile, where = env["LLMSPELL_PROFILE"], "environment variable LLMSPELL_PROFILE: "
    profile = profile or None
    if profile is not None:
        if profile not in PROFILES:
            raise ConfigError(
                f"{where}unknown profile {profile!r}; allowed: {', '.join(sorted(PROFILES))}"
            )
        layers.append((f"profile {profile}", PROFILES[profile]))

    files = _discover_files(config_file, env, Path(cwd) if cwd else Path.cwd())
    for path in files:
        layers.append((str(path), _read_toml(path)))

    env_layer = _env_layer(env)
    if env_layer:
        layers.append(("env", env_layer))
    if overrides:
        layers.append(("flag", _nest({k: v for k, v in overrides.items() if v is not None})))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, data in layers:
        _merge(merged, data, source, sources, prefix="")
    # Env values name their variable, so an error can point at it.
    try:
        config = LLMSpellConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    return LoadedConfig(config=config, sources=sources, files=files, profile=profile)


def validate_file(path: str | os.PathLike[str]) -> LLMSpellConfig:
    """Validate one TOML file on its own (no discovery, no environment)."""
    data = _read_toml(Path(path))
    sources: dict[str, str] = {}
    _merge({}, data, str(path), sources, prefix="")
    try:
        config = LLMSpellConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    return config


def _discover_files(
    config_file: str | os.PathLike[str] | None, env: Mapping[str, str], cwd: Path
) -> list[Path]:
    explicit = config_file or env.get("LLMSPELL_CONFIG") or None
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        return [path]
    found = [p for p in (user_config_file(), cwd / "llmspell.toml") if p.is_file()]
    # The user file is the base; ./llmspell.toml (more specific) is layered over it.
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
            f"at offset {exc.start}); TOML files must be UTF-8"
        ) from None


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    top_level = {name for name, info in LLMSpellConfig.model_fields.items()}
    flat: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if "__" not in rest and rest not in top_level:
            continue  # not a config variable (e.g. LLMSPELL_HOME of another tool)
        dotted = ".".join(part for part in rest.split("__"))
        flat[dotted] = _parse_env_value(raw)
    nested = _nest(flat)
    return nested


def _parse_env_value(raw: str) -> Any:
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"key {dotted!r}: {part!r} is a value, not a section")
        node[parts[-1]] = value
    return out


def _merge(
    target: dict[str, Any],
    data: Mapping[str, Any],
    source: str,
    sources: dict[str, str],
    prefix: str,
) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(target.get(key, {}), dict):
            node = target.setdefault(key, {})
            if not value:
                sources.setdefault(dotted, source)
            _merge(node, value, source, sources, prefix=f"{dotted}.")
        else:
            target[key] = value
            sources[dotted] = source


def _explain(exc: ValidationError, sources: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err["loc"])
        if not dotted:  # a rule across sections: its message names the keys
            lines.append(str(err["msg"]).removeprefix("Value error, "))
            continue
        source = _error_source(dotted, sources)
        where = _describe_source(source, dotted)
        if err["type"] == "extra_forbidden":
            parent = ".".join(str(p) for p in err["loc"][:-1])
            allowed = _allowed_keys(parent)
            lines.append(f"{where}: unknown key {dotted!r}; allowed: {', '.join(allowed)}")
        elif err["type"] == "missing":
            lines.append(f"{where}: {dotted} is required")
        else:
            value = redact(dotted, err.get("input"))
            lines.append(f"{where}: {dotted} = {value!r}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _source_for(dotted: str, sources: Mapping[str, str]) -> str:
    parts = dotted.split(".")
    while parts:
        key = ".".join(parts)
        if key in sources:
            return sources[key]
        parts.pop()
    return "default"


def _error_source(dotted: str, sources: Mapping[str, str]) -> str:
    """Where an invalid (or missing) value came from: the layer that set it, else the layer
    that set something in its nearest section (a missing `type` of `[providers.x]`, a check of
    a whole section such as `storage.components`), not the default the section started from."""
    parts = dotted.split(".")
    while parts:
        key = ".".join(parts)
        if key in sources:
            return sources[key]
        inside = [source for name, source in sources.items() if name.startswith(f"{key}.")]
        if inside:
            return inside[-1]
        parts.pop()
    return "default"


def _describe_source(source: str, dotted: str) -> str:
    if source == "env":
        return f"environment variable {ENV_PREFIX}{dotted.upper().replace('.', '__')}"
    if source == "flag":
        return "command-line flag"
    if source.startswith("profile "):
        return source
    if source == "default":
        return "built-in default"
    return f"config file {source}"


def _allowed_keys(parent: str) -> list[str]:
    model: type[BaseModel] = LLMSpellConfig
    keyed_by_name = False  # the previous part was a dict of sections (`providers`)
    for part in [p for p in parent.split(".") if p]:
        if keyed_by_name:
            keyed_by_name = False
            continue
        info = model.model_fields.get(part)
        annotation = info.annotation if info else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif annotation is not None and getattr(annotation, "__origin__", None) is dict:
            value_type = getattr(annotation, "__args__", (None, None))[1]
            if isinstance(value_type, type) and issubclass(value_type, BaseModel):
                model = value_type
                keyed_by_name = True
            else:
                return []
        else:
            return []
    return sorted(model.model_fields)


def config_to_flat(config: LLMSpellConfig) -> dict[str, Any]:
    """Dotted key → value for every leaf of the config (used by `config show` and `Config.get`)."""
    out: dict[str, Any] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            out[prefix] = value

    walk(config.model_dump(), "")
    return out


def redact(dotted: str, value: Any) -> Any:
    """Hide secrets: values of secret-looking keys, and passwords inside connection strings
    (`redact_secrets`: every form libpq accepts) anywhere in the value."""
    leaf = dotted.rsplit(".", 1)[-1].lower()
    if any(marker in leaf for marker in SECRET_MARKERS) and not leaf.endswith("_env") and value:
        return MASK
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, Mapping):
        return {k: redact(f"{dotted}.{k}", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(dotted, item) for item in value]
    return value


def redacted_view(config: LLMSpellConfig) -> dict[str, Any]:
    return {k: redact(k, v) for k, v in config_to_flat(config).items()}


def describe_sources(
    loaded: LoadedConfig, host_defaults: Mapping[str, tuple[Any, str]] | None = None
) -> list[tuple[str, Any, str]]:
    """Rows of (dotted key, effective redacted value, source) for `llmspell config show`.

    An empty path shows the file it resolves to; `host_defaults` (key → (value, description))
    are what the calling host uses for keys no layer set (the CLI's run time limit)."""
    host_defaults = host_defaults or {}
    rows = []
    for dotted, value in redacted_view(loaded.config).items():
        source = _describe_source(_source_for(dotted, loaded.sources), dotted)
        if dotted in RESOLVED_PATHS and not value:
            value = str(RESOLVED_PATHS[dotted](loaded.config))
            source = f"{source}: in the user data dir"
        elif dotted in host_defaults and source == "built-in default":
            value, source = host_defaults[dotted]
        rows.append((dotted, value, source))
    return rows


def format_sources(rows: Sequence[tuple[str, Any, str]]) -> str:
    """`key = value  # source` lines of describe_sources rows (`llmspell config show`)."""
    width = max((len(key) for key, _, _ in rows), default=0)
    return "".join(
        f"{key:<{width}} = {json.dumps(value, default=str)}  # {source}\n"
        for key, value, source in rows
    )


def with_overrides(config: LLMSpellConfig, overrides: Mapping[str, Any]) -> LLMSpellConfig:
    """A copy of `config` with dotted keys replaced (validated)."""
    data = config.model_dump()
    sources: dict[str, str] = {}
    _merge(data, _nest(dict(overrides)), "flag", sources, prefix="")
    try:
        updated = LLMSpellConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    return updated


def known_profiles() -> Sequence[str]:
    return sorted(PROFILES)
