"""Score fusion: one ranking from a vector score and a keyword score per candidate.

`fuse_convex` (the default of hybrid search) mixes min-max-normalised cosine similarity with
max-normalised BM25: `w * cos' + (1 - w) * bm25'`, in [0, 1]. On a conversational-memory
benchmark it beat both signals alone and reciprocal-rank fusion; a static embedder alone loses
to keywords. `fuse_reciprocal_rank` is RRF (`sum 1 / (60 + rank)`), scaled to [0, 1]: RAG
orders by it, as the spec asks.
"""

from __future__ import annotations

import numpy as np

RRF_K = 60


def min_max(values: np.ndarray) -> np.ndarray:
    """`values` scaled to [0, 1] over their range (all ones when they are all equal)."""
    if len(values) == 0:
        return values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.ones(len(values))
    return (values - low) / (high - low)


def max_scaled(values: np.ndarray) -> np.ndarray:
    """Non-negative `values` divided by their maximum (zeros stay zeros)."""
    high = float(values.max()) if len(values) else 0.0
    return values / high if high > 0 else np.zeros(len(values))


def fuse_convex(
    vector: np.ndarray,
    keyword: np.ndarray,
    vector_weight: float,
    coverage: np.ndarray | None = None,
) -> np.ndarray:
    """`vector_weight * min_max(vector) + (1 - vector_weight) * max_scaled(keyword) * coverage`.

    `coverage` (optional, 0..1 per candidate): the share of the query's terms the candidate
    contains. It keeps a weak keyword match (one common term of a long question) from counting
    as much as a full one after max-scaling.
    """
    if not 0.0 <= vector_weight <= 1.0:
        raise ValueError(f"vector_weight must be between 0 and 1, got {vector_weight}")
    vector = np.asarray(vector, dtype=np.float64)
    keyword = max_scaled(np.asarray(keyword, dtype=np.float64))
    if coverage is not None:
        keyword = keyword * np.asarray(coverage, dtype=np.float64)
    return vector_weight * min_max(vector) + (1.0 - vector_weight) * keyword


def fuse_reciprocal_rank(vector: np.ndarray, keyword: np.ndarray) -> np.ndarray:
    """Reciprocal-rank fusion (`sum 1 / (60 + rank)`) of the two rankings, divided by its best
    possible value (first in both), so it lies in [0, 1]. Every candidate has a vector rank; a
    candidate with no keyword score (<= 0: not in the keyword ranking) gets nothing from it.
    Ties share the best rank of their group."""
    vector = np.asarray(vector, dtype=np.float64)
    keyword = np.asarray(keyword, dtype=np.float64)
    fused = 1.0 / (RRF_K + _ranks(vector))
    ranked = keyword > 0
    fused[ranked] += 1.0 / (RRF_K + _ranks(keyword[ranked]))
    return fused / (2.0 / (RRF_K + 1))


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based competition ranks, best (highest) first: equal scores share a rank."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    position = 0
    for i, index in enumerate(order):
        if i == 0 or scores[index] != scores[order[i - 1]]:
            position = i + 1
        ranks[index] = position
    return ranks
