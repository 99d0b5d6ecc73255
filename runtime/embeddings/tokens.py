"""The token counter: the bundled wordllama (Llama-family BPE) tokenizer, offline.

RAG chunking and Context budgets count with this one tokenizer whatever the embedding provider
is; for remote models it is a close estimate of their own count, never a download.
"""

from __future__ import annotations

from llmspell.runtime.embeddings.local import wordllama_model


def count_tokens(text: str) -> int:
    """How many tokens `text` is (no special tokens added)."""
    if not text:
        return 0
    return len(wordllama_model().tokenizer.encode(text, add_special_tokens=False).ids)


def token_spans(text: str) -> list[tuple[int, int]]:
    """The character span `(start, end)` of each token of `text`, in order (for chunking)."""
    if not text:
        return []
    encoding = wordllama_model().tokenizer.encode(text, add_special_tokens=False)
    return [(int(start), int(end)) for start, end in encoding.offsets]
