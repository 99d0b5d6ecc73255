"""Where config values come from: the files discovery finds, `LLMSPELL_*` variables and flags,
merged layer over layer with the source of every key kept, and how a source is described to a
user (`llmspell config show`, error messages)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.runtime.config.errors import ConfigError
from llmspell.runtime.config.paths import RESOLVED_PATHS, user_config_file
from llmspell.runtime.config.redaction import redacted_view

if TYPE_CHECKING:
    from llmspell.runtime.config.loader import LoadedConfig

ENV_PREFIX = "LLMSPELL_"
# Variables that steer loading itself (or tests) rather than naming a config key.
RESERVED_ENV = {
    "LLMSPELL_CONFIG",
    "LLMSPELL_PROFILE",
    "LLMSPELL_MASTER_KEY",
    "LLMSPELL_TEST_PG_URL",
}


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


def discover_files(
    config_file: str | os.PathLike[str] | None, env: Mapping[str, str], cwd: Path
) -> list[Path]:
    """The config files that exist, in layering order; a missing explicit file is an error."""
    candidates = candidate_files(config_file, env, cwd)
    if config_file or env.get("LLMSPELL_CONFIG"):
        if not candidates[0].is_file():
            raise ConfigError(f"config file {str(candidates[0])!r} does not exist")
        return candidates
    return [p for p in candidates if p.is_file()]


def read_toml(path: Path) -> dict[str, Any]:
    """One config file's tables; a file that cannot be read or parsed is a ConfigError."""
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


def env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    """The config keys `LLMSPELL_<SECTION>__<KEY>` variables set, as nested tables."""
    from llmspell.runtime.config.models import LLMSpellConfig

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
    return nest(flat)


def _parse_env_value(raw: str) -> Any:
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested tables (`{"a.b": 1}` → `{"a": {"b": 1}}`)."""
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


def merge(
    target: dict[str, Any],
    data: Mapping[str, Any],
    source: str,
    sources: dict[str, str],
    prefix: str = "",
) -> None:
    """Layer `data` over `target`, recording `source` for every dotted key it sets."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(target.get(key, {}), dict):
            node = target.setdefault(key, {})
            if not value:
                sources.setdefault(dotted, source)
            merge(node, value, source, sources, prefix=f"{dotted}.")
        else:
            target[key] = value
            sources[dotted] = source


def source_of_key(dotted: str, sources: Mapping[str, str]) -> str:
    """The layer that set `dotted` or its nearest enclosing section ("default": none did)."""
    parts = dotted.split(".")
    while parts:
        key = ".".join(parts)
        if key in sources:
            return sources[key]
        parts.pop()
    return "default"


def error_source(dotted: str, sources: Mapping[str, str]) -> str:
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


def describe_source(source: str, dotted: str) -> str:
    """A layer's name as a user reads it ("environment variable LLMSPELL_RAG__CHUNK_SIZE")."""
    if source == "env":
        return f"environment variable {ENV_PREFIX}{dotted.upper().replace('.', '__')}"
    if source == "flag":
        return "command-line flag"
    if source.startswith("profile "):
        return source
    if source == "default":
        return "built-in default"
    return f"config file {source}"


def describe_sources(
    loaded: LoadedConfig, host_defaults: Mapping[str, tuple[Any, str]] | None = None
) -> list[tuple[str, Any, str]]:
    """Rows of (dotted key, effective redacted value, source) for `llmspell config show`.

    An empty path shows the file it resolves to; `host_defaults` (key → (value, description))
    are what the calling host uses for keys no layer set (the CLI's run time limit)."""
    host_defaults = host_defaults or {}
    rows = []
    for dotted, value in redacted_view(loaded.config).items():
        source = describe_source(source_of_key(dotted, loaded.sources), dotted)
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
