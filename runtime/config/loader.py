"""Loading: layered defaults < profile < files < environment < flags, validated by the models.

`load_config` is the one entry point. It returns a `LoadedConfig` that carries the validated
`LLMSpellConfig` and, for `llmspell config show`, the source of every value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.runtime.config.errors import ConfigError
from llmspell.runtime.config.redaction import redact
from llmspell.runtime.config.sources import (
    describe_source,
    discover_files,
    env_layer,
    error_source,
    merge,
    nest,
    read_toml,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

    from llmspell.runtime.config.models import LLMSpellConfig

PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "memory": {"storage": {"backend": "memory"}},
    "postgres": {"storage": {"backend": "postgres", "auto_upgrade": False}},
    "embedded-postgres": {"storage": {"backend": "postgres", "postgres": {"embedded": True}}},
}


def known_profiles() -> Sequence[str]:
    """The names `--profile` and `LLMSPELL_PROFILE` accept, sorted."""
    return sorted(PROFILES)


class LoadedConfig:
    """A validated config plus where each value came from.

    A plain class, not a dataclass: a start makes none, so `llmspell exec` does without
    `dataclasses` and the `inspect` it imports (with `ast` and `dis`, ~4 ms)."""

    def __init__(
        self,
        config: LLMSpellConfig,
        sources: dict[str, str] | None = None,
        files: list[Path] | None = None,
        profile: str | None = None,
    ) -> None:
        self.config = config
        self.sources: dict[str, str] = {} if sources is None else sources
        self.files: list[Path] = [] if files is None else files
        self.profile = profile

    def __repr__(self) -> str:
        return (
            f"LoadedConfig(config={self.config!r}, sources={self.sources!r}, "
            f"files={self.files!r}, profile={self.profile!r})"
        )

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

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
                f"{where}unknown profile {profile!r}; allowed: {', '.join(known_profiles())}"
            )
        layers.append((f"profile {profile}", PROFILES[profile]))

    files = discover_files(config_file, env, Path(cwd) if cwd else Path.cwd())
    for path in files:
        layers.append((str(path), read_toml(path)))

    from_env = env_layer(env)
    if from_env:
        layers.append(("env", from_env))
    if overrides:
        layers.append(("flag", nest({k: v for k, v in overrides.items() if v is not None})))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, data in layers:
        merge(merged, data, source, sources)
    return LoadedConfig(
        config=_validated(merged, sources), sources=sources, files=files, profile=profile
    )


def validate_file(path: str | os.PathLike[str]) -> LLMSpellConfig:
    """Validate one TOML file on its own (no discovery, no environment)."""
    data = read_toml(Path(path))
    sources: dict[str, str] = {}
    merge({}, data, str(path), sources)
    return _validated(data, sources)


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
    merge(data, nest(dict(overrides)), "flag", sources)
    return _validated(data, sources)


def _validated(data: Mapping[str, Any], sources: Mapping[str, str]) -> LLMSpellConfig:
    # pydantic loads here, on first validation: a start from the config cache does without it.
    from pydantic import ValidationError

    from llmspell.runtime.config.models import LLMSpellConfig

    try:
        return LLMSpellConfig.model_validate(data)
    except ValidationError as exc:
        # every message names the variable, file or flag the bad value came from
        raise ConfigError(_explain(exc, sources)) from None


def _explain(exc: ValidationError, sources: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err["loc"])
        if not dotted:  # a rule across sections: its message names the keys
            lines.append(str(err["msg"]).removeprefix("Value error, "))
            continue
        where = describe_source(error_source(dotted, sources), dotted)
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


def _allowed_keys(parent: str) -> list[str]:
    from pydantic import BaseModel

    from llmspell.runtime.config.models import LLMSpellConfig

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
