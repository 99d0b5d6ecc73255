"""The in-process keyword index (`llmspell.storage.keyword_index`): the same ranking as SQLite
FTS5's `bm25()` over the same rows, the same scores after any sequence of inserts, replacements
and deletes as an index built afresh from the remaining rows, and filters that agree with
`VectorFilter.matches` row by row."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.storage import keyword_index
from llmspell.storage.keyword_index import NamespaceKeywords, check_terms, index_terms
from llmspell.storage.vector_matrix import VectorFilter

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TEXTS = {
    "cats": "Cats sleep sixteen hours a day; a sleeping cat is a happy cat.",
    "dogs": "Dogs bark at the mail carrier every single morning.",
    "mixed": "One cat, many dogs, and a long list of other animals of the farm.",
    "cafe": "The café on the corner sells coffee; CAFES and cafés everywhere.",
    "runs": "Running runners run; the run_book says RUN_FAST at 10:30 and 42 runs.",
    "farm": "A farm of sheep and goats, the sheep sleeping in the barn all winter.",
    "long": " ".join(["sheep"] * 30 + ["coffee"] * 3 + ["winter"]),
    "empty": "",
    "punct": "!!! ... ???",
}
QUERIES = [
    ["cat", "sleeps"],
    ["cat", "dogs"],
    ["cafe"],
    ["run"],
    ["sheep", "coffee", "winter"],
    ["farm", "barn", "morning", "zebra"],
    ["running", "runs"],
    ["42", "10"],
    ["as", "is", "a"],
]


def row(vid: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "content": content,
        "document_id": extra.get("document_id"),
        "metadata": extra.get("metadata", {}),
        "event_time": extra.get("event_time"),
        "expires_at": extra.get("expires_at"),
    }


def index_of(texts: Mapping[str, str]) -> NamespaceKeywords:
    index = NamespaceKeywords("g")
    index.add_rows(row(vid, text) for vid, text in texts.items())
    return index


def fts5_ranking(texts: Mapping[str, str], words: list[str]) -> list[tuple[str, float]]:
    """SQLite's own answer: an FTS5 table with the vectors tables' tokenizer, ranked by
    `bm25()` (negated: higher is better), ties by id."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE docs (id TEXT, content TEXT)")
    db.execute(
        "CREATE VIRTUAL TABLE docs_fts USING fts5(content, content='docs', content_rowid='rowid',"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.executemany("INSERT INTO docs VALUES (?, ?)", list(texts.items()))
    db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('rebuild')")
    rows = db.execute(
        "SELECT docs.id, -bm25(docs_fts) AS score FROM docs_fts "
        "JOIN docs ON docs.rowid = docs_fts.rowid WHERE docs_fts MATCH ? "
        "ORDER BY score DESC, docs.id",
        [" OR ".join(f'"{w}"' for w in words)],
    ).fetchall()
    db.close()
    return [(vid, float(score)) for vid, score in rows]


# ASCII-only texts take the index's faster tokenizing path
ASCII_TEXTS = {vid: body for vid, body in TEXTS.items() if body.isascii()}


@pytest.mark.parametrize("texts", [TEXTS, ASCII_TEXTS], ids=["unicode", "ascii"])
@pytest.mark.parametrize("words", QUERIES, ids=lambda w: "+".join(w))
def test_the_index_ranks_and_scores_like_fts5_bm25(texts: dict[str, str], words: list[str]) -> None:
    expected = fts5_ranking(texts, words)
    found = index_of(texts).search(words, len(texts), None, None, NOW)
    assert [vid for vid, _ in found] == [vid for vid, _ in expected]
    for (_, score), (_, fts_score) in zip(found, expected, strict=True):
        assert score == pytest.approx(fts_score, rel=1e-9)
        assert score > 0


def test_tokens_are_folded_and_porter_stemmed_from_three_bytes() -> None:
    assert index_terms("Cafés SLEEPING cats, run_book 42") == [
        "cafe",
        "sleep",
        "cat",
        "run",
        "book",
        "42",
    ]
    assert index_terms("as is") == ["as", "is"]  # too short to stem, as in FTS5


def test_k_limits_the_hits_and_ties_order_by_id() -> None:
    index = index_of({"b": "same words", "a": "same words", "c": "same words", "d": "other"})
    assert index.search(["same"], 2, None, None, NOW) == [
        ("a", pytest.approx(index.scores(["same"])[1])),
        ("b", pytest.approx(index.scores(["same"])[0])),
    ]
    assert index.search(["same"], 0, None, None, NOW) == []
    assert index.search(["absent"], 5, None, None, NOW) == []


def test_terms_must_be_a_short_list_of_words() -> None:
    assert check_terms(["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(ValueError, match="must be words"):
        check_terms(['a" OR "b'])
    with pytest.raises(ValueError, match="list of words"):
        check_terms("alpha")
    with pytest.raises(ValueError, match="at most 64 keyword terms, got 65"):
        check_terms([f"w{i}" for i in range(65)])


WORDS = ["alpha", "beta", "gamma", "delta", "alphas", "epsilon"]
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.lists(
                st.tuples(
                    st.integers(0, 11), st.lists(st.sampled_from(WORDS), min_size=0, max_size=6)
                ),
                min_size=1,
                max_size=4,
                unique_by=lambda pair: pair[0],
            ),
        ),
        st.tuples(st.just("remove"), st.lists(st.integers(0, 11), max_size=3)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_after_any_writes_the_index_scores_like_one_built_from_the_remaining_rows(
    steps: list[tuple[str, Any]],
) -> None:
    # Merge after a handful of postings, so merges and slot renumbering happen in the sequence.
    with mock.patch.object(keyword_index, "MIN_MERGE", 4):
        index = NamespaceKeywords("g")
        stored: dict[str, str] = {}
        for kind, payload in steps:
            if kind == "add":
                added = {f"v{n}": " ".join(words) for n, words in payload}
                index.add_rows(row(vid, text) for vid, text in added.items())
                stored.update(added)
            else:
                gone = [f"v{n}" for n in payload]
                index.remove(gone)
                for vid in gone:
                    stored.pop(vid, None)
        fresh = index_of(stored)
    assert len(index) == len(stored)
    for words in (["alpha"], ["beta", "gamma"], WORDS):
        got = dict(index.search(words, 100, None, None, NOW))
        want = dict(fresh.search(words, 100, None, None, NOW))
        assert got.keys() == want.keys()
        for vid, score in want.items():
            assert got[vid] == pytest.approx(score, rel=1e-9)


def test_filters_ids_and_expiry_choose_exactly_the_rows_vector_filter_matches() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        event = NOW - timedelta(days=int(rng.integers(0, 30))) if i % 5 else None
        expires = NOW - timedelta(seconds=1) if i % 7 == 0 else None
        rows.append(
            row(
                f"v{i:02d}",
                " ".join(rng.choice(WORDS, size=int(rng.integers(1, 8)))),
                document_id=f"d{i % 4}" if i % 6 else None,
                metadata={"k": i % 3, "tag": "x" if i % 2 else "y"},
                event_time=event,
                expires_at=expires,
            )
        )
    index = NamespaceKeywords("g")
    index.add_rows(rows)
    filters = [
        None,
        VectorFilter(document_ids=frozenset({"d1", "d3"})),
        VectorFilter(metadata={"k": 2}),
        VectorFilter(since=NOW - timedelta(days=10), until=NOW - timedelta(days=2)),
        VectorFilter(document_ids=frozenset({"d2"}), metadata={"tag": "x"}, since=NOW),
    ]
    scores = dict(index.search(["alpha", "delta"], 100, None, None, NOW))
    chosen = {f"v{i:02d}" for i in range(0, 60, 2)}
    for where in filters:
        for ids in (None, chosen):
            expected = {
                r["id"]
                for r in rows
                if (r["expires_at"] is None)
                and (
                    where is None or where.matches(r["document_id"], r["metadata"], r["event_time"])
                )
                and (ids is None or r["id"] in ids)
                and any(w in r["content"] for w in ("alpha", "delta"))
            }
            found = index.search(["alpha", "delta"], 100, where, ids, NOW)
            assert {vid for vid, _ in found} == expected
            assert all(score == pytest.approx(scores[vid]) for vid, score in found)
            assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
