"""What RAG takes and gives: documents to ingest, ingest reports, search hits, document and
session-collection records, and the ids and metadata of chunks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CHUNK_KEYS = ("chunk_index", "chunk_count", "chunk_start", "chunk_end", "chunk_tokens")
_CHUNK_IDS = uuid.UUID("5b0f4d52-7a1e-4c55-9b0e-2f1c6a1b7e11")

# progress(chunks_done, chunks_total): called after each batch of an ingest that needs more
# than one batch (smaller ones finish before a progress display would help).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Document:
    """A document to ingest: its text, id (default: from its content) and metadata."""

    content: str
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestReport:
    documents_processed: int
    chunks_created: int
    vectors_created: int
    total_tokens: int


@dataclass(frozen=True)
class RagHit:
    """A chunk found by a search: `score` in [0, 1]; the raw signals beside it."""

    id: str
    document_id: str
    content: str
    score: float
    metadata: dict[str, Any]
    vector_score: float
    keyword_score: float
    created_at: datetime
    scope: str | None
    scope_id: str | None


@dataclass(frozen=True)
class DocumentInfo:
    document_id: str
    chunks: int
    metadata: dict[str, Any]
    ingested_at: datetime
    expires_at: datetime | None
    scope: str | None
    scope_id: str | None


@dataclass(frozen=True)
class SessionCollection:
    session_id: str
    ttl_s: float | None
    expires_at: datetime | None
    max_vectors: int | None = None
    created: bool = True  # False: the collection was there and got these settings


def chunk_id(namespace: str, document_id: str, index: int) -> str:
    """The id of a document's `index`-th chunk in a namespace (stable across re-ingests)."""
    return str(uuid.uuid5(_CHUNK_IDS, f"{namespace}\x00{document_id}\x00{index}"))


def document_metadata(chunk_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A chunk's metadata without the chunk's own keys: the document's metadata."""
    return {k: v for k, v in chunk_metadata.items() if k not in CHUNK_KEYS}
