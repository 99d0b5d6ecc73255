"""Storage components: one SQL implementation per component Protocol, for every backend."""

from llmspell.storage.components.kv import SqlKVStore

__all__ = ["SqlKVStore"]
