"""`hash`: deterministic feature-hashing "embeddings" for tests (never a default).

Each lower-cased word adds +1/-1 at a position chosen by its BLAKE2 hash, so equal texts get
equal vectors and shared words raise similarity; nothing is learned, nothing is loaded.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

WORD = re.compile(r"\w+", re.UNICODE)
DEFAULT_HASH_DIMENSION = 256


class HashProvider:
    """Bag-of-words vectors by feature hashing."""

    name = "hash"

    def __init__(self, model: str = "", dimension: int = DEFAULT_HASH_DIMENSION) -> None:
        self._dimension = dimension
        self._model = model or f"hash-{dimension}"

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dimension] += 1.0 if value >> 63 else -1.0
        return out
