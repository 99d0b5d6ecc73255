"""The runtime: config, Infrastructure, ScriptRuntime, engines and the script globals.

The names below are imported on first use, so that importing one light module of the package
(`llmspell.runtime.results`, as the kernel does before it answers `kernel_info`) does not also
build the pydantic config models and the script globals.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.config import ConfigError, LLMSpellConfig, LoadedConfig, load_config
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.results import ExecutionResult, ScriptError
    from llmspell.runtime.script_runtime import ScriptRuntime

# name -> the module that defines it
_HOME = {
    "ConfigError": "config",
    "LLMSpellConfig": "config",
    "LoadedConfig": "config",
    "load_config": "config",
    "Infrastructure": "infrastructure",
    "ExecutionResult": "results",
    "ScriptError": "results",
    "ScriptRuntime": "script_runtime",
}

__all__ = [
    "ConfigError",
    "ExecutionResult",
    "Infrastructure",
    "LLMSpellConfig",
    "LoadedConfig",
    "ScriptError",
    "ScriptRuntime",
    "load_config",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'llmspell.runtime' has no attribute {name!r}")
    value = getattr(import_module(f"llmspell.runtime.{home}"), name)
    globals()[name] = value
    return value
