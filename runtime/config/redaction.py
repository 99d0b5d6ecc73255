"""Keeping secrets out of what config commands and errors show: masked secret-looking keys,
passwords inside connection strings, and the environment variables that hold keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmspell.runtime.config.paths import DEFAULT_KEY_ENV
from llmspell.storage.redaction import MASK, redact_secrets

if TYPE_CHECKING:
    from llmspell.runtime.config.models import LLMSpellConfig

SECRET_MARKERS = ("api_key", "password", "secret", "token")


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


def redacted_view(config: LLMSpellConfig) -> dict[str, Any]:
    """`config_to_flat` with every secret hidden."""
    return {k: redact(k, v) for k, v in config_to_flat(config).items()}


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
