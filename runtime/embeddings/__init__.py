"""Embeddings: text to vectors behind one provider interface, plus the real token counter.

`Embedder` is what the rest of the runtime uses (`infra.get(Embedder)`): the configured provider
(`local` wordllama, `openai`-compatible servers, `hash` for tests) with batching, a content-hash
cache and L2-normalised float32 output. `count_tokens` / `token_spans` count with the bundled
wordllama tokenizer (offline; nothing downloads).
"""

from llmspell.runtime.embeddings.embedder import Embedder, build_provider
from llmspell.runtime.embeddings.provider import EmbeddingProvider
from llmspell.runtime.embeddings.tokens import count_tokens, token_spans

__all__ = ["Embedder", "EmbeddingProvider", "build_provider", "count_tokens", "token_spans"]
