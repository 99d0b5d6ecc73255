"""`local`: the wordllama model shipped inside its PyPI wheel (256-d, offline, numpy only).

The model loads once per process, lazily, from the wheel's own folder with downloads disabled
(wordllama's default lookup misses the bundled tokenizer and would try the network).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

# model name -> dimension it is truncated to (wordllama's weights are matryoshka-trained).
LOCAL_MODELS = {"wordllama-l2_supercat-256": 256, "wordllama-l2_supercat-128": 128}
DEFAULT_LOCAL_MODEL = "wordllama-l2_supercat-256"

_lock = threading.Lock()
_loaded: Any = None


def wordllama_model() -> Any:
    """The process's one wordllama model (full 256-d), loaded on first use."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                import wordllama
                from wordllama import WordLlama

                _loaded = WordLlama.load(
                    cache_dir=Path(wordllama.__file__).parent, disable_download=True
                )
    return _loaded


class WordLlamaProvider:
    """Embeddings from the bundled wordllama model (average of static token embeddings)."""

    name = "local"

    def __init__(self, model: str = "") -> None:
        model = model or DEFAULT_LOCAL_MODEL
        if model not in LOCAL_MODELS:
            raise ValueError(
                f"embeddings.model {model!r} is not a local model; allowed: "
                f"{', '.join(LOCAL_MODELS)}"
            )
        self._model = model
        self._dimension = LOCAL_MODELS[model]

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        vectors = wordllama_model().embed(texts, norm=False, batch_size=max(1, len(texts)))
        return np.asarray(vectors, dtype=np.float32)[:, : self._dimension]
