"""What the vectors component stores and offers: the supported sizes, the records, search hits,
namespace summaries, settings and the `VectorStore` Protocol."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from llmspell.storage.vector_matrix import VectorFilter

SUPPORTED_DIMENSIONS = (128, 256, 384, 512, 768, 1024, 1536, 3072)


class VectorModelMismatch(ValueError):
    """A namespace holds vectors of another model or size than the one given."""


def check_dimension(dimension: int) -> int:
    """`dimension` if vectors of that size can be stored, else ValueError listing the sizes."""
    if dimension not in SUPPORTED_DIMENSIONS:
        raise ValueError(
            f"vectors of dimension {dimension} cannot be stored; supported dimensions: "
            f"{', '.join(map(str, SUPPORTED_DIMENSIONS))}"
        )
    return dimension


@dataclass(frozen=True)
class NewVector:
    """A vector to add. `id` defaults to a new UUID; adding an existing id replaces it."""

    embedding: Any  # a sequence of floats / numpy array of the namespace's dimension
    content: str = ""
    id: str | None = None
    document_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    event_time: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class VectorRecord:
    """A stored vector (`embedding` only when asked for)."""

    id: str
    namespace: str
    document_id: str | None
    content: str
    metadata: dict[str, Any]
    model: str
    created_at: datetime
    event_time: datetime | None
    expires_at: datetime | None
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class VectorHit:
    """A search result: the record and its cosine similarity to the query."""

    record: VectorRecord
    score: float


@dataclass(frozen=True)
class DocumentSummary:
    """The unexpired vectors of one document of a namespace: how many, how much text, when
    they were added, and the metadata of its first vector (by event time, then insertion)."""

    document_id: str
    vectors: int
    content_chars: int
    first_created_at: datetime
    last_created_at: datetime
    metadata: dict[str, Any]
    expires_at: datetime | None  # the earliest expiry among its vectors (None: never)


@dataclass(frozen=True)
class NamespaceInfo:
    """What a namespace holds: the model and size that wrote it, and its generation stamp."""

    namespace: str
    model: str
    dimension: int
    generation: str
    count: int
    created_at: datetime
    updated_at: datetime


class VectorStore(Protocol):
    """Embeddings with content and metadata, searched by cosine similarity per namespace."""

    def add(
        self,
        namespace: str,
        model: str,
        vectors: Sequence[NewVector],
        *,
        replace_documents: Collection[str] | None = None,
    ) -> list[str]:
        """Store `vectors` (all of one size) in `namespace`; returns their ids. The namespace's
        vectors of `replace_documents` are deleted in the same transaction."""
        ...

    def get(self, ids: Sequence[str], with_embeddings: bool = False) -> list[VectorRecord]:
        """The stored, unexpired vectors among `ids` (any namespace), in the order given."""
        ...

    def search(
        self,
        namespace: str,
        model: str,
        query: Any,
        k: int,
        where: VectorFilter | None = None,
    ) -> list[VectorHit]:
        """The `k` most similar unexpired vectors of `namespace` passing `where`, best first."""
        ...

    def similarity(
        self, namespace: str, model: str, query: Any, ids: Sequence[str]
    ) -> dict[str, float]:
        """Cosine similarity of `query` with each of `ids` found in `namespace`."""
        ...

    def keyword_search(
        self,
        namespace: str,
        terms: Sequence[str],
        k: int,
        where: VectorFilter | None = None,
        ids: Collection[str] | None = None,
    ) -> list[VectorHit]:
        """The `k` unexpired vectors of `namespace` (among `ids` when given) passing `where`
        whose content holds any of `terms` (words), best keyword relevance first (score > 0)."""
        ...

    def scan(
        self, namespace: str, where: VectorFilter | None = None, limit: int | None = None
    ) -> list[VectorRecord]:
        """Unexpired vectors of `namespace` passing `where`, oldest event (then insert) first."""
        ...

    def documents(
        self, namespace: str, document_ids: Collection[str] | None = None
    ) -> list[DocumentSummary]:
        """One summary per document of `namespace` (only `document_ids` when given), most
        recently added first."""
        ...

    def set_expiry(self, namespace: str, expires_at: datetime | None) -> int:
        """Give every vector of `namespace` this expiry (None: never); returns how many."""
        ...

    def count(self, namespace: str | None = None, where: VectorFilter | None = None) -> int:
        """How many unexpired vectors `namespace` (None: every namespace) holds."""
        ...

    def set_metadata(self, namespace: str, updates: Mapping[str, Mapping[str, Any]]) -> int:
        """Replace the metadata of vectors of `namespace` (id -> metadata); returns how many."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete vectors by id (any namespace); returns how many existed."""
        ...

    def delete_where(self, namespace: str | None, where: VectorFilter) -> int:
        """Delete the vectors of `namespace` (None: all) passing `where`; returns how many."""
        ...

    def delete_namespace(self, namespace: str) -> int:
        """Delete a whole namespace; returns how many vectors it held."""
        ...

    def namespace(self, namespace: str) -> NamespaceInfo | None:
        """What `namespace` holds, or None when it holds nothing."""
        ...

    def namespaces(self, prefix: str | None = None) -> list[NamespaceInfo]:
        """Every namespace (optionally only those starting with `prefix`), by name."""
        ...

    def sweep_expired(self) -> int:
        """Delete every expired vector of the tenant; returns how many."""
        ...

    def index_now(self) -> int:
        """Put every vector of the tenant still waiting outside the PostgreSQL HNSW index into
        it now (after a bulk load, before it is searched); returns how many still wait (rows
        other runtimes hold at the moment). Elsewhere search is exact and this returns 0."""
        ...


@dataclass(frozen=True)
class VectorSettings:
    """Search settings of the vectors component."""

    # PostgreSQL: the HNSW candidate list (`hnsw.ef_search`); higher = better recall, slower.
    hnsw_ef_search: int = 100
    # PostgreSQL: how many of a tenant's vectors of one size may wait outside the HNSW index
    # (searched exactly) before an add folds them in itself; 0 folds every add at once.
    hnsw_unindexed_max: int = 5_000
    # PostgreSQL: a thread of the store folds the tail after every add (and when a search
    # meets rows outside the index); closing the storage stops it and leaves the rest to the
    # next fold. False leaves the fold to the adds over `hnsw_unindexed_max` and to closing the
    # storage, which then folds what is left (a bulk load that wants the server's cores for
    # its inserts).
    hnsw_fold_in_background: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.hnsw_ef_search <= 1000:
            raise ValueError(f"hnsw_ef_search must be 1-1000, got {self.hnsw_ef_search}")
        limit = self.hnsw_unindexed_max
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 1_000_000:
            raise ValueError(f"hnsw_unindexed_max must be 0-1000000, got {limit!r}")
        if not isinstance(self.hnsw_fold_in_background, bool):
            raise ValueError(
                "hnsw_fold_in_background must be true or false, got "
                f"{self.hnsw_fold_in_background!r}"
            )
