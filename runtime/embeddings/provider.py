"""The interface every embedding provider implements (local model, HTTP server, hashing)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class EmbeddingProvider(Protocol):
    """Turns texts into vectors of one model.

    `model` names the model (stored with every vector, so a namespace never mixes models);
    `dimension` is the length of its vectors. `embed_batch` returns a `(len(texts), dimension)`
    float32 array, not necessarily normalised (the `Embedder` normalises).
    """

    @property
    def name(self) -> str:
        """The provider's config name: `local`, `openai`, `ollama` or `hash`."""
        ...

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_batch(self, texts: list[str]) -> np.ndarray: ...
