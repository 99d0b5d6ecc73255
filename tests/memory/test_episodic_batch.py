"""`EpisodicMemory.add_batch` on every backend (memory, SQLite, PostgreSQL as the app role):
many turns in one write, in order, all or nothing, and only for the storage's tenant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from llmspell.runtime.config import EmbeddingsConfig
from llmspell.runtime.embeddings import Embedder, build_provider
from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.memory import EpisodicMemory, NewTurn
from llmspell.runtime.retrieval import HybridSearch
from llmspell.storage import SqlStorage

OpenStorage = Callable[..., SqlStorage]


def episodic_of(storage: SqlStorage) -> EpisodicMemory:
    embedder = Embedder(build_provider(EmbeddingsConfig(provider="hash")))
    return EpisodicMemory(
        lambda: storage.vectors, embedder, HybridSearch(lambda: storage.vectors, embedder)
    )


@pytest.fixture
def episodic(storage: SqlStorage) -> EpisodicMemory:
    return episodic_of(storage)


def test_a_batch_stores_every_turn_in_the_order_given(episodic: EpisodicMemory) -> None:
    said = datetime(2025, 5, 3, 12, 0, tzinfo=UTC)
    turns = [NewTurn("s", "user", f"turn number {i}", {"n": i}) for i in range(5)]
    turns.append(NewTurn("t", "Alice", "I moved to Lisbon.", None, said))
    ids = episodic.add_batch(turns)
    assert len(ids) == len(set(ids)) == 6
    listed = episodic.session("s")
    assert [e.id for e in listed] == ids[:5]
    assert [e.content for e in listed] == [f"turn number {i}" for i in range(5)]
    assert [e.metadata for e in listed] == [{"n": i} for i in range(5)]
    assert all(e.role == "user" and not e.processed for e in listed)
    alice = episodic.get(ids[5])
    assert (alice.session_id, alice.role, alice.timestamp) == ("t", "Alice", said)
    hits = episodic.search("s", "turn number 3", 1, mode="keyword")
    assert hits[0].id == ids[3]
    assert episodic.count() == 6


def test_a_batch_with_one_bad_turn_stores_nothing_and_names_it(episodic: EpisodicMemory) -> None:
    episodic.add("s", "user", "already here")
    good = NewTurn("s", "user", "fine")
    for bad, reason in (
        (NewTurn("s", "user", "   "), "turn 3: content must be a non-empty string"),
        (NewTurn("", "user", "x"), "turn 3: session_id must be a non-empty string"),
        (NewTurn("s", "r" * 65, "x"), "turn 3: role must be a string of 1-64 characters"),
        (NewTurn("s", "user", "x", None, datetime(2025, 1, 1)), "turn 3: timestamp must be"),
        (NewTurn("s", "user", "nul \x00 inside"), "turn 3: content"),
    ):
        with pytest.raises(InvalidArgument) as raised:
            episodic.add_batch([good, good, bad, good])
        assert str(raised.value).startswith(reason)
    with pytest.raises(InvalidArgument, match="turn 2 must be a NewTurn"):
        episodic.add_batch([good, ("s", "user", "x")])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument, match="turns must be a list of turns"):
        episodic.add_batch("s")  # type: ignore[arg-type]
    assert [e.content for e in episodic.session("s")] == ["already here"]
    assert episodic.count() == 1


def test_an_empty_batch_stores_nothing(episodic: EpisodicMemory) -> None:
    assert episodic.add_batch([]) == []
    assert episodic.count() == 0


def test_a_batch_of_one_tenant_is_invisible_to_another(
    open_test_storage: OpenStorage, unique_tenant: str
) -> None:
    a = episodic_of(open_test_storage(f"{unique_tenant}-a"))
    b = episodic_of(open_test_storage(f"{unique_tenant}-b"))
    ids = a.add_batch([NewTurn("shared", "user", f"secret plan {i}") for i in range(3)])
    b.add_batch([NewTurn("shared", "user", "b's own turn")])
    assert [e.content for e in b.session("shared")] == ["b's own turn"]
    assert [e.content for e in b.search("", "secret plan", 10)] == ["b's own turn"]
    assert not any(b.delete(i) for i in ids)
    assert b.count() == 1 and a.count() == 3
    assert [e.id for e in a.session("shared")] == ids
