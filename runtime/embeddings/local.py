"""`local`: the wordllama model shipped inside its PyPI wheel (256-d, offline, numpy only).

The model loads once per process, lazily, from the wheel's own folder with downloads disabled
(wordllama's default lookup misses the bundled tokenizer and would try the network); a script
that waits for the load can be stopped meanwhile. A text's vector is the average of its tokens'
vectors, as wordllama computes it, but summed slice by slice (`host_limits.text_slices`):
wordllama's own `embed` pads a batch to its longest text and holds every token's vector at
once, gigabytes for a text of megabytes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from llmspell.runtime.embeddings.catalog import DEFAULT_LOCAL_MODEL, LOCAL_MODELS
from llmspell.runtime.host_limits import UNLIMITED, HostLimits, slice_groups

BATCH_CHARS = 256 * 1024  # text tokenized in one call (the tokenizer works on it in parallel)


_lock = threading.Lock()
_loaded: Any = None


def wordllama_model(limits: HostLimits = UNLIMITED) -> Any:
    """The process's one wordllama model (full 256-d), loaded on first use (a script waiting
    for the load stops at an interrupt or its time limit; the load goes on for the next
    caller)."""
    model = _loaded
    if model is None:
        model = limits.wait(_load, "loading the wordllama model")
    return model


def _load() -> Any:
    global _loaded
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

    def __init__(self, model: str = "", limits: HostLimits = UNLIMITED) -> None:
        model = model or DEFAULT_LOCAL_MODEL
        if model not in LOCAL_MODELS:
            raise ValueError(
                f"embeddings.model {model!r} is not a local model; allowed: "
                f"{', '.join(LOCAL_MODELS)}"
            )
        self._model = model
        self._dimension = LOCAL_MODELS[model]
        self._limits = limits

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        model = wordllama_model(self._limits)
        table = model.embedding[:, : self._dimension]
        sums = np.zeros((len(texts), self._dimension), dtype=np.float32)
        counts = np.zeros(len(texts), dtype=np.float32)
        for group in slice_groups(texts, BATCH_CHARS):
            self._limits.check_stop()
            encodings = model.tokenizer.encode_batch(
                [piece for _, piece in group], add_special_tokens=False
            )
            for (row, _), encoding in zip(group, encodings, strict=True):
                ids = np.asarray(encoding.ids, dtype=np.int64)
                ids = ids[np.asarray(encoding.attention_mask, dtype=bool)]  # without padding
                np.clip(ids, 0, len(table) - 1, out=ids)
                sums[row] += table[ids].sum(axis=0, dtype=np.float32)
                counts[row] += len(ids)
        return sums / np.maximum(counts, 1.0)[:, None]
