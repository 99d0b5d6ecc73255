"""Consolidation: rules mode (deterministic extraction, updates, idempotence, dry runs) and the
llm mode's interface (a provider callable, decisions validated against the JSON schema)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from llmspell.runtime.errors import ServiceError
from llmspell.runtime.memory import MemoryManager
from llmspell.runtime.memory.rules import extract_facts
from llmspell.storage.components.vectors import NewVector


def person(memory: MemoryManager, name: str) -> Any:
    found = memory.semantic.find_one(name, "person")
    assert found is not None, name
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bob works at Initech since 2019.", ("Bob", "relationship", "works_at", "Initech")),
        ("Carol lives in Lyon.", ("Carol", "property", "lives_in", "Lyon")),
        ("Dan moved to New York in March 2022.", ("Dan", "property", "lives_in", "New York")),
        ("Eve is a marine biologist.", ("Eve", "property", "is_a", "marine biologist")),
        ("Finn was born on 1990-04-02.", ("Finn", "property", "born", "1990-04-02")),
        ("Gina loves rock climbing.", ("Gina", "list", "likes", "rock climbing")),
        ("Hal hates olives.", ("Hal", "list", "dislikes", "olives")),
        ("Ivy prefers green tea.", ("Ivy", "property", "prefers", "green tea")),
        ("Jo's favourite colour is teal.", ("Jo", "property", "favourite_colour", "teal")),
    ],
)
def test_each_documented_rule_extracts_its_fact(text: str, expected: tuple[str, ...]) -> None:
    [fact] = extract_facts(text, None, first_person=False)
    assert (fact.subject, fact.kind, fact.key, fact.value) == expected


def test_dates_become_valid_from_and_first_person_is_the_named_speaker() -> None:
    facts = extract_facts("I work for Globex since March 5, 2021.", "Maya", first_person=True)
    assert [(f.subject, f.value, f.valid_from) for f in facts] == [
        ("Maya", "Globex", datetime(2021, 3, 5, tzinfo=UTC))
    ]
    assert extract_facts("I work for Globex.", None, first_person=False) == []
    assert extract_facts("The weather is nice.", None, first_person=True) == []


def test_rules_build_the_graph_and_a_changed_fact_updates_with_history(
    memory: MemoryManager,
) -> None:
    said = datetime(2020, 5, 1, tzinfo=UTC)  # when the turns happened: the facts' valid time
    memory.episodic.add(
        "s", "user", "My name is Alice. I live in Paris. I work at Acme.", None, said
    )
    memory.episodic.add("s", "assistant", "Nice to meet you, Alice!", None, said)
    report = memory.consolidate()
    assert (report.entries_processed, report.entities_added, report.relationships_added) == (
        2, 2, 1,
    )  # fmt: skip
    assert report.skipped == 1, "the assistant's greeting holds no fact"
    alice = person(memory, "Alice")
    assert alice.properties == {"lives_in": "Paris"}

    memory.episodic.add("s", "user", "I moved to Berlin in 2024. I work at Globex now.")
    report = memory.consolidate()
    assert report.entities_updated == 1 and report.relationships_closed == 1
    assert person(memory, "Alice").properties["lives_in"] == "Berlin"
    history = memory.semantic.history(alice.id)
    assert {h.properties.get("lives_in") for h in history} >= {"Paris", "Berlin"}
    then = memory.semantic.get_entity(alice.id, as_of=datetime(2023, 6, 1, tzinfo=UTC))
    assert then is not None and then.properties["lives_in"] == "Paris", "closed in valid time"
    employers = [
        memory.semantic.get_entity(edge.to_id).name  # type: ignore[union-attr]
        for edge in memory.semantic.relationships(alice.id, "out", "works_at")
    ]
    assert employers == ["Globex"], "one employer at a time"


def test_consolidation_is_idempotent_and_restated_facts_are_noops(memory: MemoryManager) -> None:
    memory.episodic.add("s", "user", "Bob lives in Rome.")
    first = memory.consolidate()
    assert first.entities_added == 1
    again = memory.consolidate()
    assert (again.entries_processed, again.entities_added, again.decisions) == (0, 0, [])
    memory.episodic.add("s", "user", "Bob lives in Rome.")
    restated = memory.consolidate()
    assert [d.op for d in restated.decisions] == ["NOOP"]
    assert (
        restated.entities_updated == 0
        and len(memory.semantic.history(person(memory, "Bob").id)) == 1
    )


def test_dry_run_reports_without_writing_or_marking(memory: MemoryManager) -> None:
    memory.episodic.add("s", "user", "Cleo works at Umbrella. Cleo loves chess.")
    dry = memory.consolidate(dry_run=True)
    assert [d.op for d in dry.decisions] == ["ADD", "UPDATE"]
    assert dry.entities_added == 2 and dry.relationships_added == 1
    assert memory.semantic.counts() == (0, 0)
    assert len(memory.episodic.unprocessed()) == 1
    real = memory.consolidate()
    assert [d.as_dict()["op"] for d in real.decisions] == ["ADD", "UPDATE"]
    assert memory.semantic.counts() == (2, 1)


def test_a_session_id_limits_consolidation_to_that_session(memory: MemoryManager) -> None:
    memory.episodic.add("a", "user", "Dora lives in Oslo.")
    memory.episodic.add("b", "user", "Ezra lives in Quito.")
    assert memory.consolidate("a").entries_processed == 1
    assert [e.session_id for e in memory.episodic.unprocessed()] == ["b"]


def fake_llm(reply: dict[str, Any] | str) -> tuple[list[str], Any]:
    prompts: list[str] = []

    def provider(prompt: str) -> str:
        prompts.append(prompt)
        return reply if isinstance(reply, str) else json.dumps(reply)

    return prompts, provider


def test_llm_mode_applies_validated_decisions_from_the_provider(memory: MemoryManager) -> None:
    memory.semantic.add_entity("Finn", "person", {"city": "Cork"})
    memory.episodic.add("s", "user", "Finn moved to Galway and joined Stripe.")
    prompts, provider = fake_llm(
        {
            "decisions": [
                {"op": "UPDATE", "entity": {"name": "Finn", "type": "person"},
                 "properties": {"city": "Galway"}, "valid_from": "2025-01-01T00:00:00Z"},
                {"op": "ADD", "entity": {"name": "Finn", "type": "person"},
                 "relationship": {"type": "works_at", "to": {"name": "Stripe", "type": "org"}}},
                {"op": "NOOP", "entity": {"name": "Finn", "type": "person"}},
            ]
        }
    )  # fmt: skip
    memory.llm_provider = provider
    report = memory.consolidate(mode="llm")
    assert "Finn moved to Galway" in prompts[0] and '"Cork"' in prompts[0]
    assert (report.entities_updated, report.entities_added, report.relationships_added) == (1, 1, 1)
    finn = person(memory, "Finn")
    assert finn.properties["city"] == "Galway"
    assert finn.valid_from == datetime(2025, 1, 1, tzinfo=UTC)
    assert memory.episodic.unprocessed() == []


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("not json", "is not JSON"),
        ({"decisions": [{"op": "MERGE", "entity": {"name": "x", "type": "y"}}]}, "decisions/0/op"),
        ({"decisions": [{"op": "ADD"}]}, "'entity' is a required property"),
        ({"decision": []}, "'decisions' is a required property"),
    ],
)
def test_llm_replies_that_break_the_schema_change_nothing(
    memory: MemoryManager, reply: Any, message: str
) -> None:
    memory.episodic.add("s", "user", "Gus lives in Bonn.")
    _, provider = fake_llm(reply)
    memory.llm_provider = provider
    with pytest.raises(ServiceError, match=message):
        memory.consolidate(mode="llm")
    assert memory.semantic.counts() == (0, 0)
    assert len(memory.episodic.unprocessed()) == 1


def test_delete_session_data_removes_episodic_entries_and_session_vectors(
    memory: MemoryManager, infra: Any
) -> None:
    memory.episodic.add("doomed", "user", "one")
    memory.episodic.add("doomed", "user", "two")
    memory.episodic.add("kept", "user", "three")
    vectors = infra.storage.vectors
    embedder = memory.embedder
    vectors.add("session:doomed", embedder.model, [NewVector(embedder.embed_one("chunk"), "chunk")])
    vectors.add("session:kept", embedder.model, [NewVector(embedder.embed_one("chunk"), "chunk")])
    assert memory.delete_session_data("doomed") == 3
    assert memory.episodic.session("doomed") == []
    assert [e.content for e in memory.episodic.session("kept")] == ["three"]
    assert vectors.namespace("session:doomed") is None
    assert vectors.count("session:kept") == 1
    assert memory.delete_session_data("doomed") == 0


def test_the_session_cascade_works_with_memory_disabled(memory: MemoryManager, infra: Any) -> None:
    from llmspell.runtime.config import load_config, with_overrides
    from llmspell.runtime.errors import Disabled
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.sessions.vectors import SessionVectors

    memory.episodic.add("s", "user", "written while memory was on")
    config = with_overrides(load_config(profile="memory", env={}).config, {"memory.enabled": False})
    disabled = Infrastructure(config, storage=infra.storage)  # the same database
    with pytest.raises(Disabled):
        disabled.get(MemoryManager)
    assert disabled.get(SessionVectors).delete_session_data("s") == 1
    assert memory.episodic.session("s") == []
