"""`RagManager`: documents in (chunked, embedded, stored per scope), relevant chunks out.
(Over ~450 lines: ingest, search and deletes share the collection rules — ids, scopes, expiry,
the size cap — that splitting them would scatter.)

Chunks are vectors of their collection's namespace (see `scopes`): the document id is their
document id; the document's metadata plus the chunk's place (`chunk_index`, `chunk_count`,
`chunk_start`, `chunk_end` — character offsets — and `chunk_tokens`) is their metadata, so
filters are exact matches on the document's metadata. A chunk's id is derived from its
collection, document and position, and re-ingesting a document replaces its chunks in one
transaction. Search is `HybridSearch` over one collection: reciprocal-rank fusion of vector and
keyword rankings (or vector only), every score in [0, 1].
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import Disabled, InvalidArgument
from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.rag.chunking import Chunk, Chunker, check_window
from llmspell.runtime.rag.collections import COLLECTION_KEY, SessionCollections, ttl_of
from llmspell.runtime.rag.extract import extract, format_of
from llmspell.runtime.rag.records import (
    CHUNK_KEYS,
    Document,
    DocumentInfo,
    IngestReport,
    Progress,
    RagHit,
    SessionCollection,
    chunk_id,
    document_metadata,
)
from llmspell.runtime.rag.scopes import (
    GLOBAL_NAMESPACE,
    SESSION_SCOPE,
    Collection,
    collection,
    collection_of,
    namespace_prefix,
)
from llmspell.runtime.rag.temporal import document_times
from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.storage.components.vectors import NewVector, VectorFilter
from llmspell.storage.values import refuse_nul

if TYPE_CHECKING:
    from llmspell.runtime.config import RagConfig
    from llmspell.runtime.embeddings import Embedder
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.retrieval import HybridSearch
    from llmspell.runtime.retrieval.hybrid import SearchMode
    from llmspell.storage.components.kv import KVStore
    from llmspell.storage.components.vectors import VectorStore

MAX_DOCUMENT_ID_LEN = 256
MAX_K = 1000
# Chunks embedded and written per transaction during an ingest (progress is reported after each).
WRITE_BATCH_CHUNKS = 256


class RagManager:
    """Ingest, search and manage the RAG collections of one tenant."""

    def __init__(
        self,
        vectors: Callable[[], VectorStore],
        kv: Callable[[], KVStore],
        embedder: Embedder,
        search: HybridSearch,
        config: RagConfig,
        tenant_id: str,
        allowed_paths: Sequence[str],
        limits: HostLimits = UNLIMITED,
    ) -> None:
        self._vectors = vectors
        self._kv = kv
        self.embedder = embedder
        self._search = search
        self.config = config
        self.tenant_id = tenant_id
        self.allowed_paths = list(allowed_paths)
        self._limits = limits
        self._chunker = Chunker(embedder.count_tokens, embedder.token_spans, limits.check_stop)
        # RAG.configure's chunk window for this runtime (None: `[rag]`'s)
        self._chunk_size: int | None = None
        self._chunk_overlap: int | None = None
        self.sessions = SessionCollections(vectors, kv)

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> RagManager:
        if not infra.config.rag.enabled:
            raise Disabled("rag.enabled")
        from llmspell.runtime.embeddings import Embedder
        from llmspell.runtime.retrieval import HybridSearch

        return cls(
            lambda: infra.storage.vectors,
            lambda: infra.storage.kv,
            infra.get(Embedder),
            infra.get(HybridSearch),
            infra.config.rag,
            infra.tenant_id,
            infra.config.tools.allowed_paths,
            infra.limits,
        )

    # -- ingest ----------------------------------------------------------------------------

    def chunks(
        self, text: str, chunk_size: int | None = None, chunk_overlap: int | None = None
    ) -> list[Chunk]:
        """How `text` would be chunked (config defaults for what is not given)."""
        size, overlap = self._window(chunk_size, chunk_overlap)
        return self._chunker.chunks(text, size, overlap)

    def ingest(
        self,
        documents: Sequence[Document],
        *,
        scope: str | None = None,
        scope_id: str | None = None,
        tenant_id: str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        ttl_s: float | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Chunk, embed and store `documents` in the collection of (scope, scope_id); a
        document id already there has its chunks replaced. Nothing is stored unless every
        document is valid."""
        if tenant_id is not None and tenant_id != self.tenant_id:
            raise InvalidArgument(
                f"tenant_id {tenant_id!r} is not this runtime's tenant {self.tenant_id!r}; a "
                "runtime reads and writes only its own tenant's data"
            )
        target = collection(scope, scope_id)
        size, overlap = self._window(chunk_size, chunk_overlap)
        expires_at = self._expiry(target, ttl_s)
        checked = self._checked(documents)
        self._limits.check_size("the text to ingest", sum(len(doc.content) for doc in checked))
        planned = [(doc, self._chunker.chunks(doc.content, size, overlap)) for doc in checked]
        for doc, chunks in planned:
            if not chunks:
                raise InvalidArgument(f"document {doc.id!r}: content has no text to index")
        total = sum(len(chunks) for _, chunks in planned)
        self._check_room(target, {doc.id for doc in checked if doc.id is not None}, total)
        if total <= WRITE_BATCH_CHUNKS:
            progress = None
        done = 0
        batch: list[tuple[Document, list[Chunk]]] = []
        for item in planned:
            batch.append(item)
            if sum(len(chunks) for _, chunks in batch) >= WRITE_BATCH_CHUNKS:
                done += self._store(target.namespace, batch, expires_at)
                batch = []
                if progress is not None:
                    progress(done, total)
        if batch:
            done += self._store(target.namespace, batch, expires_at)
        if progress is not None:
            progress(done, total)
        return IngestReport(
            documents_processed=len(planned),
            chunks_created=total,
            vectors_created=total,
            total_tokens=sum(c.tokens for _, chunks in planned for c in chunks),
        )

    def ingest_file(
        self,
        path: str,
        *,
        document_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        format: str | None = None,
        allowed_paths: Sequence[str] | None = None,
        **options: Any,
    ) -> IngestReport:
        """Ingest one file inside `allowed_paths` (default `tools.allowed_paths`): text,
        markdown, HTML (visible text) or PDF (with pypdf). Its id defaults to its resolved
        path; its metadata gets `source`, `format` and, when found, `title` (and `pages`)."""
        resolved = resolve_allowed_path(
            path, self.allowed_paths if allowed_paths is None else allowed_paths
        )
        if not resolved.is_file():
            raise InvalidArgument(f"{path!r} is not a file")
        fmt = format_of(resolved, format)
        try:
            self._limits.check_size(f"file {path!r}", resolved.stat().st_size)
            data = resolved.read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"{path!r} cannot be read: {exc.strerror}") from None
        found = extract(data, fmt, repr(path))
        meta = {**found.metadata, "source": str(resolved), "format": fmt, **dict(metadata or {})}
        document = Document(found.text, document_id or str(resolved), meta)
        return self.ingest([document], **options)

    def set_chunk_window(self, chunk_size: int | None, chunk_overlap: int | None) -> None:
        """This runtime's default chunk window (None: keep the current one)."""
        size = self._chunk_size if chunk_size is None else chunk_size
        overlap = self._chunk_overlap if chunk_overlap is None else chunk_overlap
        self._window(size, overlap)
        self._chunk_size, self._chunk_overlap = size, overlap

    def chunk_window(self) -> tuple[int, int]:
        """The chunk size and overlap an ingest without its own uses."""
        return self._window(None, None)

    def _window(self, chunk_size: int | None, chunk_overlap: int | None) -> tuple[int, int]:
        chunk_size = self._chunk_size if chunk_size is None else chunk_size
        chunk_overlap = self._chunk_overlap if chunk_overlap is None else chunk_overlap
        size = self.config.chunk_size if chunk_size is None else chunk_size
        if chunk_overlap is None:
            # The configured overlap, at most a quarter of the window (a call may give a
            # smaller chunk_size than the configured overlap).
            check_window(size, 0)
            overlap = min(self.config.chunk_overlap, size // 4)
        else:
            overlap = chunk_overlap
        check_window(size, overlap)
        return size, overlap

    def _expiry(self, target: Collection, ttl_s: float | None) -> datetime | None:
        now = datetime.now(UTC)
        own = None if ttl_s is None else now + timedelta(seconds=ttl_of(ttl_s))
        if target.scope != SESSION_SCOPE or target.scope_id is None:
            return own
        session = self.sessions.get(target.scope_id)
        if session is None or session.expires_at is None:
            return own
        return session.expires_at if own is None else min(own, session.expires_at)

    def _check_room(self, target: Collection, replaced: set[str], adding: int) -> None:
        """Refuse an ingest that would take a session collection past its `max_vectors`."""
        if target.scope != SESSION_SCOPE or target.scope_id is None:
            return
        session = self.sessions.get(target.scope_id)
        if session is None or session.max_vectors is None:
            return
        kept = sum(
            s.vectors for s in self._vectors().documents(target.namespace)
            if s.document_id not in replaced
        )  # fmt: skip
        if kept + adding > session.max_vectors:
            raise InvalidArgument(
                f"session collection {target.scope_id!r} holds at most {session.max_vectors} "
                f"vectors (max_vectors); it has {kept} and this ingest adds {adding}"
            )

    def _checked(self, documents: Sequence[Document]) -> list[Document]:
        if not documents:
            raise InvalidArgument("no documents to ingest")
        checked: list[Document] = []
        seen: set[str] = set()
        for i, doc in enumerate(documents, start=1):
            if not isinstance(doc.content, str) or not doc.content.strip():
                raise InvalidArgument(f"document {i}: content must be a non-empty string")
            refuse_nul(f"document {i}: content", doc.content)
            doc_id = doc.id
            if doc_id is None:
                doc_id = "doc-" + hashlib.sha256(doc.content.encode("utf-8")).hexdigest()[:16]
            if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_DOCUMENT_ID_LEN:
                raise InvalidArgument(
                    f"document {i}: id must be a string of 1-{MAX_DOCUMENT_ID_LEN} characters"
                )
            if doc_id in seen:
                raise InvalidArgument(f"document id {doc_id!r} is given twice")
            seen.add(doc_id)
            refuse_nul(f"document {i}: id", doc_id)
            if not isinstance(doc.metadata, Mapping):
                raise InvalidArgument(f"document {doc_id!r}: metadata must be a table")
            refuse_nul(f"document {doc_id!r}: metadata", doc.metadata)
            document_times(f"document {doc_id!r}", doc.metadata)
            reserved = sorted(set(doc.metadata) & set(CHUNK_KEYS))
            if reserved:
                raise InvalidArgument(
                    f"document {doc_id!r}: metadata key {reserved[0]!r} is reserved for the "
                    f"chunk's place ({', '.join(CHUNK_KEYS)})"
                )
            checked.append(Document(doc.content, doc_id, dict(doc.metadata)))
        return checked

    def _store(
        self,
        namespace: str,
        batch: list[tuple[Document, list[Chunk]]],
        expires_at: datetime | None,
    ) -> int:
        texts = [chunk.text for _, chunks in batch for chunk in chunks]
        embeddings = self.embedder.embed(texts)
        now = datetime.now(UTC)
        vectors: list[NewVector] = []
        for doc, chunks in batch:
            assert doc.id is not None
            times = document_times(f"document {doc.id!r}", doc.metadata)
            event_time = times.event_time or now
            doc_expiry = times.expires_at(now, expires_at)
            for chunk in chunks:
                vectors.append(
                    NewVector(
                        embedding=embeddings[len(vectors)],
                        content=chunk.text,
                        id=chunk_id(namespace, doc.id, chunk.index),
                        document_id=doc.id,
                        metadata={
                            **doc.metadata,
                            "chunk_index": chunk.index,
                            "chunk_count": len(chunks),
                            "chunk_start": chunk.start,
                            "chunk_end": chunk.end,
                            "chunk_tokens": chunk.tokens,
                        },
                        event_time=event_time,
                        expires_at=doc_expiry,
                    )
                )
        self._vectors().add(
            namespace,
            self.embedder.model,
            vectors,
            replace_documents={doc.id for doc, _ in batch if doc.id is not None},
        )
        return len(vectors)

    # -- search ----------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        threshold: float | None = None,
        filters: Mapping[str, Any] | None = None,
        scope: str | None = None,
        scope_id: str | None = None,
        hybrid: bool = True,
        keyword_only: bool = False,
        rerank: bool = False,
    ) -> list[RagHit]:
        """The `k` chunks of one collection most relevant to `query`, best first. `hybrid`:
        reciprocal-rank fusion of vector and keyword rankings (score: the fused value over its
        best possible); else vector only (score: cosine). `threshold` drops lower scores;
        `filters` are exact matches on metadata. `keyword_only` ranks by keywords alone (for
        evaluation). `rerank`: the best `max(3 * k, 30)` are re-ranked by aligning the query's
        words with each chunk's (`runtime.retrieval.rerank`), as episodic search does."""
        if not isinstance(rerank, bool):
            raise InvalidArgument(f"rerank must be true or false, got {rerank!r}")
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgument("query must be a non-empty string")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidArgument(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if threshold is not None and not (
            isinstance(threshold, int | float) and not isinstance(threshold, bool)
            and 0.0 <= threshold <= 1.0
        ):  # fmt: skip
            raise InvalidArgument(f"threshold must be a number from 0 to 1, got {threshold!r}")
        if filters is not None and not isinstance(filters, Mapping):
            raise InvalidArgument(f"filters must be a table of metadata values, got {filters!r}")
        target = collection(scope, scope_id)
        where = VectorFilter(metadata=dict(filters)) if filters else None
        mode: SearchMode = "keyword" if keyword_only else "hybrid" if hybrid else "vector"
        minimum = None if threshold is None else float(threshold)
        hits = self._search.search(
            target.namespace,
            query,
            min(max(3 * k, 30), MAX_K) if rerank else k,
            where=where,
            mode=mode,
            min_score=None if rerank else minimum,
            fusion="rrf",
        )
        if rerank and hits:
            from llmspell.runtime.retrieval.rerank import rerank as rerank_scores

            scores = rerank_scores(
                query, [h.record.content for h in hits], [h.score for h in hits], self.embedder
            )
            order = sorted(range(len(hits)), key=lambda i: -scores[i])
            hits = [
                replace(hits[i], score=float(scores[i]))
                for i in order
                if minimum is None or scores[i] >= minimum
            ][:k]
        return [
            RagHit(
                id=hit.record.id,
                document_id=hit.record.document_id or "",
                content=hit.record.content,
                score=hit.score,
                metadata=dict(hit.record.metadata),
                vector_score=hit.vector_score,
                keyword_score=hit.keyword_score,
                created_at=hit.record.created_at,
                scope=target.scope,
                scope_id=target.scope_id,
            )
            for hit in hits
        ]

    # -- collections -----------------------------------------------------------------------

    def delete(
        self, document_id: str, scope: str | None = None, scope_id: str | None = None
    ) -> int:
        """Delete a document's chunks from one collection; how many."""
        if not isinstance(document_id, str) or not document_id:
            raise InvalidArgument("document_id must be a non-empty string")
        namespace = collection(scope, scope_id).namespace
        return self._vectors().delete_where(
            namespace, VectorFilter(document_ids=frozenset({document_id}))
        )

    def cleanup_scope(self, scope: str, scope_id: str) -> int:
        """Delete a scope's whole collection (and a session collection's lifetime); how many
        chunks went."""
        if scope is None or scope_id is None:
            raise InvalidArgument("cleanup_scope needs both scope and scope_id")
        target = collection(scope, scope_id)
        removed = self._vectors().delete_namespace(target.namespace)
        if target.scope == SESSION_SCOPE:
            self._kv().delete(target.namespace, COLLECTION_KEY)
        return removed

    def _namespaces(self, scope: str | None, scope_id: str | None) -> list[str]:
        """The collections a listing covers: one, or every one of a scope."""
        if scope is not None and scope_id is None and scope != GLOBAL_NAMESPACE:
            store = self._vectors()
            return [info.namespace for info in store.namespaces(namespace_prefix(scope))]
        return [collection(scope, scope_id).namespace]

    def list_documents(
        self, scope: str | None = None, scope_id: str | None = None, limit: int | None = None
    ) -> list[DocumentInfo]:
        """The documents of a collection (or of every collection of `scope` when no scope_id
        is given), most recently ingested first."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
        found: list[DocumentInfo] = []
        for namespace in self._namespaces(scope, scope_id):
            owner = collection_of(namespace) or Collection(None, None)
            for summary in self._vectors().documents(namespace):
                found.append(
                    DocumentInfo(
                        document_id=summary.document_id,
                        chunks=summary.vectors,
                        metadata=document_metadata(summary.metadata),
                        ingested_at=summary.last_created_at,
                        expires_at=summary.expires_at,
                        scope=owner.scope,
                        scope_id=owner.scope_id,
                    )
                )
        found.sort(key=lambda d: (-d.ingested_at.timestamp(), d.document_id))
        return found if limit is None else found[:limit]

    def stats(self, scope: str | None = None, scope_id: str | None = None) -> dict[str, Any]:
        """`{documents, chunks, vectors, dimensions, storage_bytes, embedding_model,
        collections}` of a collection (or every collection of `scope`). `storage_bytes`:
        the chunks' text plus their float32 embeddings."""
        store = self._vectors()
        documents = chunks = chars = embedding_bytes = 0
        namespaces = self._namespaces(scope, scope_id)
        models: set[str] = set()
        dimensions: set[int] = set()
        held = 0
        for namespace in namespaces:
            info = store.namespace(namespace)
            if info is None:
                continue
            summaries = store.documents(namespace)
            held += 1
            documents += len(summaries)
            count = sum(s.vectors for s in summaries)
            chunks += count
            chars += sum(s.content_chars for s in summaries)
            embedding_bytes += count * info.dimension * 4
            models.add(info.model)
            dimensions.add(info.dimension)
        return {
            "documents": documents,
            "chunks": chunks,
            "vectors": chunks,
            "dimensions": dimensions.pop() if len(dimensions) == 1 else self.embedder.dimension,
            "storage_bytes": chars + embedding_bytes,
            "embedding_model": models.pop() if len(models) == 1 else self.embedder.model,
            "collections": held,
        }

    def close(self) -> None:
        self.sessions.close()

    def list_providers(self) -> list[dict[str, Any]]:
        """The embedding providers this runtime can use, and which one it uses."""
        from dataclasses import asdict

        from llmspell.runtime.embeddings.catalog import PROVIDERS

        active = self.embedder.provider.name
        rows = [
            {key: value for key, value in asdict(entry).items() if key != "base_url"}
            for entry in PROVIDERS.values()
        ]
        for row in rows:
            row["active"] = row["name"] == active
            row["model"] = self.embedder.model if row["active"] else None
        return rows


__all__ = [
    "CHUNK_KEYS",
    "GLOBAL_NAMESPACE",
    "Document",
    "DocumentInfo",
    "IngestReport",
    "Progress",
    "RagHit",
    "RagManager",
    "SessionCollection",
    "chunk_id",
    "document_metadata",
]
