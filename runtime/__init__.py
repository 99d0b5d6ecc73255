"""The runtime: config, Infrastructure, ScriptRuntime, engines and the script globals."""

from llmspell.runtime.config import ConfigError, LLMSpellConfig, LoadedConfig, load_config
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.results import ExecutionResult, ScriptError
from llmspell.runtime.script_runtime import ScriptRuntime

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
