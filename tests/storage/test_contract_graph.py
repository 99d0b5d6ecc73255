"""The graph (bi-temporal semantic memory) contract, run on memory, sqlite and postgres.

The row model is storage.md's: valid period x transaction period, updates supersede and
re-record, traversal is one recursive CTE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmspell.storage import SqlStorage
from llmspell.storage.components.graph import SqlGraphStore


def at(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _setup(store: SqlGraphStore) -> None:
    if not store.entity_exists("fixed-a"):
        # Entities with known ids for the call table (add_entity makes random ones).
        a = store.add_entity("A", "person", {"k": 1}, at(2020))
        b = store.add_entity("B", "thing", {}, at(2020))
        _setup.ids = (a, b)  # type: ignore[attr-defined]


def _ids() -> tuple[str, str]:
    return _setup.ids  # type: ignore[attr-defined,no-any-return]


TENANT_FILTER_SETUP: Callable[[SqlGraphStore], None] = _setup
TENANT_FILTER_CALLS: dict[str, Callable[[SqlGraphStore], Any]] = {
    "add_entity": lambda g: g.add_entity("C", "person", {}),
    "update_entity": lambda g: g.update_entity(_ids()[0], {"k": 2}, at(2022)),
    "delete_entity": lambda g: g.delete_entity(_ids()[1]),
    "get_entity": lambda g: g.get_entity(_ids()[0], at(2021), datetime.now(UTC)),
    "entity_exists": lambda g: g.entity_exists(_ids()[0]),
    "entity_history": lambda g: g.entity_history(_ids()[0]),
    "find_entities": lambda g: (
        g.find_entities(type="person", name="a"),
        g.find_entities(containing=["a", "b"], properties={"k": 1}),
    ),
    "count_entities": lambda g: g.count_entities(),
    "add_relationship": lambda g: g.add_relationship(_ids()[0], _ids()[1], "knows", {}),
    "delete_relationship": lambda g: g.delete_relationship(
        g.add_relationship(_ids()[0], _ids()[1], "likes", {})
    ),
    "relationships": lambda g: (
        g.relationships(_ids()[0], "both", "knows"),
        g.relationships(_ids()[0]),
    ),
    "relationship_history": lambda g: g.relationship_history("r"),
    "count_relationships": lambda g: g.count_relationships(),
    "neighbors": lambda g: (
        g.neighbors(_ids()[0], 2, "both", ["knows"]),
        g.neighbors(_ids()[0], 1, "in"),
        g.neighbors(_ids()[0], 3, "out"),
    ),
}


def test_update_supersedes_re_records_and_adds_a_version(storage: SqlStorage) -> None:
    g = storage.graph
    alice = g.add_entity("Alice", "person", {"city": "Paris", "job": "chef"}, at(2020))
    before_update = datetime.now(UTC)
    time.sleep(0.002)
    new = g.update_entity(alice, {"city": "Berlin"}, at(2023, 3))
    assert new is not None and new.properties == {"city": "Berlin", "job": "chef"}, "merged"
    assert g.get_entity(alice).properties["city"] == "Berlin"  # type: ignore[union-attr]
    assert g.get_entity(alice, as_of=at(2022)).properties["city"] == "Paris"  # type: ignore[union-attr]
    history = g.entity_history(alice)
    assert [(h.properties["city"], h.valid_from, h.valid_to) for h in history] == [
        ("Berlin", at(2023, 3), None),
        ("Paris", at(2020), at(2023, 3)),
        ("Paris", at(2020), None),
    ]
    assert history[-1].superseded_at is not None and history[0].superseded_at is None
    believed = g.get_entity(alice, as_of=at(2024), known_at=before_update)
    assert believed is not None and believed.properties["city"] == "Paris"


def test_a_correction_of_the_past_is_seen_only_by_lookups_known_after_it(
    storage: SqlStorage,
) -> None:
    g = storage.graph
    bob = g.add_entity("Bob", "person", {"city": "Rome"}, at(2020))
    g.update_entity(bob, {"city": "Oslo"}, at(2023))
    before = datetime.now(UTC)
    time.sleep(0.002)
    # We learn now that Bob had in fact moved to Lima in 2021.
    g.update_entity(bob, {"city": "Lima"}, at(2021))
    after = datetime.now(UTC)
    corrected = g.get_entity(bob, as_of=at(2022), known_at=after)
    assert corrected is not None and corrected.properties["city"] == "Lima"
    old_belief = g.get_entity(bob, as_of=at(2022), known_at=before)
    assert old_belief is not None and old_belief.properties["city"] == "Rome"
    assert g.get_entity(bob, as_of=at(2020, 6)).properties["city"] == "Rome"  # type: ignore[union-attr]
    assert g.get_entity(bob).properties["city"] == "Lima"  # type: ignore[union-attr]


def test_delete_closes_in_valid_time_and_keeps_history(storage: SqlStorage) -> None:
    g = storage.graph
    x = g.add_entity("X", "thing", {}, at(2020))
    y = g.add_entity("Y", "thing", {}, at(2020))
    g.add_relationship(x, y, "near", {}, at(2020))
    assert g.delete_entity(x) is True
    assert g.get_entity(x) is None
    assert g.get_entity(x, as_of=at(2021)) is not None, "it was true back then"
    assert g.entity_exists(x)
    assert len(g.entity_history(x)) == 2
    assert g.relationships(y, "in") == [], "its relationships are closed with it"
    assert g.delete_entity(x) is False, "already closed"
    assert g.update_entity(x, {"a": 1}) is None


def test_neighbors_follow_direction_types_depth_and_valid_time(storage: SqlStorage) -> None:
    g = storage.graph
    a, b, c, d = (g.add_entity(n, "node", {}, at(2019)) for n in "ABCD")
    g.add_relationship(a, b, "knows", {}, at(2019))
    g.add_relationship(b, c, "likes", {}, at(2019))
    g.add_relationship(c, a, "knows", {}, at(2019))  # a cycle
    g.add_relationship(d, a, "knows", {}, at(2022))

    def names(result: Any) -> list[str]:
        return sorted(node.name for node, _ in result.nodes)

    assert names(g.neighbors(a, 1)) == ["B"]
    deep = g.neighbors(a, 6)
    assert names(deep) == ["B", "C"], "the cycle ends, the start is not a node"
    assert {node.name: hops for node, hops in deep.nodes} == {"B": 1, "C": 2}
    assert len(deep.edges) == 3
    assert names(g.neighbors(a, 1, "in")) == ["C", "D"]
    assert names(g.neighbors(a, 1, "in", as_of=at(2020))) == ["C"]
    assert names(g.neighbors(a, 2, "both", ["knows"])) == ["B", "C", "D"]
    assert names(g.neighbors(a, 3, "out", ["knows"])) == ["B"]
    g.delete_entity(b)
    assert names(g.neighbors(a, 3)) == [], "closed entities are not reached"


@pytest.mark.parametrize("depth", [0, 7, True, 1.5])
def test_neighbors_refuses_depths_outside_one_to_six(storage: SqlStorage, depth: Any) -> None:
    g = storage.graph
    a = g.add_entity("A", "node", {})
    with pytest.raises(ValueError, match="depth must be an integer from 1 to 6"):
        g.neighbors(a, depth)


def test_find_entities_by_type_name_properties_and_words(storage: SqlStorage) -> None:
    g = storage.graph
    g.add_entity("Alice", "person", {"city": "Paris"})
    g.add_entity("Bob", "person", {"city": "Berlin"})
    g.add_entity("Acme", "company", {"city": "Paris"})
    assert [e.name for e in g.find_entities(type="person")] == ["Alice", "Bob"]
    assert [e.name for e in g.find_entities(name="alice")] == ["Alice"]
    assert [e.name for e in g.find_entities(properties={"city": "Paris"})] == ["Acme", "Alice"]
    assert [e.name for e in g.find_entities(containing=["berlin"])] == ["Bob"]
    assert [e.name for e in g.find_entities(containing=["100%_"])] == [], "LIKE is escaped"
    assert len(g.find_entities(limit=2)) == 2
    assert g.count_entities() == 3


def test_relationships_need_existing_entities_and_version_like_entities(
    storage: SqlStorage,
) -> None:
    g = storage.graph
    a = g.add_entity("A", "node", {})
    b = g.add_entity("B", "node", {})
    with pytest.raises(ValueError, match="no entity 'ghost'"):
        g.add_relationship(a, "ghost", "knows", {})
    rel = g.add_relationship(a, b, "works_at", {"role": "dev"}, at(2020))
    assert g.delete_relationship(rel, at(2024)) is True
    assert g.relationships(a, as_of=at(2023))[0].properties == {"role": "dev"}
    assert g.relationships(a) == []
    assert [h.valid_to for h in g.relationship_history(rel)] == [at(2024), None]
    assert g.count_relationships() == 0


def test_valid_to_must_follow_valid_from(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match=r"valid_to .* must be after valid_from"):
        storage.graph.add_entity("A", "node", {}, at(2024), at(2020))
    assert storage.graph.count_entities() == 0


def test_an_entity_valid_until_a_time_is_gone_after_it(storage: SqlStorage) -> None:
    g = storage.graph
    e = g.add_entity("Temp", "thing", {}, at(2020), at(2021))
    assert g.get_entity(e, as_of=at(2020, 6)) is not None
    assert g.get_entity(e) is None
    assert g.get_entity(e, as_of=datetime.now(UTC) - timedelta(days=1)) is None
