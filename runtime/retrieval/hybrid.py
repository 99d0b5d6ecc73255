"""`HybridSearch`: the query's embedding and its keywords against one namespace, fused.

Vector side: the vectors store's search (exact on SQLite, HNSW on PostgreSQL) for the best
`candidates`. Keyword side: the store's keyword index (`keyword_search`: BM25 over an
in-process index per namespace, kept in step with every write). Each candidate of either side
gets its cosine from the store; the fusion turns both signals into one score in [0, 1]:

- `convex` (episodic memory's default): `w * min_max(cos) + (1 - w) * max_scaled(kw) * coverage`
  (keyword scores of vector candidates are looked up too);
- `rrf` (RAG): reciprocal-rank fusion of the vector ranking and the keyword ranking of the
  candidates that hold at least half of the query's terms, divided by its best possible value.

Filters (`VectorFilter`) apply to both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from llmspell.runtime.embeddings import Embedder
from llmspell.runtime.retrieval.fusion import fuse_convex, fuse_reciprocal_rank
from llmspell.runtime.retrieval.keyword import query_coverage, query_terms

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.vectors import VectorFilter, VectorRecord, VectorStore

SearchMode = Literal["hybrid", "vector", "keyword"]
SEARCH_MODES = ("hybrid", "vector", "keyword")
Fusion = Literal["convex", "rrf"]
FUSIONS = ("convex", "rrf")
DEFAULT_VECTOR_WEIGHT = 0.5
MIN_CANDIDATES = 50
MIN_KEYWORD_COVERAGE = 0.5


@dataclass(frozen=True)
class RetrievalHit:
    """A search result: the stored vector, its score in [0, 1], and the two raw signals
    (`keyword_score` is 0 for a candidate outside the keyword side's ranking)."""

    record: VectorRecord
    score: float
    vector_score: float  # cosine similarity (-1..1)
    keyword_score: float  # the keyword index's relevance (>= 0)


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
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        self._vectors = vectors
        self.embedder = embedder
        self.vector_weight = vector_weight
        self.fusion = fusion

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> HybridSearch:
        return cls(
            lambda: infra.storage.vectors,
            infra.get(Embedder),
            vector_weight=infra.config.memory.vector_weight,
        )

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
        fusion: Fusion | None = None,
    ) -> list[RetrievalHit]:
        """The `k` best unexpired vectors of `namespace` for `query`, best first.

        `mode`: `hybrid` (fused, the default), `vector` (score = cosine clipped to [0, 1]) or
        `keyword` (score = keyword relevance divided by the best candidate's, times the share
        of the query's terms the candidate holds). `fusion` (default: this search's) picks
        how hybrid scores are fused. `min_score` drops results
        scoring below it. Raises `VectorModelMismatch` when the namespace was written by
        another embedding model than this runtime's.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        fusion = self.fusion if fusion is None else fusion
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
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
        terms = query_terms(query, self.embedder.limits)
        if mode != "vector" and terms:
            for hit in store.keyword_search(namespace, terms, pool, where):
                keyword_scores[hit.record.id] = hit.score
                records.setdefault(hit.record.id, hit.record)
        if mode == "hybrid":
            assert query_vector is not None
            missing = [vid for vid in keyword_scores if vid not in vector_scores]
            if missing:
                vector_scores.update(
                    store.similarity(namespace, self.embedder.model, query_vector, missing)
                )
            unranked = [vid for vid in vector_scores if vid not in keyword_scores]
            if fusion == "convex" and unranked and terms:
                for hit in store.keyword_search(namespace, terms, len(unranked), ids=unranked):
                    keyword_scores[hit.record.id] = hit.score
        ids = [vid for vid in records if mode != "hybrid" or vid in vector_scores]
        if mode == "keyword":
            ids = [vid for vid in ids if keyword_scores.get(vid, 0.0) > 0]
        if not ids:
            return []
        cos = np.array([vector_scores.get(vid, 0.0) for vid in ids])
        kw = np.array([keyword_scores.get(vid, 0.0) for vid in ids])
        if mode == "vector":
            fused = np.clip(cos, 0.0, 1.0)
        elif mode == "keyword":
            # Scaled by the share of the query's terms each text holds: "phone plan" is no
            # full answer to "vacation plans" just because it has the best score.
            coverage = query_coverage(
                query, [records[vid].content for vid in ids], self.embedder.limits
            )
            fused = kw / kw.max() * coverage
        elif fusion == "rrf":
            # Only keyword matches covering at least half of the query's terms join the
            # keyword ranking (BM25's usual "minimum should match"): a chunk sharing one
            # incidental word with a long question ranks no higher for it.
            coverage = query_coverage(
                query, [records[vid].content for vid in ids], self.embedder.limits
            )
            fused = fuse_reciprocal_rank(cos, np.where(coverage >= MIN_KEYWORD_COVERAGE, kw, 0.0))
        else:
            coverage = query_coverage(
                query, [records[vid].content for vid in ids], self.embedder.limits
            )
            fused = fuse_convex(cos, kw, weight, coverage)
        order = sorted(range(len(ids)), key=lambda i: (-fused[i], -cos[i], -kw[i], ids[i]))
        hits = [
            RetrievalHit(records[ids[i]], float(fused[i]), float(cos[i]), float(kw[i]))
            for i in order
            if min_score is None or fused[i] >= min_score
        ]
        return hits[:k]
