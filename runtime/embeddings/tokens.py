"""The token counter: the bundled wordllama (Llama-family BPE) tokenizer, offline.

RAG chunking and Context budgets count with this one tokenizer whatever the embedding provider
is; for remote models it is a close estimate of their own count, never a download.

Long text is tokenized in slices (`host_limits.text_slices`; one call on megabytes would run for
seconds in the tokenizer's native code, where the script's limits cannot reach it, and hold
hundreds of bytes per token): between slices the script's limits are checked. A slice ends
before a space, which the next slice's start stands for (the tokenizer prefixes every text with
one), so the tokens are those of the whole text but for rare merges across a cut.
"""

from __future__ import annotations

import numpy as np

from llmspell.runtime.embeddings.local import wordllama_model
from llmspell.runtime.host_limits import UNLIMITED, HostLimits, text_slices


def count_tokens(text: str, limits: HostLimits = UNLIMITED, at_most: int | None = None) -> int:
    """How many tokens `text` is (no special tokens added). With `at_most`, counting may stop
    once the count is past it (any result above `at_most` means "too many")."""
    if not text:
        return 0
    tokenizer = wordllama_model(limits).tokenizer
    total = 0
    for _, piece in text_slices(text):
        limits.check_stop()
        total += len(tokenizer.encode(piece, add_special_tokens=False).ids)
        if at_most is not None and total > at_most:
            break
    return total


def token_spans(text: str, limits: HostLimits = UNLIMITED) -> np.ndarray:
    """The character span `(start, end)` of each token of `text`, in order, as an `(n, 2)`
    integer array (for chunking: 16 bytes a token, where tuples would take ten times that)."""
    if not text:
        return np.zeros((0, 2), dtype=np.int64)
    tokenizer = wordllama_model(limits).tokenizer
    parts = []
    for offset, piece in text_slices(text):
        limits.check_stop()
        offsets = tokenizer.encode(piece, add_special_tokens=False).offsets
        parts.append(np.asarray(offsets, dtype=np.int64).reshape(-1, 2) + offset)
    return np.concatenate(parts)
