"""`Context` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written) and returns the
documented fields; see docs/reference/compatibility.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptRuntime, load_config

APPENDIX_FUNCTIONS = ["assemble", "test", "strategy_stats"]

CONVERSATION = """
Memory.episodic.add("session-123", "user", "How does ownership work in Rust?", {})
Memory.episodic.add("session-123", "assistant",
    "In Rust every value has one owner; ownership moves on assignment.", {})
Memory.episodic.add("other", "user", "Ownership of the Rust compiler team.", {})
RAG.ingest{content = "The Rust book explains ownership and borrowing in chapter four."}
Memory.semantic.add_entity{name = "Rust", type = "language",
    properties = {description = "a systems language with ownership"}}
"""


@pytest.fixture
def lua(isolated_env: Path) -> Iterator[ScriptRuntime]:
    config = load_config(profile="memory", env={}).config
    rt = ScriptRuntime.with_engine(config, "lua")
    rt.execute(CONVERSATION)
    try:
        yield rt
    finally:
        rt.close()


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(Context.{name})") == "function", name


def test_the_appendix_example_runs_as_written(lua: ScriptRuntime) -> None:
    printed = run(
        lua,
        """
        local user_query = "ownership"
        local context = Context.assemble(
            "How does ownership work in Rust?",
            "episodic",
            2000,
            "session-123"
        )
        local prompt = context.formatted .. "\\n\\nUser: " .. user_query
        return string.format("Retrieved %d chunks using %d tokens",
            #context.chunks, context.token_count)
        """,
    )
    assert printed.startswith("Retrieved 2 chunks using ")


def test_assemble_returns_the_documented_result_structure(lua: ScriptRuntime) -> None:
    context = run(
        lua,
        'return Context.assemble("How does ownership work in Rust?", "episodic", 2000, '
        '"session-123")',
    )
    assert {"chunks", "total_confidence", "temporal_span", "token_count", "formatted"} <= set(
        context
    )
    for ranked in context["chunks"]:
        assert set(ranked["chunk"]) == {"role", "content", "source", "timestamp", "metadata"}
        assert ranked["chunk"]["role"] in ("user", "assistant")
        assert ranked["chunk"]["source"] == "session-123"
        assert ranked["chunk"]["timestamp"].endswith("Z")
        assert 0 <= ranked["score"] <= 1 and isinstance(ranked["ranker"], str)
    scores = [c["score"] for c in context["chunks"]]
    assert context["total_confidence"] == pytest.approx(sum(scores) / len(scores))
    span = context["temporal_span"]
    assert span["1"] == span["oldest"] and span["2"] == span["newest"]
    assert span["1"] <= span["2"]
    assert context["token_count"] > 0 and "ownership" in context["formatted"]


@pytest.mark.parametrize("strategy", ["episodic", "semantic", "hybrid", "rag"])
def test_each_documented_strategy_assembles(lua: ScriptRuntime, strategy: str) -> None:
    n = run(lua, f'return #Context.assemble("Rust ownership", "{strategy}", 8192).chunks')
    assert n >= 1


def test_assemble_takes_query_and_strategy_only(lua: ScriptRuntime) -> None:
    chunks = run(lua, 'return Context.assemble("Rust ownership", "hybrid").chunks')
    sources = {c["source"] for c in chunks}
    assert {"episodic", "semantic", "rag"} <= sources


def test_context_test_takes_query_and_session(lua: ScriptRuntime) -> None:
    result = run(lua, 'return Context.test("ownership", "session-123")')
    assert result["strategy"] == "hybrid" and result["max_tokens"] == 2000
    texts = [c["chunk"]["content"] for c in result["chunks"]]
    assert not any("compiler team" in t for t in texts), "filtered to session-123"
    assert run(lua, 'return #Context.test("test query").chunks') >= 0


def test_strategy_stats_has_the_documented_fields(lua: ScriptRuntime) -> None:
    printed = run(
        lua,
        """
        local stats = Context.strategy_stats()
        return string.format("Episodic: %d entries", stats.episodic_count) .. "; " ..
            string.format("Semantic: %d entities", stats.semantic_count) .. "; " ..
            "Strategies: " .. table.concat(stats.strategies, ", ")
        """,
    )
    assert printed == (
        "Episodic: 3 entries; Semantic: 1 entities; Strategies: episodic, semantic, rag, hybrid"
    )
