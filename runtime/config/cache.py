"""A validated config kept between `llmspell run/exec` starts, so a start whose config did not
change reads one JSON file instead of importing pydantic and validating again.

The cache is one file under the user cache dir, keyed by a hash of everything the result
depends on: the explicit file and profile, the content of every config file discovery looks at
(or its absence), every `LLMSPELL_*` variable, the host's defaults and the schema's source. A
stale, unreadable or corrupt cache is ignored and rewritten; it is written atomically (a
temporary file renamed over it) with owner-only permissions. Values set by `LLMSPELL_*`
variables are never written to disk: such a config is validated on every start.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import platformdirs

from llmspell import __version__
from llmspell.runtime.config.loader import LoadedConfig, load_config, with_host_defaults
from llmspell.runtime.config.paths import (
    APP_NAME,
    history_file_of,
    key_env_of,
    pg_data_dir_of,
    storage_path_of,
)
from llmspell.runtime.config.sources import ENV_PREFIX, candidate_files

if TYPE_CHECKING:
    from llmspell.runtime.config.models import LLMSpellConfig, ProviderConfig

FORMAT = 2
MAX_ENTRIES = 8  # configs kept, most recently validated first
# Variables that never change a config (the master key decrypts stored keys).
_NOT_CONFIG_ENV = frozenset({"LLMSPELL_MASTER_KEY"})
# Variables (besides LLMSPELL_*) that computed defaults read: the home and temporary dirs.
_DEFAULTS_ENV = ("HOME", "TMPDIR", "TEMP", "TMP")
# The sources of the schema, profiles and defaults (relative to the llmspell package): a change
# to them (an upgrade, an edit) invalidates the cache. This module's own rules are in FORMAT.
_SCHEMA_SOURCES = (
    "runtime/config/loader.py",
    "runtime/config/models.py",
    "runtime/config/paths.py",
    "runtime/config/redaction.py",
    "runtime/config/sources.py",
    "runtime/embeddings/catalog.py",
    "storage/settings.py",
)


def cache_file() -> Path:
    """Where the cached config lives (the platform's user cache dir)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "config-cache.json"


def load_config_cached(
    config_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    host_defaults: Mapping[str, tuple[Any, str]] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> LoadedConfig:
    """`load_config` plus `with_host_defaults`, answered from the cache when its inputs did not
    change. A cached result's `config` is a read-only `ConfigView` of the validated values."""
    env = os.environ if env is None else env
    host_defaults = host_defaults or {}
    where = Path(cwd) if cwd else Path.cwd()
    key = _cache_key(config_file, profile, host_defaults, env, where)
    path = cache_file()
    cached = _read(path, key)
    if cached is not None:
        return cached
    loaded = with_host_defaults(
        load_config(config_file=config_file, profile=profile, env=env, cwd=where), host_defaults
    )
    if "env" not in loaded.sources.values():
        _write(path, key, loaded)
    return loaded


def _cache_key(
    config_file: str | os.PathLike[str] | None,
    profile: str | None,
    host_defaults: Mapping[str, tuple[Any, str]],
    env: Mapping[str, str],
    cwd: Path,
) -> str:
    files = {str(p): _digest(p) for p in candidate_files(config_file, env, cwd)}
    package = Path(__file__).parents[2]
    schema = {name: _digest(package / name) for name in _SCHEMA_SOURCES}
    variables = {
        k: v for k, v in env.items() if k.startswith(ENV_PREFIX) and k not in _NOT_CONFIG_ENV
    }
    inputs = {
        "format": FORMAT,
        "version": __version__,
        "config_file": None if config_file is None else str(config_file),
        "profile": profile,
        "cwd": str(cwd),
        "files": files,
        "schema": schema,
        "components": _components_listing(),
        "env": variables,
        "defaults_env": {name: env.get(name) for name in _DEFAULTS_ENV},
        "uid": os.getuid() if hasattr(os, "getuid") else None,
        "host_defaults": {k: v for k, (v, _) in host_defaults.items()},
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _components_listing() -> list[str]:
    # `storage.components` is checked against the component modules there are (listed, not
    # imported: the registry's import costs more than the whole cache saves). Imported by its
    # full name: `from llmspell.storage import` would ask the package's __getattr__ first.
    import llmspell.storage.components as components

    return sorted(os.listdir(components.__path__[0]))


def _read(path: Path, key: str) -> LoadedConfig | None:
    try:
        entry = next((e for e in _entries(path) if e["key"] == key), None)
        if entry is None or entry["digest"] != _content_digest(entry["config"]):
            return None  # absent, or damaged since it was written
        config = _decode(entry["config"])
        if not isinstance(config, LLMSpellConfigView):
            return None
        return LoadedConfig(
            config=cast("LLMSpellConfig", config),
            sources=dict(entry["sources"]),
            files=[Path(p) for p in entry["files"]],
            profile=entry["profile"],
        )
    except (ValueError, KeyError, TypeError):
        return None  # corrupt: validate again and rewrite it


def _content_digest(encoded: Any) -> str:
    return hashlib.sha256(json.dumps(encoded, sort_keys=True).encode()).hexdigest()


def _entries(path: Path) -> list[dict[str, Any]]:
    """The cached configs, most recent first ([] when the file is absent or not ours)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["entries"]
        if data["format"] != FORMAT or not isinstance(entries, list):
            return []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("key"), str)]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _write(path: Path, key: str, loaded: LoadedConfig) -> None:
    encoded = _encode(loaded.config)
    entry = {
        "key": key,
        "digest": _content_digest(encoded),
        "config": encoded,
        "sources": loaded.sources,
        "files": [str(p) for p in loaded.files],
        "profile": loaded.profile,
    }
    # a few configs (projects, profiles) are kept so that alternating between them stays fast
    kept = [e for e in _entries(path) if e["key"] != key][: MAX_ENTRIES - 1]
    data = {"format": FORMAT, "entries": [entry, *kept]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-cache-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only cache dir only costs the next start its speed


# --- the views ---------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    """Validated values as JSON, sections tagged with their model's name (`{"s": "RagConfig",
    "f": {...}}`) and plain tables as `{"d": {...}}`, so decoding knows which is which."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        fields = {name: _encode(getattr(value, name)) for name in type(value).model_fields}
        # what was set (not defaulted): rules such as "mock-only keys" look at it
        return {"s": type(value).__name__, "f": fields, "set": sorted(value.model_fields_set)}
    if isinstance(value, dict):
        return {"d": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "s" in value:
            view_class = _VIEWS.get(value["s"], ConfigView)
            values = {k: _decode(v) for k, v in value["f"].items()}
            return view_class(value["s"], values, frozenset(value["set"]))
        return {k: _decode(v) for k, v in value["d"].items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class ConfigView:
    """One validated config section read from the cache: its settings as read-only attributes.

    It stands in for the pydantic model: settings, `model_dump()` and the model's methods
    (`resolved_storage_path()`, `key_env`) answer without pydantic; anything else is answered
    by the model itself, built from these values on first need."""

    __slots__ = ("_model", "_section", "_set", "_values")

    def __init__(self, section: str, values: dict[str, Any], set_fields: frozenset[str]) -> None:
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_set", set_fields)
        object.__setattr__(self, "_model", None)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        return getattr(self._validated(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"the cached config is read-only: cannot set {self._section} {name!r}; "
            "change the config file or use with_overrides"
        )

    def __repr__(self) -> str:
        return f"{self._section}View({self._values!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConfigView):
            return self.model_dump() == other.model_dump()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable values inside, as pydantic models

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """The settings as plain data (the same in "python" and "json" mode: the cache holds
        only JSON values)."""
        if mode not in ("python", "json"):
            raise ValueError(f"model_dump: mode must be 'python' or 'json', got {mode!r}")
        return cast("dict[str, Any]", _plain(self._values))

    def _validated(self) -> Any:
        model = object.__getattribute__(self, "_model")
        if model is None:
            from llmspell.runtime.config import models

            model_class = getattr(models, self._section)
            model = model_class.model_validate(_given(self))
            object.__setattr__(self, "_model", model)
        return model


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigView):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _given(value: Any) -> Any:
    """What validating gave the model: the values that were set, not the defaults."""
    if isinstance(value, ConfigView):
        return {k: _given(v) for k, v in value._values.items() if k in value._set}
    if isinstance(value, dict):
        return {k: _given(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_given(v) for v in value]
    return value


class LLMSpellConfigView(ConfigView):
    """The whole cached config."""

    __slots__ = ()

    def resolved_storage_path(self) -> Path:
        return storage_path_of(cast("LLMSpellConfig", self))

    def resolved_pg_data_dir(self) -> Path:
        return pg_data_dir_of(cast("LLMSpellConfig", self))

    def resolved_history_file(self) -> Path:
        return history_file_of(cast("LLMSpellConfig", self))


class ProviderConfigView(ConfigView):
    """One cached `[providers.<name>]` section."""

    __slots__ = ()

    @property
    def key_env(self) -> str:
        return key_env_of(cast("ProviderConfig", self))


_VIEWS: dict[str, type[ConfigView]] = {
    "LLMSpellConfig": LLMSpellConfigView,
    "ProviderConfig": ProviderConfigView,
}
