"""`Context`: the most relevant memories and documents for a query, within a token budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import optional_str, require_int, require_str
from llmspell.runtime.api.base import ApiNamespace
from llmspell.runtime.display import Records, register_renderer
from llmspell.runtime.display.context import render_context_value
from llmspell.runtime.times import format_optional_time

if TYPE_CHECKING:
    from llmspell.runtime.context import AssembledContext, ContextAssembler, ContextChunk

STATS_COLUMNS = ["strategy", "sources", "calls", "avg_chunks", "avg_tokens", "avg_candidates",
                 "avg_confidence", "avg_ms"]  # fmt: skip


RANKER = "bm25+vector"  # how `assemble` reranks: BM25 fused with vector similarity


def chunk_record(chunk: ContextChunk) -> dict[str, Any]:
    """Our fields (`content, source, score, timestamp, metadata`) beside rs-llmspell's
    `{chunk = {role, content, source, timestamp, metadata}, score, ranker}`; there `source` is
    where the text came from (the session, the document or the entity), not the store."""
    timestamp = format_optional_time(chunk.timestamp)
    meta = chunk.metadata
    origin = meta.get("session_id") or meta.get("document_id") or meta.get("name")
    return {
        "content": chunk.content,
        "source": chunk.source,
        "score": chunk.score,
        "timestamp": timestamp,
        "metadata": meta,
        "ranker": RANKER,
        "chunk": {
            "role": meta.get("role") if chunk.source == "episodic" else "system",
            "content": chunk.content,
            "source": origin if isinstance(origin, str) and origin else chunk.source,
            "timestamp": timestamp,
            "metadata": meta,
        },
    }


def context_record(context: AssembledContext) -> dict[str, Any]:
    oldest = format_optional_time(context.oldest)
    newest = format_optional_time(context.newest)
    return {
        "query": context.query,
        "strategy": context.strategy,
        "max_tokens": context.max_tokens,
        "chunks": [chunk_record(c) for c in context.chunks],
        "token_count": context.token_count,
        "total_confidence": context.total_confidence,
        # {oldest, newest}, and the same as rs-llmspell's pair: span[1], span[2]
        "temporal_span": {"oldest": oldest, "newest": newest, 1: oldest, 2: newest},
        "formatted": context.formatted,
    }


class ContextApi(ApiNamespace):
    """Prompt context: the best of episodic memory, semantic memory and RAG documents for a
    query, reranked together and filled into a real token budget."""

    api_name = "Context"

    @property
    def _assembler(self) -> ContextAssembler:
        from llmspell.runtime.context import ContextAssembler

        return self._ctx.infrastructure.get(ContextAssembler)

    def assemble(
        self,
        query: str,
        strategy: str | None = None,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Context for `query` from the stores of `strategy` ("episodic", "semantic", "rag" or
        "hybrid" = all, the default), session-scoped when `session_id` is given, within
        `max_tokens` (default 2000, counted by the embedding model's tokenizer). Returns
        `{chunks = [{content, source, score, timestamp, metadata, ranker, chunk}], token_count,
        total_confidence, temporal_span = {oldest, newest}, formatted, query, strategy,
        max_tokens}`; `formatted` is the text for a prompt, `token_count` its size. Each chunk
        also carries rs-llmspell's `chunk = {role, content, source, timestamp, metadata}`, and
        `temporal_span[1]`, `[2]` are oldest and newest."""
        fn = "Context.assemble"
        context = self._assembler.assemble(
            require_str(fn, "query", query),
            "hybrid" if strategy is None else require_str(fn, "strategy", strategy),
            2000 if max_tokens is None else require_int(fn, "max_tokens", max_tokens, minimum=1),
            optional_str(fn, "session_id", session_id),
        )
        return context_record(context)

    def test(self, query: str, session_id: str | None = None) -> dict[str, Any]:
        """`assemble(query, "hybrid", 2000, session_id)`: a quick look at what a prompt
        would get."""
        fn = "Context.test"
        context = self._assembler.assemble(
            require_str(fn, "query", query), "hybrid", 2000,
            optional_str(fn, "session_id", session_id),
        )  # fmt: skip
        return context_record(context)

    def strategy_stats(self) -> dict[str, Any]:
        """What there is to assemble from: `{episodic_count, semantic_count (entities),
        strategies (those usable here), by_strategy}`; `by_strategy` lists per strategy the
        stores it reads here and what `assemble` did with it in this runtime (calls; average
        chunks, tokens, candidates, confidence and milliseconds)."""
        from llmspell.runtime.memory import MemoryManager

        memory = self._ctx.infrastructure.get(MemoryManager)
        rows = self._assembler.strategy_stats()
        return {
            "episodic_count": memory.episodic.count(),
            "semantic_count": memory.semantic.counts()[0],
            "strategies": [row["strategy"] for row in rows if row["sources"]],
            "by_strategy": Records(rows, STATS_COLUMNS),
        }


register_renderer(render_context_value)
