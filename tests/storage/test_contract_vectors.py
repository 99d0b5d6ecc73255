"""The vectors contract, one suite run on every backend (memory, sqlite, postgres).

`TENANT_FILTER_CALLS` reaches every statement of every store method; test_components.py checks
that each carries the tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from llmspell.storage import SqlStorage
from llmspell.storage.components.vectors import (
    SUPPORTED_DIMENSIONS,
    NewVector,
    SqlVectorStore,
    VectorFilter,
    VectorModelMismatch,
)

DIM = 128


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _setup(store: SqlVectorStore) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.add("ns", "m", [NewVector(unit(1), "a", id="v1", document_id="d1")])
    store.add("ns", "m", [NewVector(unit(2), "old", id="gone", expires_at=past)])


TENANT_FILTER_SETUP: Callable[[SqlVectorStore], None] = _setup
TENANT_FILTER_CALLS: dict[str, Callable[[SqlVectorStore], Any]] = {
    "add": lambda s: (
        s.add("ns", "m", [NewVector(unit(3), "b", id="v2", document_id="d2")]),
        s.add("ns", "m", [NewVector(unit(4), "c", document_id="d2")], replace_documents={"d2"}),
        s.add("ns", "m", [], replace_documents={"d2"}),
    ),
    "get": lambda s: s.get(["v1"], with_embeddings=True),
    "search": lambda s: s.search("ns", "m", unit(1), 2, VectorFilter(document_ids={"d1"})),
    "similarity": lambda s: s.similarity("ns", "m", unit(1), ["v1"]),
    "scan": lambda s: s.scan("ns", VectorFilter(since=datetime(2000, 1, 1, tzinfo=UTC))),
    "count": lambda s: (s.count("ns"), s.count()),
    "set_metadata": lambda s: s.set_metadata("ns", {"v1": {"k": 1}}),
    "delete": lambda s: s.delete(["v1"]),
    "delete_where": lambda s: s.delete_where("ns", VectorFilter(document_ids={"d1"})),
    "delete_namespace": lambda s: s.delete_namespace("ns"),
    "namespace": lambda s: s.namespace("ns"),
    "namespaces": lambda s: s.namespaces("n"),
    "sweep_expired": lambda s: s.sweep_expired(),
    "index_now": lambda s: s.index_now(),
    "keyword_search": lambda s: (
        s.keyword_search("ns", ["a"], 5, VectorFilter(metadata={"k": 1}), ids=["v1"]),
        s.keyword_search("ns", ["a"], 5),
    ),
    "documents": lambda s: (s.documents("ns"), s.documents("ns", ["d1"])),
    "set_expiry": lambda s: s.set_expiry("ns", datetime.now(UTC) + timedelta(hours=1)),
}


def test_search_ranks_by_cosine_similarity_with_score_one_minus_distance(
    storage: SqlStorage,
) -> None:
    store = storage.vectors
    store.add("ns", "m", [NewVector(unit(i), f"doc {i}", id=f"v{i}") for i in range(20)])
    query = unit(7) + 0.3 * unit(8)
    hits = store.search("ns", "m", query, 3)
    assert hits[0].record.id == "v7"
    assert hits[1].record.id == "v8"
    expected = float(unit(7) @ (query / np.linalg.norm(query)))
    assert hits[0].score == pytest.approx(expected, abs=1e-3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_every_supported_dimension_round_trips_and_others_are_refused(
    storage: SqlStorage,
) -> None:
    for dim in SUPPORTED_DIMENSIONS:
        [vid] = storage.vectors.add(f"d{dim}", "m", [NewVector(unit(dim, dim), "x")])
        [record] = storage.vectors.get([vid], with_embeddings=True)
        assert record.embedding is not None
        assert np.allclose(record.embedding, unit(dim, dim), atol=2e-3)  # halfvec at 3072
        assert storage.vectors.search(f"d{dim}", "m", unit(dim, dim), 1)[0].record.id == vid
    with pytest.raises(ValueError, match=r"dimension 300 .*supported dimensions: 128, 256, 384"):
        storage.vectors.add("bad", "m", [NewVector(np.ones(300), "x")])
    assert storage.vectors.namespace("bad") is None


def test_a_namespace_written_by_one_model_refuses_another_model(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add("ns", "model-a", [NewVector(unit(1), "x")])
    with pytest.raises(VectorModelMismatch, match="holds vectors of model 'model-a'"):
        store.search("ns", "model-b", unit(1), 1)
    with pytest.raises(VectorModelMismatch, match="model-a"):
        store.add("ns", "model-b", [NewVector(unit(2), "y")])
    with pytest.raises(VectorModelMismatch, match="128-d"):
        store.add("ns", "model-a", [NewVector(unit(2, 256), "y")])
    assert store.count("ns") == 1
    info = store.namespace("ns")
    assert info is not None and (info.model, info.dimension) == ("model-a", DIM)


def test_namespaces_are_separate(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add("global", "m", [NewVector(unit(1), "g", id="g")])
    store.add("session:s1", "m", [NewVector(unit(1), "s", id="s")])
    assert [h.record.id for h in store.search("global", "m", unit(1), 5)] == ["g"]
    assert [h.record.id for h in store.search("session:s1", "m", unit(1), 5)] == ["s"]
    assert [n.namespace for n in store.namespaces("session:")] == ["session:s1"]


def test_metadata_document_and_time_filters_are_honoured(storage: SqlStorage) -> None:
    store = storage.vectors
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.add(
        "ns",
        "m",
        [
            NewVector(
                unit(i),
                f"doc {i}",
                id=f"v{i}",
                document_id=f"d{i % 3}",
                metadata={"role": "user" if i % 2 else "assistant", "n": i},
                event_time=t0 + timedelta(days=i),
            )
            for i in range(12)
        ],
    )
    query = unit(100)
    by_role = store.search("ns", "m", query, 12, VectorFilter(metadata={"role": "user"}))
    assert {h.record.id for h in by_role} == {f"v{i}" for i in range(1, 12, 2)}
    by_doc = store.search("ns", "m", query, 12, VectorFilter(document_ids={"d1"}))
    assert {h.record.id for h in by_doc} == {"v1", "v4", "v7", "v10"}
    window = VectorFilter(since=t0 + timedelta(days=3), until=t0 + timedelta(days=5))
    assert {h.record.id for h in store.search("ns", "m", query, 12, window)} == {"v3", "v4", "v5"}
    assert [r.id for r in store.scan("ns", window)] == ["v3", "v4", "v5"]
    both = VectorFilter(document_ids={"d1"}, metadata={"role": "user"})
    assert {h.record.id for h in store.search("ns", "m", query, 12, both)} == {"v1", "v7"}
    assert store.count("ns", both) == 2


def test_expired_vectors_never_come_back_and_are_swept_on_write(storage: SqlStorage) -> None:
    store = storage.vectors
    past = datetime.now(UTC) - timedelta(seconds=5)
    store.add("ns", "m", [NewVector(unit(1), "live", id="live")])
    store.add("ns", "m", [NewVector(unit(1), "dead", id="dead", expires_at=past)])
    assert [h.record.id for h in store.search("ns", "m", unit(1), 5)] == ["live"]
    assert store.get(["dead"]) == []
    assert [r.id for r in store.scan("ns")] == ["live"]
    assert store.count("ns") == 1
    store.add("other", "m", [NewVector(unit(2), "x")])  # a write to the same table sweeps
    assert store.sweep_expired() == 0, "already swept by the write"


def test_sweep_expired_removes_expired_vectors_everywhere(storage: SqlStorage) -> None:
    store = storage.vectors
    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    store.add("a", "m", [NewVector(unit(1), "x", expires_at=soon)])
    store.add("b", "m", [NewVector(unit(2, 256), "y", expires_at=soon)])
    import time

    time.sleep(0.1)
    assert store.sweep_expired() == 2
    assert store.namespaces() == [], "emptied namespaces are released"


def test_delete_by_id_document_and_namespace(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add(
        "ns",
        "m",
        [NewVector(unit(i), f"c{i}", id=f"v{i}", document_id=f"d{i % 2}") for i in range(6)],
    )
    assert store.delete(["v0", "nope"]) == 1
    assert store.delete_where("ns", VectorFilter(document_ids={"d1"})) == 3
    assert sorted(r.id for r in store.scan("ns")) == ["v2", "v4"]
    assert [h.record.id for h in store.search("ns", "m", unit(3), 6)] != []
    assert "v3" not in {h.record.id for h in store.search("ns", "m", unit(3), 6)}
    assert store.delete_namespace("ns") == 2
    assert store.namespace("ns") is None
    assert store.search("ns", "m", unit(2), 3) == []
    store.add("ns", "another-model", [NewVector(unit(1), "fresh")])  # free to reuse


def test_adding_an_existing_id_replaces_it(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add("ns", "m", [NewVector(unit(1), "first", id="v")])
    store.add("ns", "m", [NewVector(unit(2), "second", id="v")])
    assert store.count("ns") == 1
    hits = store.search("ns", "m", unit(2), 5)
    assert [(h.record.id, h.record.content) for h in hits] == [("v", "second")]


@pytest.mark.parametrize(
    ("where", "matches"),
    [
        ({"tags": ["x"]}, False),  # contained in the stored list, not equal to it
        ({"tags": ["x", "y"]}, True),
        ({"o": {"a": 1}}, False),  # a part of the stored object
        ({"o": {"b": 2, "a": 1}}, True),  # key order does not matter
        ({"n": 1.0}, True),  # 1 equals 1.0
        ({"flag": 1}, False),  # true is not 1
        ({"missing": None}, False),
    ],
)
def test_a_metadata_filter_is_exact_json_equality_of_each_key(
    storage: SqlStorage, where: dict[str, Any], matches: bool
) -> None:
    store = storage.vectors
    meta = {"tags": ["x", "y"], "o": {"a": 1, "b": 2}, "n": 1, "flag": True}
    store.add("ns", "m", [NewVector(unit(1), "river", id="v", metadata=meta)])
    chosen = VectorFilter(metadata=where)
    expected = ["v"] if matches else []
    assert [h.record.id for h in store.search("ns", "m", unit(1), 5, chosen)] == expected
    assert [h.record.id for h in store.keyword_search("ns", ["river"], 5, chosen)] == expected
    assert store.count("ns", chosen) == len(expected)


def test_set_metadata_replaces_metadata_and_filters_see_it(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add("ns", "m", [NewVector(unit(1), "x", id="v", metadata={"processed": False})])
    assert store.count("ns", VectorFilter(metadata={"processed": False})) == 1
    assert store.set_metadata("ns", {"v": {"processed": True}}) == 1
    assert store.count("ns", VectorFilter(metadata={"processed": False})) == 0
    assert store.search("ns", "m", unit(1), 1, VectorFilter(metadata={"processed": True}))
    assert store.get(["v"])[0].metadata == {"processed": True}


def test_similarity_scores_named_vectors(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add("ns", "m", [NewVector(unit(i), "x", id=f"v{i}") for i in range(3)])
    scores = store.similarity("ns", "m", unit(1), ["v1", "v2", "missing"])
    assert set(scores) == {"v1", "v2"}
    assert scores["v1"] == pytest.approx(1.0, abs=1e-3)


def test_a_second_store_sees_writes_of_the_first(open_test_storage: Any) -> None:
    first = open_test_storage("shared-tenant")
    second = first.for_tenant("shared-tenant")
    first.vectors.add("ns", "m", [NewVector(unit(1), "one", id="v1")])
    assert [h.record.id for h in second.vectors.search("ns", "m", unit(1), 5)] == ["v1"]
    first.vectors.add("ns", "m", [NewVector(unit(2), "two", id="v2")])
    first.vectors.delete(["v1"])
    assert [h.record.id for h in second.vectors.search("ns", "m", unit(1), 5)] == ["v2"]


def test_bad_input_is_refused_and_nothing_is_stored(storage: SqlStorage) -> None:
    store = storage.vectors
    with pytest.raises(ValueError, match="NaN"):
        store.add("ns", "m", [NewVector(np.full(DIM, np.nan), "x")])
    with pytest.raises(ValueError, match="given twice"):
        store.add("ns", "m", [NewVector(unit(1), "a", id="x"), NewVector(unit(2), "b", id="x")])
    with pytest.raises(ValueError, match="128 dimensions; the others have 256"):
        store.add("ns", "m", [NewVector(unit(1, 256), "a"), NewVector(unit(1), "b")])
    with pytest.raises(ValueError, match="namespace must be a non-empty string"):
        store.add("", "m", [NewVector(unit(1), "a")])
    with pytest.raises(ValueError, match="metadata cannot be stored as JSON"):
        store.add("ns", "m", [NewVector(unit(1), "a", metadata={"f": object()})])
    assert store.namespaces() == []


def test_adding_an_existing_id_to_another_namespace_moves_it(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add("a", "m", [NewVector(unit(1), "x", id="v")])
    assert [h.record.id for h in store.search("a", "m", unit(1), 5)] == ["v"]
    store.add("b", "m", [NewVector(unit(1), "x", id="v")])
    assert store.namespace("a") is None, "the emptied namespace is released"
    assert store.search("a", "m", unit(1), 5) == []
    store.add("c", "m", [NewVector(unit(1, 256), "y", id="v")])
    assert [(r.namespace, r.content) for r in store.get(["v"])] == [("c", "y")]
    assert [n.namespace for n in store.namespaces()] == ["c"]


def _texts(store: SqlVectorStore, namespace: str, texts: dict[str, str], **extra: Any) -> None:
    store.add(
        namespace,
        "m",
        [NewVector(unit(i), text, id=vid, **extra) for i, (vid, text) in enumerate(texts.items())],
    )


def test_keyword_search_finds_stemmed_words_and_ranks_the_better_match_first(
    storage: SqlStorage,
) -> None:
    store = storage.vectors
    _texts(
        store,
        "ns",
        {
            "cats": "Cats sleep sixteen hours a day; a sleeping cat is a happy cat.",
            "dogs": "Dogs bark at the mail carrier every single morning.",
            "mixed": "One cat, many dogs, and a long list of other animals of the farm.",
        },
    )
    hits = store.keyword_search("ns", ["cat", "sleeps"], 5)
    assert [h.record.id for h in hits] == ["cats", "mixed"]
    assert hits[0].score > hits[1].score > 0
    assert store.keyword_search("ns", ["zebra"], 5) == []
    assert store.keyword_search("ns", [], 5) == []
    assert [h.record.id for h in store.keyword_search("ns", ["cat", "dogs"], 1)] == ["mixed"]


def test_keyword_search_honours_namespace_filters_ids_and_expiry(storage: SqlStorage) -> None:
    store = storage.vectors
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.add(
        "ns",
        "m",
        [
            NewVector(unit(1), "alpha code", id="a", document_id="d1", metadata={"k": 1}),
            NewVector(unit(2), "alpha code again", id="b", document_id="d2", metadata={"k": 2}),
            NewVector(unit(3), "alpha expired", id="c", expires_at=past),
        ],
    )
    _texts(store, "other", {"o": "alpha elsewhere"})
    assert {h.record.id for h in store.keyword_search("ns", ["alpha"], 10)} == {"a", "b"}
    only_k2 = store.keyword_search("ns", ["alpha"], 10, VectorFilter(metadata={"k": 2}))
    assert [h.record.id for h in only_k2] == ["b"]
    by_doc = store.keyword_search("ns", ["alpha"], 10, VectorFilter(document_ids={"d1"}))
    assert [h.record.id for h in by_doc] == ["a"]
    assert [h.record.id for h in store.keyword_search("ns", ["alpha"], 10, ids=["b", "o"])] == ["b"]


def test_keyword_search_refuses_terms_that_are_not_words(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="must be words"):
        storage.vectors.keyword_search("ns", ['a" OR "b'], 5)
    with pytest.raises(ValueError, match="list of words"):
        storage.vectors.keyword_search("ns", "alpha", 5)


def test_the_keyword_index_follows_deletes_and_replacements(storage: SqlStorage) -> None:
    store = storage.vectors
    _texts(store, "ns", {"v": "original wording"})
    store.add("ns", "m", [NewVector(unit(9), "replacement text", id="v")])
    assert store.keyword_search("ns", ["original"], 5) == []
    assert [h.record.id for h in store.keyword_search("ns", ["replacement"], 5)] == ["v"]
    store.delete(["v"])
    assert store.keyword_search("ns", ["replacement"], 5) == []


def test_replace_documents_swaps_a_documents_vectors_in_one_add(storage: SqlStorage) -> None:
    store = storage.vectors
    store.add(
        "ns",
        "m",
        [NewVector(unit(i), f"old {i}", document_id="doc") for i in range(3)]
        + [NewVector(unit(5), "keep", id="keep", document_id="other")],
    )
    _texts(store, "elsewhere", {"e": "same document id elsewhere"}, document_id="doc")
    store.search("ns", "m", unit(1), 5)  # a cached matrix must follow the replacement
    store.add("ns", "m", [NewVector(unit(7), "new", document_id="doc")], replace_documents={"doc"})
    assert sorted(r.content for r in store.scan("ns")) == ["keep", "new"]
    assert {h.record.content for h in store.search("ns", "m", unit(1), 10)} == {"keep", "new"}
    assert store.count("elsewhere") == 1, "only the namespace's vectors are replaced"
    store.add("ns", "m", [], replace_documents={"doc"})
    assert [r.content for r in store.scan("ns")] == ["keep"]


def test_documents_summarise_each_document_newest_first(storage: SqlStorage) -> None:
    store = storage.vectors
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.add(
        "ns",
        "m",
        [
            NewVector(unit(i), "x" * (i + 1), document_id="a", metadata={"part": i},
                      event_time=t0 + timedelta(days=i))
            for i in range(3)
        ],
    )  # fmt: skip
    soon = datetime.now(UTC) + timedelta(hours=1)
    store.add("ns", "m", [NewVector(unit(9), "yy", document_id="b", expires_at=soon)])
    store.add("ns", "m", [NewVector(unit(10), "no document")])
    summaries = store.documents("ns")
    assert [d.document_id for d in summaries] == ["b", "a"]
    b, a = summaries
    assert (a.vectors, a.content_chars, a.metadata, a.expires_at) == (3, 6, {"part": 0}, None)
    assert b.expires_at is not None and abs((b.expires_at - soon).total_seconds()) < 1
    assert [d.document_id for d in store.documents("ns", ["a", "zzz"])] == ["a"]
    assert store.documents("nothing-here") == []


def test_set_expiry_gives_every_vector_of_a_namespace_its_expiry(storage: SqlStorage) -> None:
    store = storage.vectors
    _texts(store, "ns", {"a": "one", "b": "two"})
    _texts(store, "other", {"c": "three"})
    assert store.set_expiry("ns", datetime.now(UTC) - timedelta(seconds=1)) == 2
    assert store.search("ns", "m", unit(0), 5) == []
    assert store.count("ns") == 0
    assert store.count("other") == 1
    assert store.set_expiry("missing", None) == 0
