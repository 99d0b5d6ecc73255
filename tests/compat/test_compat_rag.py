"""`RAG` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written) and returns the
documented fields. Where we differ (RAG.configure cannot switch the embedder; auto_ingest) the
error says why; see docs/reference/compatibility.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

APPENDIX_FUNCTIONS = [
    "search", "ingest", "configure", "list_providers", "create_session_collection",
    "configure_session", "cleanup_scope", "get_stats", "save",
]  # fmt: skip

# The appendix's examples use tenant "org-123": the runtime is that tenant's.
TENANT = {"tenancy.tenant_id": "org-123"}

INGEST_ONE = """
return RAG.ingest({
    content = "Agent creation guide: call Agent.builder, name the agent, pick a model, build.",
    metadata = {
        source = "docs/agents.md",
        type = "documentation",
        timestamp = 1699564800,
        created_at = "2024-11-09T12:00:00Z",
        event_time = 1699564800,
        ttl = 86400,
        ttl_seconds = 86400,
        expires_in = 3600
    }
}, {
    collection = "documentation",
    chunk_size = 500,
    chunk_overlap = 50,
    tenant_id = "org-123"
})
"""


def _runtime(config_dir: Path | None = None, **overrides: Any) -> ScriptRuntime:
    profile = "memory" if config_dir is None else None
    config = load_config(profile=profile, env={}).config
    settings = {**TENANT, **overrides}
    if config_dir is not None:
        settings["storage.path"] = str(config_dir / "store.db")
    return ScriptRuntime.with_engine(with_overrides(config, settings), "lua")


@pytest.fixture
def lua(isolated_env: Path) -> Iterator[ScriptRuntime]:
    rt = _runtime()
    try:
        yield rt
    finally:
        rt.close()


def error(rt: ScriptRuntime, code: str) -> str:
    with pytest.raises(ScriptError) as info:
        rt.execute(code)
    return str(info.value.evalue)


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(RAG.{name})") == "function", name


def test_ingest_takes_the_documented_document_and_options_and_reports_success(
    lua: ScriptRuntime,
) -> None:
    report = run(lua, INGEST_ONE)
    assert report["success"] is True
    assert report["documents_processed"] == 1 and report["chunks_created"] >= 1
    docs = run(lua, 'return RAG.list_documents{scope = "collection", scope_id = "documentation"}')
    assert docs[0]["metadata"]["source"] == "docs/agents.md"


def test_ingest_takes_a_list_of_documents_with_temporal_metadata(lua: ScriptRuntime) -> None:
    report = run(
        lua,
        """
        return RAG.ingest({
            {content = "First document", metadata = {timestamp = os.time() - 3600, ttl = 7200}},
            {content = "Second document",
             metadata = {event_time = os.time() - 86400, ttl_seconds = 604800}}
        })
        """,
    )
    assert report["success"] is True and report["documents_processed"] == 2
    expiries = [d["expires_at"] for d in run(lua, "return RAG.list_documents()")]
    assert all(e is not None for e in expiries), "ttl / ttl_seconds in metadata set an expiry"


def test_a_bad_temporal_metadata_value_is_refused(lua: ScriptRuntime) -> None:
    message = error(lua, 'RAG.ingest{content = "x", metadata = {ttl = "soon"}}')
    assert "metadata ttl must be a number of seconds" in message


def test_search_takes_the_documented_options_and_finds_the_collection(lua: ScriptRuntime) -> None:
    run(lua, INGEST_ONE)
    found = run(
        lua,
        """
        return RAG.search("How do I create an agent?", {
            limit = 5,
            threshold = 0.1,
            collection = "documentation",
            scope = "tenant",
            scope_id = "org-123",
            tenant_id = "org-123"
        })
        """,
    )
    assert found["success"] is True and found["total"] == 1
    hit = found["results"][0]
    assert {"id", "document_id", "content", "score", "metadata"} <= set(hit)
    assert "Agent creation guide" in hit["content"]
    assert run(lua, 'return RAG.search("agent", {collection = "other"}).total') == 0
    for alias in ("k", "top_k", "limit"):
        code = f'return RAG.search("agent", {{{alias} = 1, collection = "documentation"}}).total'
        assert run(lua, code) == 1, alias


def test_search_scope_global_needs_no_scope_id(lua: ScriptRuntime) -> None:
    run(lua, 'RAG.ingest{content = "Global note about agents."}')
    assert run(lua, 'return RAG.search("agents", {scope = "global"}).total') == 1
    assert run(lua, 'return RAG.search("agents", {scope = "tenant"}).total') == 1


def test_search_refuses_another_tenant_and_unknown_options(lua: ScriptRuntime) -> None:
    assert "is not this runtime's tenant 'org-123'" in error(
        lua, 'RAG.search("x", {tenant_id = "org-999"})'
    )
    assert "is not this runtime's tenant" in error(
        lua, 'RAG.search("x", {scope = "tenant", scope_id = "org-999"})'
    )
    message = error(lua, 'RAG.search("x", {exclude_expired = true})')
    assert message.startswith("RAG.search: unknown option 'exclude_expired'; allowed: ")
    assert "collection" in message


def test_configure_checks_the_embedder_and_sets_the_chunk_window(lua: ScriptRuntime) -> None:
    active = run(lua, "return RAG.configure{}")
    assert active["success"] is True
    assert {"provider", "embedding_model", "vector_dimensions"} <= set(active)
    same = run(
        lua,
        f"""return RAG.configure({{provider = "{active["provider"]}",
            embedding_model = "{active["embedding_model"]}",
            vector_dimensions = {active["vector_dimensions"]}, chunk_size = 64}})""",
    )
    assert same["chunk_size"] == 64
    message = error(
        lua,
        """RAG.configure({provider = "openai", embedding_model = "text-embedding-ada-002",
            vector_dimensions = 1536})""",
    )
    assert "a script cannot change it (set it in llmspell.toml [embeddings])" in message
    assert error(lua, "RAG.configure{api_key = 'k'}").startswith(
        "RAG.configure: unknown option 'api_key'"
    )


def test_list_providers_names_the_active_one(lua: ScriptRuntime) -> None:
    providers = run(lua, "return RAG.list_providers()")
    assert sum(1 for p in providers if p["active"]) == 1


def test_create_session_collection_takes_ttl_and_max_vectors(lua: ScriptRuntime) -> None:
    made = run(
        lua,
        'return RAG.create_session_collection("session-123", {ttl = 3600, max_vectors = 1})',
    )
    assert made["created"] is True and made["namespace"] == "session:session-123"
    assert made["ttl_s"] == 3600 and made["expires_at"] is not None
    assert made["max_vectors"] == 1
    run(lua, 'RAG.ingest("one", {scope = "session", scope_id = "session-123"})')
    message = error(lua, 'RAG.ingest("two", {scope = "session", scope_id = "session-123"})')
    assert "holds at most 1 vectors (max_vectors)" in message
    again = run(lua, 'return RAG.create_session_collection("session-123", {ttl = 60})')
    assert again["created"] is False


def test_configure_session_takes_the_documented_settings(lua: ScriptRuntime) -> None:
    done = run(lua, 'return RAG.configure_session("session-123", {auto_ingest = false, '
                    "persist = true, ttl = 60})")  # fmt: skip
    assert done["persist"] is True and done["namespace"] == "session:session-123"
    message = error(lua, 'RAG.configure_session("session-123", {auto_ingest = true})')
    assert "auto_ingest = true is not supported" in message
    assert "unknown option 'colour'" in error(lua, 'RAG.configure_session("s", {colour = 1})')


def test_persist_false_drops_the_session_collection_when_the_runtime_closes(
    isolated_env: Path,
) -> None:
    first = _runtime(isolated_env)
    try:
        run(first, 'RAG.configure_session("kept", {persist = true})')
        run(first, 'RAG.configure_session("scratch", {persist = false})')
        for sid in ("kept", "scratch"):
            run(first, f'RAG.ingest("notes of {sid}", {{scope = "session", scope_id = "{sid}"}})')
    finally:
        first.close()
    second = _runtime(isolated_env)
    try:
        assert run(second, 'return RAG.get_stats("session", "kept").total_vectors') == 1
        assert run(second, 'return RAG.get_stats("session", "scratch").total_vectors') == 0
    finally:
        second.close()


def test_cleanup_scope_takes_one_scope_string(lua: ScriptRuntime) -> None:
    run(lua, 'RAG.ingest({"a", "b"}, {scope = "session", scope_id = "123"})')
    assert run(lua, 'return RAG.cleanup_scope("session:123")') == 2
    assert run(lua, 'return RAG.get_stats("session", "123").total_vectors') == 0
    assert "give the scope and its id" in error(lua, 'RAG.cleanup_scope("session")')


def test_get_stats_counts_the_global_tenant_and_session_collections(lua: ScriptRuntime) -> None:
    run(lua, 'RAG.ingest{content = "A global document."}')
    run(lua, 'RAG.ingest("A session document.", {scope = "session", scope_id = "session-uuid"})')
    for code in (
        'RAG.get_stats("global", nil)',
        'RAG.get_stats("tenant", "org-123")',
        'RAG.get_stats("session", "session-uuid")',
    ):
        stats = run(lua, f"return {code}")
        assert stats["total_vectors"] == 1, code
        assert stats["storage_bytes"] > 0 and stats["namespace_count"] == 1, code


def test_save_returns_true(lua: ScriptRuntime) -> None:
    assert run(lua, "return RAG.save()") is True
