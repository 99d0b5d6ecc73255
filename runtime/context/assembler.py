"""`ContextAssembler`: the most relevant memories and documents for a query, within a token
budget, as text ready for a prompt.

1. Candidates from the strategy's stores: `episodic` (the session's turns, or every session's),
   `semantic` (entities whose name, type or properties match), `rag` (the global collection, and
   the session's collection when a session is given); `hybrid` = all three (RAG only when
   `rag.enabled`).
2. Reranked together: reciprocal-rank fusion of the query's cosine similarity with each
   candidate (same embedder as the stores) and its BM25 score among the candidates; the newer
   candidate first on a tie. The fused value (in [0, 1]) is the chunk's `score`.
3. Deduplicated: the same text (ignoring case and spacing) from two stores is kept once.
4. Filled greedily, best first, into source-labelled sections while the formatted text's token
   count — by the embedding model's tokenizer, the same counter RAG chunks with — stays within
   `max_tokens`; a candidate that does not fit is skipped and smaller ones still tried.
   `token_count` is the count of `formatted`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from llmspell.runtime.errors import Disabled, InvalidArgument
from llmspell.runtime.retrieval.fusion import fuse_reciprocal_rank
from llmspell.runtime.retrieval.keyword import KeywordIndex

if TYPE_CHECKING:
    from llmspell.runtime.embeddings import Embedder
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.memory import MemoryManager
    from llmspell.runtime.rag import RagManager

STRATEGIES = ("episodic", "semantic", "rag", "hybrid")
SOURCES = ("episodic", "semantic", "rag")
DEFAULT_MAX_TOKENS = 2000
MAX_TOKENS_LIMIT = 1_000_000
MIN_CANDIDATES = 10
MAX_CANDIDATES = 200
SECTION_TITLES = {
    "episodic": "Conversation memory",
    "semantic": "Known facts",
    "rag": "Documents",
}


@dataclass(frozen=True)
class ContextChunk:
    """One piece of context: its text, the store it came from, its fused score in [0, 1],
    when it happened or was recorded, and what the store knows about it."""

    content: str
    source: str
    score: float
    timestamp: datetime | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class AssembledContext:
    query: str
    strategy: str
    max_tokens: int
    chunks: list[ContextChunk]
    token_count: int
    total_confidence: float
    oldest: datetime | None
    newest: datetime | None
    formatted: str


@dataclass
class _Usage:
    calls: int = 0
    chunks: int = 0
    tokens: int = 0
    candidates: int = 0
    confidence: float = 0.0
    seconds: float = 0.0


@dataclass
class _Candidate:
    chunk: ContextChunk
    line: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class ContextAssembler:
    """Assembles prompt context from episodic memory, semantic memory and RAG."""

    def __init__(
        self,
        memory: Callable[[], MemoryManager],
        rag: Callable[[], RagManager] | None,
        embedder: Embedder,
    ) -> None:
        self._memory = memory
        self._rag = rag
        self.embedder = embedder
        self._usage = {strategy: _Usage() for strategy in STRATEGIES}
        self._lock = threading.Lock()

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> ContextAssembler:
        if not infra.config.memory.enabled:
            raise Disabled("memory.enabled")
        from llmspell.runtime.embeddings import Embedder
        from llmspell.runtime.memory import MemoryManager
        from llmspell.runtime.rag import RagManager

        rag = (lambda: infra.get(RagManager)) if infra.config.rag.enabled else None
        return cls(lambda: infra.get(MemoryManager), rag, infra.get(Embedder))

    def sources_of(self, strategy: str) -> tuple[str, ...]:
        if strategy not in STRATEGIES:
            raise InvalidArgument(
                f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}"
            )
        if strategy == "hybrid":
            return tuple(s for s in SOURCES if s != "rag" or self._rag is not None)
        if strategy == "rag" and self._rag is None:
            raise Disabled("rag.enabled")
        return (strategy,)

    def assemble(
        self,
        query: str,
        strategy: str = "hybrid",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        session_id: str | None = None,
    ) -> AssembledContext:
        """The best candidates of the strategy's stores for `query` that fit in `max_tokens`
        (session-scoped when `session_id` is given)."""
        started = time.perf_counter()
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgument("query must be a non-empty string")
        sources = self.sources_of(strategy)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            raise InvalidArgument(f"max_tokens must be an integer, got {max_tokens!r}")
        if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
            raise InvalidArgument(
                f"max_tokens must be from 1 to {MAX_TOKENS_LIMIT}, got {max_tokens}"
            )
        if session_id is not None and (not isinstance(session_id, str) or not session_id):
            raise InvalidArgument("session_id must be a non-empty string")
        limit = min(MAX_CANDIDATES, max(MIN_CANDIDATES, max_tokens // 20))
        candidates: list[_Candidate] = []
        for source in sources:
            candidates += self._gather(source, query, limit, session_id)
        ranked = self._rerank(query, _deduplicated(candidates))
        chunks, formatted, tokens = self._fill(ranked, max_tokens)
        times = [c.timestamp for c in chunks if c.timestamp is not None]
        confidence = float(np.mean([c.score for c in chunks])) if chunks else 0.0
        result = AssembledContext(
            query=query,
            strategy=strategy,
            max_tokens=max_tokens,
            chunks=chunks,
            token_count=tokens,
            total_confidence=confidence,
            oldest=min(times) if times else None,
            newest=max(times) if times else None,
            formatted=formatted,
        )
        with self._lock:
            usage = self._usage[strategy]
            usage.calls += 1
            usage.chunks += len(chunks)
            usage.tokens += tokens
            usage.candidates += len(ranked)
            usage.confidence += confidence
            usage.seconds += time.perf_counter() - started
        return result

    def strategy_stats(self) -> list[dict[str, Any]]:
        """Per strategy, what `assemble` did in this runtime: calls, and per call the average
        chunks, tokens, candidates, confidence and milliseconds."""
        rows = []
        with self._lock:
            for strategy in STRATEGIES:
                usage = self._usage[strategy]
                calls = usage.calls or 1
                rows.append(
                    {
                        "strategy": strategy,
                        "sources": list(self._available(strategy)),
                        "calls": usage.calls,
                        "avg_chunks": usage.chunks / calls,
                        "avg_tokens": usage.tokens / calls,
                        "avg_candidates": usage.candidates / calls,
                        "avg_confidence": usage.confidence / calls,
                        "avg_ms": 1000 * usage.seconds / calls,
                    }
                )
        return rows

    def _available(self, strategy: str) -> tuple[str, ...]:
        try:
            return self.sources_of(strategy)
        except Disabled:
            return ()

    # -- the steps ---------------------------------------------------------------------------

    def _gather(
        self, source: str, query: str, limit: int, session_id: str | None
    ) -> list[_Candidate]:
        if source == "episodic":
            entries = self._memory().episodic.search(session_id or "", query, limit)
            return [
                _Candidate(
                    ContextChunk(
                        content=e.content,
                        source="episodic",
                        score=e.score or 0.0,
                        timestamp=e.timestamp,
                        metadata={
                            "id": e.id,
                            "session_id": e.session_id,
                            "role": e.role,
                            **e.metadata,
                        },
                    ),
                    line=f"{e.role}: {e.content}",
                )
                for e in entries
            ]
        if source == "semantic":
            found = self._memory().semantic.search(query, limit)
            candidates = []
            for entity, score in found:
                facts = "; ".join(f"{k}: {v}" for k, v in sorted(entity.properties.items()))
                text = f"{entity.name} ({entity.type})" + (f" — {facts}" if facts else "")
                candidates.append(
                    _Candidate(
                        ContextChunk(
                            content=text,
                            source="semantic",
                            score=score,
                            timestamp=entity.valid_from,
                            metadata={
                                "id": entity.id,
                                "name": entity.name,
                                "type": entity.type,
                                "properties": entity.properties,
                            },
                        ),
                        line=text,
                    )
                )
            return candidates
        assert self._rag is not None
        rag = self._rag()
        scopes: list[tuple[str | None, str | None]] = [(None, None)]
        if session_id:
            scopes.append(("session", session_id))
        candidates = []
        for scope, scope_id in scopes:
            for hit in rag.search(query, k=limit, scope=scope, scope_id=scope_id):
                meta = {"id": hit.id, "document_id": hit.document_id, "scope": hit.scope,
                        "scope_id": hit.scope_id, **hit.metadata}  # fmt: skip
                candidates.append(
                    _Candidate(
                        ContextChunk(hit.content, "rag", hit.score, hit.created_at, meta),
                        line=f"({hit.document_id}) {hit.content}",
                    )
                )
        return candidates

    def _rerank(self, query: str, candidates: list[_Candidate]) -> list[_Candidate]:
        if not candidates:
            return []
        texts = [c.chunk.content for c in candidates]
        cos = self.embedder.embed(texts) @ self.embedder.embed_one(query)
        keyword = KeywordIndex(texts, self.embedder.limits).scores(query)
        fused = fuse_reciprocal_rank(np.asarray(cos), np.asarray(keyword))
        for candidate, score in zip(candidates, fused, strict=True):
            chunk = candidate.chunk
            candidate.chunk = ContextChunk(
                chunk.content, chunk.source, float(score), chunk.timestamp, chunk.metadata
            )
        newest_first = [-(c.chunk.timestamp.timestamp() if c.chunk.timestamp else 0.0)
                        for c in candidates]  # fmt: skip
        order = sorted(range(len(candidates)), key=lambda i: (-fused[i], newest_first[i], i))
        return [candidates[i] for i in order]

    def _fill(
        self, ranked: list[_Candidate], max_tokens: int
    ) -> tuple[list[ContextChunk], str, int]:
        chosen: list[_Candidate] = []
        formatted, tokens = "", 0
        for candidate in ranked:
            attempt = _format([*chosen, candidate])
            # a candidate that cannot fit is counted only until that is clear
            count = self.embedder.count_tokens(attempt, at_most=max_tokens)
            if count <= max_tokens:
                chosen.append(candidate)
                formatted, tokens = attempt, count
        return [c.chunk for c in chosen], formatted, tokens


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _deduplicated(candidates: list[_Candidate]) -> list[_Candidate]:
    """One candidate per text (ignoring case and spacing): the one its store scored best, with
    the other stores that held the same text listed in its metadata's `also_in`."""
    kept: dict[str, _Candidate] = {}
    for candidate in candidates:
        key = _normalised(candidate.chunk.content)
        other = kept.get(key)
        if other is None:
            kept[key] = candidate
            continue
        best, worse = (
            (candidate, other) if candidate.chunk.score > other.chunk.score else (other, candidate)
        )
        sources = best.chunk.metadata.setdefault("also_in", [])
        for source in (worse.chunk.source, *worse.chunk.metadata.get("also_in", [])):
            if source != best.chunk.source and source not in sources:
                sources.append(source)
        if not sources:
            del best.chunk.metadata["also_in"]
        kept[key] = best
    return list(kept.values())


def _format(chosen: list[_Candidate]) -> str:
    """Source-labelled sections (in the order of SOURCES), each listing its chunks best
    first, numbered in rank order across sections."""
    rank = {id(c): i for i, c in enumerate(chosen, start=1)}
    sections = []
    for source in SOURCES:
        members = [c for c in chosen if c.chunk.source == source]
        if members:
            lines = "\n".join(f"[{rank[id(c)]}] {c.line}" for c in members)
            sections.append(f"## {SECTION_TITLES[source]} ({source})\n{lines}")
    return "\n\n".join(sections)


__all__ = ["STRATEGIES", "AssembledContext", "ContextAssembler", "ContextChunk"]
