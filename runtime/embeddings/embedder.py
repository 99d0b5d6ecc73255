"""`Embedder`: the configured provider with batching, a content-hash cache and normalisation."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from llmspell.runtime.embeddings.provider import EmbeddingProvider
from llmspell.runtime.embeddings.tokens import count_tokens, token_spans
from llmspell.runtime.errors import InvalidArgument, ServiceError
from llmspell.runtime.host_limits import UNLIMITED, HostLimits

if TYPE_CHECKING:
    from llmspell.runtime.config import EmbeddingsConfig
    from llmspell.runtime.infrastructure import Infrastructure


def build_provider(config: EmbeddingsConfig, limits: HostLimits = UNLIMITED) -> EmbeddingProvider:
    """The provider `[embeddings]` names (nothing is loaded or contacted yet); a script waiting
    for it stops at its `limits`."""
    if config.provider == "local":
        from llmspell.runtime.embeddings.local import WordLlamaProvider

        if config.dimensions:
            raise ValueError(
                "embeddings.dimensions applies to openai/ollama servers; the local model's "
                "size is chosen by embeddings.model"
            )
        return WordLlamaProvider(config.model, limits)
    if config.provider == "hash":
        from llmspell.runtime.embeddings.hashing import DEFAULT_HASH_DIMENSION, HashProvider

        return HashProvider(config.model, config.dimensions or DEFAULT_HASH_DIMENSION)
    from llmspell.runtime.embeddings.openai import OpenAIEmbeddingProvider

    return OpenAIEmbeddingProvider(
        config.provider,
        model=config.model,
        base_url=config.base_url,
        api_key_env=config.api_key_env,
        dimensions=config.dimensions,
        timeout_s=config.timeout_s,
        limits=limits,
    )


class Embedder:
    """Embeds texts with one provider: L2-normalised float32 rows, in batches of `batch_size`,
    each distinct text computed once while it stays in the cache (keyed by its SHA-256).
    Between batches, and within long texts, it checks the limits of the script it works for."""

    def __init__(
        self,
        provider: EmbeddingProvider,
        *,
        batch_size: int = 64,
        cache_size: int = 4096,
        limits: HostLimits = UNLIMITED,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.provider = provider
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.provider_calls = 0  # how many batches went to the provider (tests, stats)
        self.limits = limits

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> Embedder:
        config = infra.config.embeddings
        return cls(
            build_provider(config, infra.limits),
            batch_size=config.batch_size,
            cache_size=config.cache_size,
            limits=infra.limits,
        )

    @property
    def model(self) -> str:
        """The model name stored with every vector this embedder makes."""
        return self.provider.model

    @property
    def dimension(self) -> int:
        return self.provider.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A `(len(texts), dimension)` float32 array of unit vectors (zero for empty text)."""
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidArgument(f"text {i + 1} to embed must be a string, got {text!r}")
        keys = [hashlib.sha256(text.encode("utf-8")).digest() for text in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for key in keys:
                vector = self._cache.get(key)
                if vector is not None:
                    self._cache.move_to_end(key)
                    found[key] = vector
        missing = list(
            {key: text for key, text in zip(keys, texts, strict=True) if key not in found}.items()
        )
        for start in range(0, len(missing), self.batch_size):
            self.limits.check_stop()
            batch = missing[start : start + self.batch_size]
            vectors = self._normalised(self.provider.embed_batch([text for _, text in batch]))
            self.provider_calls += 1
            with self._lock:
                for (key, _), vector in zip(batch, vectors, strict=True):
                    found[key] = vector
                    self._cache[key] = vector
                    if len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        stacked: np.ndarray = np.stack([found[key] for key in keys])
        return stacked

    def embed_one(self, text: str) -> np.ndarray:
        """One unit vector."""
        vector: np.ndarray = self.embed([text])[0]
        return vector

    def _normalised(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise ServiceError(f"embedding model {self.model!r} returned non-finite values")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        vectors.setflags(write=False)
        return vectors

    def count_tokens(self, text: str, at_most: int | None = None) -> int:
        """Tokens in `text` by the bundled tokenizer (see `llmspell.runtime.embeddings.tokens`);
        with `at_most`, any count above it may stand for a larger one."""
        return count_tokens(text, self.limits, at_most)

    def token_spans(self, text: str) -> np.ndarray:
        """Character span of each token of `text`, an `(n, 2)` array."""
        return token_spans(text, self.limits)

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if close is not None:
            close()
