"""llmspell: a Jupyter kernel and CLI for scripting LLM-centred work in Lua."""

__version__ = "0.1.0"

__all__ = ["__version__"]
