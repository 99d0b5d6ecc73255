"""Embeddings: text to vectors behind one provider interface, plus the real token counter.

`Embedder` is what the rest of the runtime uses (`infra.get(Embedder)`): the configured provider
(`local` wordllama, `openai`-compatible servers, `hash` for tests; `catalog.py` lists them) with
batching, a content-hash cache and L2-normalised float32 output. `count_tokens` / `token_spans`
count with the bundled wordllama tokenizer (offline; nothing downloads).

The names below load on first use, so that config validation can read `catalog` without numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.embeddings.embedder import Embedder, build_provider
    from llmspell.runtime.embeddings.provider import EmbeddingProvider
    from llmspell.runtime.embeddings.tokens import count_tokens, token_spans

# name -> the module of this package that defines it
_HOME = {
    "Embedder": "embedder",
    "build_provider": "embedder",
    "EmbeddingProvider": "provider",
    "count_tokens": "tokens",
    "token_spans": "tokens",
}

__all__ = ["Embedder", "EmbeddingProvider", "build_provider", "count_tokens", "token_spans"]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'llmspell.runtime.embeddings' has no attribute {name!r}")
    value = getattr(import_module(f"llmspell.runtime.embeddings.{home}"), name)
    globals()[name] = value
    return value
