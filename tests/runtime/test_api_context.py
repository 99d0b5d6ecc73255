"""The Context global through both engines: strategies, session scope, dedup, a real budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from runtime_helpers import MakeRuntime, as_list, call, call_error

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.context.assembler import ContextChunk, _Candidate
from llmspell.runtime.embeddings import count_tokens


def _turns(rt: ScriptRuntime, session: str, n: int) -> None:
    for i in range(1, n + 1):
        call(rt, "Memory.episodic.add", session, "user" if i % 2 else "assistant",
             f"Turn {i}: we discussed moving the billing database to PostgreSQL.")  # fmt: skip


def test_assemble_fills_the_budget_with_the_real_token_count(rt: ScriptRuntime) -> None:
    _turns(rt, "s", 30)
    for budget in (40, 120, 200, 500):
        ctx = call(rt, "Context.assemble", "billing database migration", "episodic", budget, "s")
        assert 0 < ctx["token_count"] <= budget
        assert ctx["token_count"] == count_tokens(ctx["formatted"])
        assert ctx["max_tokens"] == budget and ctx["strategy"] == "episodic"
    small = call(rt, "Context.assemble", "billing", "episodic", 120, "s")
    large = call(rt, "Context.assemble", "billing", "episodic", 500, "s")
    assert len(as_list(large["chunks"])) > len(as_list(small["chunks"])) > 0
    tiny = call(rt, "Context.assemble", "billing", "episodic", 3, "s")
    assert as_list(tiny["chunks"]) == [] and tiny["token_count"] == 0 and tiny["formatted"] == ""


def test_chunks_carry_source_score_timestamp_and_metadata(rt: ScriptRuntime) -> None:
    _turns(rt, "s", 4)
    ctx = call(rt, "Context.assemble", "billing", "episodic", 500, "s")
    chunks = as_list(ctx["chunks"])
    assert {c["source"] for c in chunks} == {"episodic"}
    scores = [c["score"] for c in chunks]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert all(c["timestamp"].endswith("Z") and c["metadata"]["session_id"] == "s" for c in chunks)
    span = ctx["temporal_span"]
    assert span["oldest"] <= span["newest"]
    assert ctx["total_confidence"] == sum(scores) / len(scores)
    assert ctx["formatted"].startswith("## Conversation memory (episodic)\n[1] ")


def test_a_session_id_scopes_episodic_and_rag_to_that_session(rt: ScriptRuntime) -> None:
    _turns(rt, "mine", 3)
    call(rt, "Memory.episodic.add", "theirs", "user", "Billing database secrets of another chat.")
    call(rt, "RAG.ingest", {"id": "shared", "content": "The billing database runbook."})
    call(rt, "RAG.ingest", {"id": "own", "content": "My session's billing database notes."},
         {"scope": "session", "scope_id": "mine"})  # fmt: skip
    call(rt, "RAG.ingest", {"id": "other", "content": "Their billing database notes."},
         {"scope": "session", "scope_id": "theirs"})  # fmt: skip
    ctx = call(rt, "Context.assemble", "billing database", "hybrid", 2000, "mine")
    texts = [c["content"] for c in as_list(ctx["chunks"])]
    assert not any("another chat" in t or "Their" in t for t in texts)
    assert "My session's billing database notes." in texts
    assert "The billing database runbook." in texts, "the global collection is everyone's"
    unscoped = call(rt, "Context.assemble", "billing database", "rag", 2000)
    assert [c["metadata"]["document_id"] for c in as_list(unscoped["chunks"])] == ["shared"]


def test_the_same_text_from_two_stores_appears_once(rt: ScriptRuntime) -> None:
    text = "The deployment freeze starts on Friday at noon."
    call(rt, "Memory.episodic.add", "s", "user", text)
    call(
        rt,
        "RAG.ingest",
        {"id": "freeze", "content": "the deployment  freeze starts on Friday at noon."},
    )
    ctx = call(rt, "Context.assemble", "deployment freeze", "hybrid", 2000, "s")
    chunks = as_list(ctx["chunks"])
    same = [c for c in chunks if "freeze" in c["content"].lower()]
    assert len(same) == 1
    assert as_list(same[0]["metadata"]["also_in"]) in (["rag"], ["episodic"])


def test_each_strategy_reads_its_stores(rt: ScriptRuntime) -> None:
    call(rt, "Memory.episodic.add", "s", "user", "We picked Acme as the ferry supplier.")
    call(rt, "Memory.semantic.add_entity", {"name": "Acme", "type": "company",
                                             "properties": {"city": "Oslo"}})  # fmt: skip
    call(rt, "RAG.ingest", {"id": "contract", "content": "The Acme ferry contract runs to 2030."})
    sources = {}
    for strategy in ("episodic", "semantic", "rag", "hybrid"):
        ctx = call(rt, "Context.assemble", "Acme ferry", strategy, 2000, "s")
        sources[strategy] = {c["source"] for c in as_list(ctx["chunks"])}
    assert sources == {
        "episodic": {"episodic"},
        "semantic": {"semantic"},
        "rag": {"rag"},
        "hybrid": {"episodic", "semantic", "rag"},
    }
    fact = call(rt, "Context.assemble", "Acme", "semantic", 2000)
    assert as_list(fact["chunks"])[0]["content"] == "Acme (company) — city: Oslo"
    assert "## Known facts (semantic)" in fact["formatted"]


def test_unknown_strategies_and_bad_budgets_are_refused(rt: ScriptRuntime) -> None:
    error = call_error(rt, "Context.assemble", "x", "nonsense", 200)
    assert error.evalue == (
        "Context.assemble: unknown strategy 'nonsense'; valid strategies: "
        "episodic, semantic, rag, hybrid"
    )
    assert "max_tokens must be >= 1" in call_error(rt, "Context.assemble", "x", "rag", 0).evalue
    assert "query must be a non-empty string" in call_error(rt, "Context.assemble", "").evalue


def test_context_test_is_hybrid_with_2000_tokens_and_strategy_stats_count_calls(
    rt: ScriptRuntime,
) -> None:
    _turns(rt, "s", 3)
    ctx = call(rt, "Context.test", "billing", "s")
    assert (ctx["strategy"], ctx["max_tokens"]) == ("hybrid", 2000)
    call(rt, "Context.assemble", "billing", "episodic", 100, "s")
    stats = {
        row["strategy"]: row for row in as_list(call(rt, "Context.strategy_stats")["by_strategy"])
    }
    assert stats["hybrid"]["calls"] == 1 and stats["episodic"]["calls"] == 1
    assert stats["semantic"]["calls"] == 0
    assert as_list(stats["hybrid"]["sources"]) == ["episodic", "semantic", "rag"]
    assert stats["episodic"]["avg_tokens"] <= 100


def test_context_disabled_with_memory_and_rag_strategy_with_rag(make_runtime: MakeRuntime) -> None:
    off = make_runtime("lua", memory__enabled=False)
    error = call_error(off, "Context.assemble", "x")
    assert error.evalue == "Context.assemble: disabled in config (memory.enabled = false)"
    no_rag = make_runtime("lua", rag__enabled=False)
    assert "rag.enabled = false" in call_error(no_rag, "Context.assemble", "x", "rag").evalue
    stats = {
        r["strategy"]: r for r in as_list(call(no_rag, "Context.strategy_stats")["by_strategy"])
    }
    assert as_list(stats["hybrid"]["sources"]) == ["episodic", "semantic"]


def test_equal_scores_put_the_newer_candidate_first(lua: ScriptRuntime) -> None:
    from llmspell.runtime.context import ContextAssembler

    assembler = lua.infrastructure.get(ContextAssembler)
    old = datetime(2024, 1, 1, tzinfo=UTC)

    def candidate(source: str, when: datetime) -> Any:
        return _Candidate(ContextChunk("identical words here", source, 0.5, when, {}), "x")

    ranked = assembler._rerank(
        "identical words", [candidate("rag", old), candidate("episodic", old + timedelta(days=1))]
    )
    assert [c.chunk.source for c in ranked] == ["episodic", "rag"]
    assert ranked[0].chunk.score == ranked[1].chunk.score


def test_assembled_context_renders_as_a_table_with_marked_terms(lua: ScriptRuntime) -> None:
    _turns(lua, "s", 2)
    html = lua.execute("return Context.assemble('billing database', 'episodic', 300, 's')").bundle[
        "text/html"
    ]
    assert "<table>" in html and "<mark>billing</mark>" in html and "<pre>## Conversation" in html
