"""`Memory` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written) and returns the
documented fields; see docs/reference/compatibility.md."""

from __future__ import annotations

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime

APPENDIX_FUNCTIONS = ["episodic.add", "episodic.search", "semantic.query", "consolidate", "stats"]


def _talk(rt: ScriptRuntime) -> None:
    rt.execute(
        """
        Memory.episodic.add("session-123", "user", "What is Rust?",
            {topic = "programming", priority = "high"})
        Memory.episodic.add("session-123", "assistant",
            "Rust is a programming language. Rust uses ownership.", {})
        Memory.episodic.add("session-456", "user", "Alice works at Acme.", {})
        """
    )


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(Memory.{name})") == "function", name


def test_episodic_add_returns_the_entry_id(lua: ScriptRuntime) -> None:
    printed = run(
        lua,
        """
        local id = Memory.episodic.add(
            "session-123",
            "user",
            "What is Rust?",
            {topic = "programming", priority = "high"}
        )
        return "Added entry: " .. id
        """,
    )
    assert printed.startswith("Added entry: ") and len(printed) > len("Added entry: ")


def test_episodic_search_returns_entries_with_the_documented_fields(lua: ScriptRuntime) -> None:
    _talk(lua)
    entries = run(lua, 'return Memory.episodic.search("session-123", "ownership", 5)')
    assert entries and all(e["session_id"] == "session-123" for e in entries)
    first = entries[0]
    assert {"id", "session_id", "role", "content", "metadata", "created_at"} <= set(first)
    assert first["content"] == "Rust is a programming language. Rust uses ownership."
    assert first["created_at"].endswith("Z")
    tagged = run(lua, 'return Memory.episodic.search("session-123", "What is Rust?")')
    assert tagged[0]["metadata"] == {"topic": "programming", "priority": "high"}
    printed = run(
        lua,
        """
        local out = {}
        for i, entry in ipairs(Memory.episodic.search("session-123", "ownership", 5)) do
            out[#out + 1] = string.format("[%s] %s", entry.role, entry.content)
        end
        return out[1]
        """,
    )
    assert printed == "[assistant] Rust is a programming language. Rust uses ownership."


def test_episodic_search_with_an_empty_session_id_searches_every_session(
    lua: ScriptRuntime,
) -> None:
    _talk(lua)
    sessions = {e["session_id"] for e in run(lua, 'return Memory.episodic.search("", "Rust")')}
    assert sessions == {"session-123", "session-456"}


def test_semantic_query_returns_entities_with_name_and_description(lua: ScriptRuntime) -> None:
    _talk(lua)
    run(lua, 'Memory.consolidate("session-456", true)')
    run(lua, 'Memory.semantic.add_entity{name = "Rust programming", type = "topic"}')
    printed = run(
        lua,
        """
        local out = {}
        for _, entity in ipairs(Memory.semantic.query("Rust programming", 5)) do
            out[#out + 1] = entity.name .. ": " .. entity.description
        end
        return out
        """,
    )
    assert printed[0] == "Rust programming: topic"
    described = run(
        lua,
        'Memory.semantic.add_entity{name = "Ferris", type = "mascot", '
        'properties = {description = "the Rust crab"}} '
        'return Memory.semantic.query("Ferris", 1)[1].description',
    )
    assert described == "the Rust crab"


def test_consolidate_takes_session_id_and_force(lua: ScriptRuntime) -> None:
    _talk(lua)
    printed = run(
        lua,
        """
        local stats = Memory.consolidate("session-456", true)
        return string.format("Processed %d entries", stats.entries_processed) .. "; " ..
            string.format("Extracted %d entities", stats.entities_added)
        """,
    )
    assert printed.startswith("Processed 1 entries; Extracted ")
    assert run(lua, "return Memory.consolidate(nil, false).entries_processed") == 2
    assert run(lua, "return Memory.consolidate().entries_processed") == 0
    assert run(lua, 'return Memory.consolidate{session_id = "session-123"}.entries_processed') == 0


def test_consolidate_refuses_a_force_that_is_not_a_boolean(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        lua.execute('Memory.consolidate("session-123", "yes")')
    assert info.value.evalue == "Memory.consolidate: force must be true or false, got string"


def test_stats_has_the_documented_fields(lua: ScriptRuntime) -> None:
    _talk(lua)
    run(lua, 'Memory.semantic.add_entity{name = "Rust", type = "language"}')
    stats = run(lua, "return Memory.stats()")
    assert stats["episodic_count"] == 3
    assert stats["semantic_count"] == 1
    assert stats["sessions_with_unprocessed"] == 2
    assert stats["has_episodic"] is True and stats["has_semantic"] is True
    assert stats["has_consolidation"] is True
    printed = run(
        lua,
        """
        local stats = Memory.stats()
        return string.format("Episodic: %d entries", stats.episodic_count) .. "; " ..
            string.format("Semantic: %d entities", stats.semantic_count) .. "; " ..
            string.format("Pending: %d sessions", stats.sessions_with_unprocessed)
        """,
    )
    assert printed == "Episodic: 3 entries; Semantic: 1 entities; Pending: 2 sessions"
