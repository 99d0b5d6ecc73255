"""Configuration: validated TOML, layered defaults < profile < files < environment < flags.

`load_config` is the one entry point. It returns a `LoadedConfig` that carries the validated
`LLMSpellConfig` and, for `llmspell config show`, the source of every value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from llmspell.storage.redaction import MASK, redact_secrets

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    # served at run time by __getattr__ below
    from llmspell.runtime.config_models import AgentsConfig as AgentsConfig
    from llmspell.runtime.config_models import EmbeddingsConfig as EmbeddingsConfig
    from llmspell.runtime.config_models import EnginesConfig as EnginesConfig
    from llmspell.runtime.config_models import EventsConfig as EventsConfig
    from llmspell.runtime.config_models import HooksConfig as HooksConfig
    from llmspell.runtime.config_models import KernelConfig as KernelConfig
    from llmspell.runtime.config_models import LLMSpellConfig as LLMSpellConfig
    from llmspell.runtime.config_models import LuaEngineConfig as LuaEngineConfig
    from llmspell.runtime.config_models import MemoryConfig as MemoryConfig
    from llmspell.runtime.config_models import MockReplyConfig as MockReplyConfig
    from llmspell.runtime.config_models import MockToolCallConfig as MockToolCallConfig
    from llmspell.runtime.config_models import PostgresConfig as PostgresConfig
    from llmspell.runtime.config_models import ProviderConfig as ProviderConfig
    from llmspell.runtime.config_models import PythonEngineConfig as PythonEngineConfig
    from llmspell.runtime.config_models import RagConfig as RagConfig
    from llmspell.runtime.config_models import StorageConfig as StorageConfig
    from llmspell.runtime.config_models import TenancyConfig as TenancyConfig
    from llmspell.runtime.config_models import ToolsConfig as ToolsConfig

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


# The environment variable a provider type reads its key from when `api_key_env` is not set.
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

# The schema (pydantic models) lives in config_models.py, imported on first use: a start from
# the config cache does without pydantic. These names are served from there.
_MODEL_NAMES = frozenset(
    {
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
    }
)


def __getattr__(name: str) -> Any:
    if name not in _MODEL_NAMES:
        raise AttributeError(f"module 'llmspell.runtime.config' has no attribute {name!r}")
    from llmspell.runtime import config_models

    value = getattr(config_models, name)
    globals()[name] = value
    return value


# What a setting resolves to. The models' methods (`config.resolved_storage_path()`) and the
# cached config's views both answer with these.
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
    from pydantic import ValidationError

    from llmspell.runtime.config_models import LLMSpellConfig

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
    from pydantic import ValidationError

    from llmspell.runtime.config_models import LLMSpellConfig

    try:
        config = LLMSpellConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    return config


def candidate_files(
    config_file: str | os.PathLike[str] | None, env: Mapping[str, str], cwd: Path
) -> list[Path]:
    """The config files discovery looks at, present or not: the explicit one (`config_file`,
    else LLMSPELL_CONFIG), else the user file and ./llmspell.toml, in layering order."""
    explicit = config_file or env.get("LLMSPELL_CONFIG") or None
    if explicit:
        return [Path(explicit).expanduser()]
    # The user file is the base; ./llmspell.toml (more specific) is layered over it.
    return [user_config_file(), cwd / "llmspell.toml"]


def _discover_files(
    config_file: str | os.PathLike[str] | None, env: Mapping[str, str], cwd: Path
) -> list[Path]:
    candidates = candidate_files(config_file, env, cwd)
    if config_file or env.get("LLMSPELL_CONFIG"):
        if not candidates[0].is_file():
            raise ConfigError(f"config file {str(candidates[0])!r} does not exist")
        return candidates
    return [p for p in candidates if p.is_file()]


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when validating: a start from the config cache reads none

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
    from llmspell.runtime.config_models import LLMSpellConfig

    top_level = set(LLMSpellConfig.model_fields)
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
    from pydantic import BaseModel

    from llmspell.runtime.config_models import LLMSpellConfig

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


def with_host_defaults(
    loaded: LoadedConfig, host_defaults: Mapping[str, tuple[Any, str]]
) -> LoadedConfig:
    """`loaded` with the host's defaults (key → (value, description)) for the keys no layer
    set: what `llmspell run/exec` use (a time limit the kernel does not have)."""
    defaults = {
        key: value
        for key, (value, _) in host_defaults.items()
        if loaded.source_of(key) == "default"
    }
    if defaults:
        loaded.config = with_overrides(loaded.config, defaults)
    return loaded


def with_overrides(config: LLMSpellConfig, overrides: Mapping[str, Any]) -> LLMSpellConfig:
    """A copy of `config` with dotted keys replaced (validated)."""
    data = config.model_dump()
    sources: dict[str, str] = {}
    _merge(data, _nest(dict(overrides)), "flag", sources, prefix="")
    from pydantic import ValidationError

    from llmspell.runtime.config_models import LLMSpellConfig

    try:
        updated = LLMSpellConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    return updated


def known_profiles() -> Sequence[str]:
    return sorted(PROFILES)
