"""`HybridSearch`: the query's embedding and its keywords against one namespace, fused.

Vector side: the vectors store's search (exact on SQLite, HNSW on PostgreSQL) for the best
`candidates`. Keyword side: BM25 over the namespace's content, from a `KeywordIndex` kept per
namespace and rebuilt only when the namespace's generation changes. Each candidate of either
side gets both scores (its cosine from the store, its BM25 from the index); `fuse_convex` turns
them into one score in [0, 1]. Filters (`VectorFilter`) apply to both sides.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np

from llmspell.runtime.embeddings import Embedder
from llmspell.runtime.retrieval.fusion import fuse_convex, fuse_reciprocal_rank
from llmspell.runtime.retrieval.keyword import KeywordIndex, query_coverage

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.vectors import VectorFilter, VectorRecord, VectorStore

SearchMode = Literal["hybrid", "vector", "keyword"]
SEARCH_MODES = ("hybrid", "vector", "keyword")
Fusion = Literal["convex", "rrf"]
DEFAULT_VECTOR_WEIGHT = 0.5
MIN_CANDIDATES = 50


@dataclass(frozen=True)
class RetrievalHit:
    """A search result: the stored vector, its score in [0, 1], and the two raw signals."""

    record: VectorRecord
    score: float
    vector_score: float  # cosine similarity (-1..1)
    keyword_score: float  # BM25 (>= 0)


@dataclass
class _Corpus:
    generation: str
    records: list[VectorRecord]
    position: dict[str, int]
    index: KeywordIndex


class HybridSearch:
    """Vector, keyword or hybrid search over namespaces of the vectors store."""

    def __init__(
        self,
        vectors: Callable[[], VectorStore],
        embedder: Embedder,
        *,
        vector_weight: float = DEFAULT_VECTOR_WEIGHT,
        fusion: Fusion = "convex",
    ) -> None:
        if not 0.0 <= vector_weight <= 1.0:
            raise ValueError(f"vector_weight must be between 0 and 1, got {vector_weight}")
        self._vectors = vectors
        self.embedder = embedder
        self.vector_weight = vector_weight
        self.fusion = fusion
        self._corpora: dict[str, _Corpus] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> HybridSearch:
        return cls(
            lambda: infra.storage.vectors,
            infra.get(Embedder),
            vector_weight=infra.config.memory.vector_weight,
        )

    def keyword_corpus(self, namespace: str) -> _Corpus | None:
        """The namespace's records and BM25 index at its current generation (None: empty)."""
        store = self._vectors()
        info = store.namespace(namespace)
        if info is None:
            with self._lock:
                self._corpora.pop(namespace, None)
            return None
        with self._lock:
            corpus = self._corpora.get(namespace)
            if corpus is not None and corpus.generation == info.generation:
                return corpus
        records = store.scan(namespace)
        corpus = _Corpus(
            generation=info.generation,
            records=records,
            position={r.id: i for i, r in enumerate(records)},
            index=KeywordIndex([r.content for r in records]),
        )
        with self._lock:
            self._corpora[namespace] = corpus
        return corpus

    def search(
        self,
        namespace: str,
        query: str,
        k: int = 10,
        *,
        where: VectorFilter | None = None,
        mode: SearchMode = "hybrid",
        min_score: float | None = None,
        vector_weight: float | None = None,
    ) -> list[RetrievalHit]:
        """The `k` best unexpired vectors of `namespace` for `query`, best first.

        `mode`: `hybrid` (fused, the default), `vector` (score = cosine clipped to [0, 1]) or
        `keyword` (score = BM25 divided by the best candidate's). `min_score` drops results
        scoring below it. Raises `VectorModelMismatch` when the namespace was written by another
        embedding model than this runtime's.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        weight = self.vector_weight if vector_weight is None else vector_weight
        if k == 0:
            return []
        pool = max(4 * k, MIN_CANDIDATES)
        store = self._vectors()
        vector_scores: dict[str, float] = {}
        records: dict[str, VectorRecord] = {}
        query_vector = None
        if mode != "keyword":
            query_vector = self.embedder.embed_one(query)
            for hit in store.search(namespace, self.embedder.model, query_vector, pool, where):
                vector_scores[hit.record.id] = hit.score
                records[hit.record.id] = hit.record
        keyword_scores: dict[str, float] = {}
        if mode != "vector":
            corpus = self.keyword_corpus(namespace)
            if corpus is not None:
                bm25_all = corpus.index.scores(query)
                keyword_scores = self._keyword_candidates(corpus, bm25_all, pool, where)
                for vid in keyword_scores:
                    records.setdefault(vid, corpus.records[corpus.position[vid]])
                for vid in vector_scores:
                    if vid not in keyword_scores and vid in corpus.position:
                        keyword_scores[vid] = float(bm25_all[corpus.position[vid]])
        if mode == "hybrid":
            assert query_vector is not None
            missing = [vid for vid in keyword_scores if vid not in vector_scores]
            if missing:
                vector_scores.update(
                    store.similarity(namespace, self.embedder.model, query_vector, missing)
                )
        ids = [vid for vid in records if mode != "hybrid" or vid in vector_scores]
        if mode == "keyword":
            ids = [vid for vid in ids if keyword_scores.get(vid, 0.0) > 0]
        if not ids:
            return []
        cos = np.array([vector_scores.get(vid, 0.0) for vid in ids])
        bm25 = np.array([keyword_scores.get(vid, 0.0) for vid in ids])
        if mode == "vector":
            fused = np.clip(cos, 0.0, 1.0)
        elif mode == "keyword":
            fused = bm25 / bm25.max()
        elif self.fusion == "rrf":
            fused = fuse_reciprocal_rank(cos, bm25)
        else:
            coverage = query_coverage(query, [records[vid].content for vid in ids])
            fused = fuse_convex(cos, bm25, weight, coverage)
        order = sorted(range(len(ids)), key=lambda i: (-fused[i], -cos[i], -bm25[i], ids[i]))
        hits = [
            RetrievalHit(records[ids[i]], float(fused[i]), float(cos[i]), float(bm25[i]))
            for i in order
            if min_score is None or fused[i] >= min_score
        ]
        return hits[:k]

    @staticmethod
    def _keyword_candidates(
        corpus: _Corpus, scores: np.ndarray, pool: int, where: VectorFilter | None
    ) -> dict[str, float]:
        """The best `pool` unexpired records passing `where` with a BM25 score above zero."""
        now = datetime.now(UTC)
        found: dict[str, float] = {}
        for position in np.argsort(-scores, kind="stable"):
            score = float(scores[position])
            if score <= 0 or len(found) >= pool:
                break
            record = corpus.records[int(position)]
            if record.expires_at is not None and record.expires_at <= now:
                continue
            if where is not None and not where.matches(
                record.document_id, record.metadata, record.event_time
            ):
                continue
            found[record.id] = score
        return found
