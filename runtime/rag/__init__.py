"""RAG: documents chunked by tokens, embedded and stored per scope, found again by hybrid search.
`RagManager` is the entry point (`infra.get(RagManager)`); `RAG` in scripts is its API."""

from llmspell.runtime.rag.chunking import Chunk, Chunker
from llmspell.runtime.rag.extract import FORMATS, Extracted, extract
from llmspell.runtime.rag.manager import (
    CHUNK_KEYS,
    Document,
    DocumentInfo,
    IngestReport,
    RagHit,
    RagManager,
    SessionCollection,
)
from llmspell.runtime.rag.scopes import GLOBAL_NAMESPACE, SESSION_SCOPE, Collection

__all__ = [
    "CHUNK_KEYS",
    "FORMATS",
    "GLOBAL_NAMESPACE",
    "SESSION_SCOPE",
    "Chunk",
    "Chunker",
    "Collection",
    "Document",
    "DocumentInfo",
    "Extracted",
    "IngestReport",
    "RagHit",
    "RagManager",
    "SessionCollection",
    "extract",
]
