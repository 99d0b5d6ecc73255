"""The Memory global through both engines: episodic, semantic, procedural, consolidate, stats."""

from __future__ import annotations

import subprocess
import sys

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error

from llmspell.runtime import ScriptRuntime


def test_episodic_search_honours_the_query_session_and_options(rt: ScriptRuntime) -> None:
    add = "Memory.episodic.add"
    call(rt, add, "s1", "user", "My cat sleeps on the warm windowsill.")
    call(rt, add, "s1", "assistant", "Quarterly revenue grew by twelve percent.")
    call(rt, add, "s2", "user", "I adopted a kitten last week.")
    hits = call(rt, "Memory.episodic.search", "s1", "Where does the pet nap?", 5)
    assert {h["session_id"] for h in hits} == {"s1"}
    assert "cat" in hits[0]["content"]
    assert 0.0 <= hits[-1]["score"] <= hits[0]["score"] <= 1.0
    everywhere = call(rt, "Memory.episodic.search", "", "kitten", 10)
    assert {h["session_id"] for h in everywhere} == {"s1", "s2"}
    users = call(rt, "Memory.episodic.search", "s1", "revenue", 5, {"role": "assistant"})
    assert [h["role"] for h in users] == ["assistant"]
    strict = call(rt, "Memory.episodic.search", "s1", "revenue", 5, {"min_score": 0.99})
    assert all(h["score"] >= 0.99 for h in as_list(strict))
    future = call(rt, "Memory.episodic.search", "s1", "cat", 5, {"since": "2999-01-01T00:00:00Z"})
    assert as_list(future) == []
    error = call_error(rt, "Memory.episodic.search", "s1", "cat", 5, {"colour": "red"})
    assert "Memory.episodic.search: unknown option 'colour'" in error.evalue
    reranked = call(
        rt, "Memory.episodic.search", "s1", "Where does the pet nap?", 5, {"rerank": True}
    )
    assert "cat" in reranked[0]["content"]
    error = call_error(rt, "Memory.episodic.search", "s1", "cat", 5, {"rerank": "yes"})
    assert "Memory.episodic.search: rerank must be true or false" in error.evalue


def test_episodic_entries_list_get_delete_and_forget(rt: ScriptRuntime) -> None:
    ids = [call(rt, "Memory.episodic.add", "s", "user", f"turn {i}", {"n": i}) for i in range(3)]
    call(rt, "Memory.episodic.add", "other", "user", "elsewhere")
    listed = call(rt, "Memory.episodic.session", "s")
    assert [e["content"] for e in listed] == ["turn 0", "turn 1", "turn 2"]
    assert len(call(rt, "Memory.episodic.session", "s", 2)) == 2
    entry = call(rt, "Memory.episodic.get", ids[1])
    assert entry["metadata"] == {"n": 1} and entry["processed"] is False
    assert entry["timestamp"].endswith("Z") and entry["ingestion_time"].endswith("Z")
    assert call(rt, "Memory.episodic.delete", ids[1]) is True
    assert call(rt, "Memory.episodic.delete", ids[1]) is False
    assert "no episodic entry" in call_error(rt, "Memory.episodic.get", ids[1]).evalue
    assert call(rt, "Memory.episodic.forget", {"session_id": "s"}) == 2
    assert call(rt, "Memory.stats")["episodic_count"] == 1
    assert call(rt, "Memory.episodic.forget", {"before": "2000-01-01T00:00:00Z"}) == 0
    assert call(rt, "Memory.episodic.forget", {}) == 1


def test_episodic_add_refuses_bad_input(rt: ScriptRuntime) -> None:
    error = call_error(rt, "Memory.episodic.add", "s", "user", "")
    assert error.evalue.startswith("Memory.episodic.add: content must be a non-empty string")
    error = call_error(rt, "Memory.episodic.add", "", "user", "x")
    assert "session_id must be a non-empty string" in error.evalue


def test_episodic_add_batch_stores_turns_in_order_all_or_nothing(rt: ScriptRuntime) -> None:
    fn = "Memory.episodic.add_batch"
    turns = [
        {"session_id": "s", "role": "user", "content": f"turn {i}", "metadata": {"n": i}}
        for i in range(3)
    ]
    turns.append(
        {
            "session_id": "s",
            "role": "Bob",
            "content": "long ago",
            "timestamp": "2020-01-02T03:04:05Z",
        }
    )
    ids = call(rt, fn, turns)
    listed = call(rt, "Memory.episodic.session", "s")
    assert [e["id"] for e in listed] == [ids[3], *ids[:3]]
    assert [e["content"] for e in listed] == ["long ago", "turn 0", "turn 1", "turn 2"]
    assert listed[0]["timestamp"].startswith("2020-01-02T03:04:05")
    assert [e["metadata"] for e in listed[1:]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    bad = [
        {"session_id": "s", "role": "user", "content": "fine"},
        {"session_id": "s", "role": "user"},
    ]
    error = call_error(rt, fn, bad)
    assert error.evalue == f"{fn}: turn 2 content must be a string, got nil"
    error = call_error(rt, fn, [turns[0], {**turns[0], "content": " "}])
    assert error.evalue == f"{fn}: turn 2: content must be a non-empty string"
    error = call_error(rt, fn, [turns[0], {**turns[0], "colour": "red"}])
    assert error.evalue.startswith(f"{fn}: turn 2: unknown option 'colour'; allowed: content")
    error = call_error(rt, fn, [turns[0], {**turns[0], "timestamp": "soon"}])
    assert error.evalue.startswith(f"{fn}: turn 2 timestamp")
    assert call_error(rt, fn, "s").evalue.startswith(f"{fn}: turns must be a list of")
    assert as_list(call(rt, fn, [])) == []
    assert len(call(rt, "Memory.episodic.session", "s")) == 4


def test_semantic_graph_versions_query_and_traversal(rt: ScriptRuntime) -> None:
    alice = call(
        rt, "Memory.semantic.add_entity",
        {"name": "Alice", "type": "person", "properties": {"city": "Paris"},
         "valid_from": "2020-01-01T00:00:00Z"},
    )  # fmt: skip
    acme = call(rt, "Memory.semantic.add_entity", {"name": "Acme Corp", "type": "company"})
    call(rt, "Memory.semantic.add_relationship", {"from": alice, "to": acme, "type": "works_at"})
    new = call(
        rt, "Memory.semantic.update_entity", alice, {"city": "Berlin"},
        {"valid_from": "2023-03-01T00:00:00Z"},
    )  # fmt: skip
    assert new["properties"] == {"city": "Berlin"} and new["valid_from"].startswith("2023-03-01")
    then = call(rt, "Memory.semantic.get_entity", alice, {"as_of": "2021-01-01T00:00:00Z"})
    assert then["properties"]["city"] == "Paris"
    assert call(rt, "Memory.semantic.get_entity", alice, {"as_of": 0}) is None
    assert len(call(rt, "Memory.semantic.history", alice)) == 3
    around = call(rt, "Memory.semantic.neighbors", alice, {"depth": 2, "direction": "both"})
    assert [n["name"] for n in around["nodes"]] == ["Acme Corp"]
    assert around["nodes"][0]["depth"] == 1 and around["edges"][0]["type"] == "works_at"
    assert [e["name"] for e in call(rt, "Memory.semantic.query", {"type": "company"})] == [
        "Acme Corp"
    ]
    found = call(rt, "Memory.semantic.query", "acme", 5)
    assert found[0]["name"] == "Acme Corp" and 0 < found[0]["score"] <= 1
    assert call(rt, "Memory.semantic.delete_entity", acme) is True
    assert as_list(call(rt, "Memory.semantic.neighbors", alice)["nodes"]) == []
    error = call_error(rt, "Memory.semantic.get_entity", "nope")
    assert error.evalue.startswith("Memory.semantic.get_entity: no entity 'nope'")
    error = call_error(rt, "Memory.semantic.neighbors", alice, {"depth": 7})
    assert "depth must be <= 6" in error.evalue


def test_adding_an_existing_entity_again_returns_it_without_a_duplicate(rt: ScriptRuntime) -> None:
    spec = {"name": "Alice", "type": "person", "properties": {"city": "Paris"},
            "valid_from": "2020-01-01T00:00:00Z"}  # fmt: skip
    alice = call(rt, "Memory.semantic.add_entity", spec)
    call(rt, "Memory.semantic.update_entity", alice, {"city": "Berlin"},
         {"valid_from": "2023-03-01T00:00:00Z"})  # fmt: skip
    versions = len(call(rt, "Memory.semantic.history", alice))
    assert call(rt, "Memory.semantic.add_entity", {**spec, "name": "alice"}) == alice
    assert len(call(rt, "Memory.semantic.history", alice)) == versions, "same facts: no version"
    assert [e["id"] for e in call(rt, "Memory.semantic.query", {"type": "person"})] == [alice]
    # new facts for the existing entity are merged from their valid_from on
    later = {**spec, "properties": {"city": "Berlin", "team": "data"},
             "valid_from": "2024-01-01T00:00:00Z"}  # fmt: skip
    assert call(rt, "Memory.semantic.add_entity", later) == alice
    assert call(rt, "Memory.semantic.get_entity", alice)["properties"] == {
        "city": "Berlin",
        "team": "data",
    }
    other = call(rt, "Memory.semantic.add_entity", {"name": "Alice", "type": "robot"})
    assert other != alice, "another type is another entity"


def test_procedural_suggestions_need_evidence(rt: ScriptRuntime) -> None:
    record = "Memory.procedural.record"
    lucky = call(rt, record, {"trigger": "deploy", "action": "yolo"})
    assert lucky["success_rate"] == 1.0 and lucky["confidence"] < 0.5
    for _ in range(9):
        call(rt, record, {"trigger": "deploy", "action": "test first"})
    call(rt, record, {"trigger": "deploy", "action": "test first", "outcome": "failure"})
    best = call(rt, "Memory.procedural.suggest", "deploy")
    assert [p["action"] for p in best] == ["test first", "yolo"]
    sure = call(rt, "Memory.procedural.suggest", "deploy", {"min_success_rate": 0.6})
    assert [p["action"] for p in sure] == ["test first"]
    assert [p["action"] for p in call(rt, "Memory.procedural.list", {"min_frequency": 2})] == [
        "test first"
    ]
    error = call_error(rt, record, {"trigger": "t", "action": "a", "outcome": "maybe"})
    assert "outcome must be one of success, failure" in error.evalue


def test_procedural_forget_starts_a_triggers_record_over(rt: ScriptRuntime) -> None:
    record = "Memory.procedural.record"
    for action in ("a", "b", "b"):
        call(rt, record, {"trigger": "deploy", "action": action})
    call(rt, record, {"trigger": "other", "action": "a"})
    assert call(rt, "Memory.procedural.forget", "deploy", "a") == 1
    assert [p["action"] for p in call(rt, "Memory.procedural.suggest", "deploy")] == ["b"]
    assert call(rt, "Memory.procedural.forget", "deploy") == 1
    assert as_list(call(rt, "Memory.procedural.suggest", "deploy")) == []
    assert call(rt, "Memory.procedural.forget", "deploy") == 0
    again = call(rt, record, {"trigger": "deploy", "action": "b"})
    assert (again["successes"], again["failures"]) == (1, 0)
    assert len(call(rt, "Memory.procedural.suggest", "other")) == 1


def test_consolidate_extracts_facts_once_and_stats_count_them(rt: ScriptRuntime) -> None:
    call(rt, "Memory.episodic.add", "s", "user", "My name is Alice. I work at Acme.")
    call(rt, "Memory.episodic.add", "s", "user", "I live in Paris and I love jazz.")
    dry = call(rt, "Memory.consolidate", {"dry_run": True})
    assert dry["entries_processed"] == 2 and dry["dry_run"] is True
    assert call(rt, "Memory.stats")["semantic_entities"] == 0, "a dry run writes nothing"
    report = call(rt, "Memory.consolidate")
    assert report["entities_added"] == 2 and report["relationships_added"] == 1
    assert {d["op"] for d in report["decisions"]} >= {"ADD", "UPDATE"}
    alice = call(rt, "Memory.semantic.query", {"name": "alice"})[0]
    assert alice["properties"] == {"lives_in": "Paris", "likes": ["jazz"]}
    assert call(rt, "Memory.consolidate")["entries_processed"] == 0, "idempotent"
    stats = call(rt, "Memory.stats")
    assert stats["sessions_with_unprocessed"] == 0
    assert stats["semantic_relationships"] == 1 and stats["backend"] == "memory"
    assert stats["embedding_model"] == "wordllama-l2_supercat-256"


def test_llm_consolidation_without_a_provider_says_so(rt: ScriptRuntime) -> None:
    call(rt, "Memory.episodic.add", "s", "user", "hello")
    error = call_error(rt, "Memory.consolidate", {"mode": "llm"})
    assert error.evalue.startswith("Memory.consolidate: mode 'llm' needs an LLM provider")
    assert (
        "mode must be one of rules, llm"
        in call_error(rt, "Memory.consolidate", {"mode": "magic"}).evalue
    )


@pytest.mark.parametrize("engine", ["lua", "python"])
def test_memory_disabled_in_config_is_a_clear_error(make_runtime: MakeRuntime, engine: str) -> None:
    rt = make_runtime(engine, memory__enabled=False)
    error = call_error(rt, "Memory.stats")
    assert error.evalue == "Memory.stats: disabled in config (memory.enabled = false)"
    assert "disabled in config" in call_error(rt, "Memory.episodic.add", "s", "u", "x").evalue


def test_hash_embeddings_can_be_configured_for_tests(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("python", embeddings__provider="hash")
    call(rt, "Memory.episodic.add", "s", "user", "alpha beta")
    assert call(rt, "Memory.stats")["embedding_model"] == "hash-256"
    assert call(rt, "Memory.episodic.search", "s", "alpha", 1)[0]["content"] == "alpha beta"


def test_building_a_runtime_loads_no_memory_dependencies() -> None:
    # SQLAlchemy, numpy and the model load when a script first uses Memory, not at start-up.
    code = (
        "import sys\n"
        "from llmspell.runtime import ScriptRuntime, load_config\n"
        "ScriptRuntime(load_config(profile='memory', env={}).config)\n"
        "print([m for m in ('sqlalchemy', 'numpy', 'wordllama', 'bm25s') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
