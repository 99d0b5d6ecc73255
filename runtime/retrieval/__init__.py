"""Retrieval: keyword (BM25) scoring, score fusion and hybrid search over the vectors store.

`HybridSearch` (`infra.get(HybridSearch)`) is what episodic memory, RAG and Context search with:
the query's embedding against a namespace's vectors, fused with BM25 over the same namespace's
content, every score in [0, 1]. `KeywordIndex` and `fuse_convex` / `fuse_reciprocal_rank` are
the parts, for callers that rank their own candidates.
"""

from llmspell.runtime.retrieval.fusion import fuse_convex, fuse_reciprocal_rank
from llmspell.runtime.retrieval.hybrid import SEARCH_MODES, HybridSearch, RetrievalHit
from llmspell.runtime.retrieval.keyword import KeywordIndex

__all__ = [
    "SEARCH_MODES",
    "HybridSearch",
    "KeywordIndex",
    "RetrievalHit",
    "fuse_convex",
    "fuse_reciprocal_rank",
]
