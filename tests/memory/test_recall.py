"""Reading a question for speakers, time and anchors, and episodic search that uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmspell.runtime.config import load_config
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.memory import MemoryManager
from llmspell.runtime.retrieval.keyword import query_terms
from llmspell.runtime.retrieval.query import TimeSpan, read_query
from llmspell.runtime.retrieval.rerank import rerank, word_alignment
from llmspell.storage import StorageSettings, open_storage


def test_a_month_and_a_capitalised_name_are_read_from_the_question() -> None:
    read = read_query("What did Alice say in May?")
    assert read.names == ("Alice",)
    assert read.during == TimeSpan(5, None)
    assert "May" not in read.text and "Alice" in read.text


def test_may_opening_a_question_or_in_lower_case_is_not_a_month() -> None:
    assert read_query("May I ask what Bruno cooked?").during is None
    assert read_query("what may happen to the plan?").during is None


def test_a_month_with_a_year_an_iso_date_and_a_bare_year_are_spans() -> None:
    assert read_query("what did we discuss in March 2024").during == TimeSpan(3, 2024)
    assert read_query("notes from 2025-02-28 please").during == TimeSpan(2, 2025, 28)
    assert read_query("what happened in 2023").during == TimeSpan(None, 2023)
    assert read_query("notes from 2025-02-30").during is None  # not a date


def test_before_a_date_is_a_bound_and_before_an_event_is_an_anchor() -> None:
    dated = read_query("What happened before 2025-03-04?")
    assert dated.before == TimeSpan(3, 2025, 4) and dated.during is None
    anchored = read_query("What was Chiara reading just before Dune?")
    assert anchored.before_anchor == "Dune"
    assert anchored.names == ("Chiara",)  # a title in the anchor is not a speaker
    assert read_query("What did Bruno cook after the paella?").after_anchor == "the paella"


def test_span_bounds_cover_the_month_the_day_or_the_year() -> None:
    start, end = TimeSpan(12, 2025).bounds()
    assert (start, end) == (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert TimeSpan(2, None).bounds(2024)[1] == datetime(2024, 3, 1, tzinfo=UTC)
    assert TimeSpan(2, 2025, 28).bounds()[1] == datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="needs one"):
        TimeSpan(2, None).bounds()


@given(st.text(max_size=80))
def test_reading_any_text_never_fails_and_keeps_its_words(text: str) -> None:
    read = read_query(text)
    assert set(read.text.split()) <= set(text.split()) | set(text.replace("?", " ").split())
    assert all(name in text for name in read.names)


def test_question_words_are_not_keywords() -> None:
    assert query_terms("What did Alice say she remembered about the vacation plans?") == [
        "alice",
        "vacation",
        "plans",
    ]


@pytest.fixture
def conversation(memory: MemoryManager) -> dict[str, str]:
    """Two speakers saying the same kind of thing in different months, and a short answer."""
    may, june = datetime(2025, 5, 10, 19, tzinfo=UTC), datetime(2025, 6, 14, 19, tzinfo=UTC)
    turns = [
        ("s1", "Alice", "I'm reading Circe at the moment.", may),
        ("s1", "Bruno", "I'm reading Dune at the moment.", may + timedelta(minutes=1)),
        ("s2", "Alice", "I'm reading Hamnet at the moment.", june),
        ("s2", "Bruno", "What did you end up calling the new puppy?", june + timedelta(minutes=1)),
        ("s2", "Alice", "Biscuit, after my grandad.", june + timedelta(minutes=2)),
        ("s2", "Bruno", "Bye for now!", june + timedelta(minutes=3)),
    ]
    return {
        content: memory.episodic.add(session, role, content, timestamp=at)
        for session, role, content, at in turns
    }


def test_a_named_speaker_outranks_the_other_speakers_same_words(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    [best, *_] = memory.episodic.search("", "Which book is Bruno reading?", 3)
    assert best.id == conversation["I'm reading Dune at the moment."]


def test_a_month_picks_the_turn_of_that_month(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    [best, *_] = memory.episodic.search("", "What was Alice reading in June?", 3)
    assert best.id == conversation["I'm reading Hamnet at the moment."]
    [best, *_] = memory.episodic.search("", "What was Alice reading in May 2025?", 3)
    assert best.id == conversation["I'm reading Circe at the moment."]


def test_before_an_event_picks_the_turn_before_it(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    [best, *_] = memory.episodic.search("", "What was Alice reading before Hamnet?", 3)
    assert best.id == conversation["I'm reading Circe at the moment."]


def test_a_short_answer_is_found_through_the_question_before_it(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    found = [e.id for e in memory.episodic.search("", "What is the name of Alice's puppy?", 2)]
    assert conversation["Biscuit, after my grandad."] in found
    assert conversation["Bye for now!"] not in found


def test_a_name_that_is_no_speaker_is_searched_as_a_word(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    [best, *_] = memory.episodic.search("", "Circe", 1, mode="keyword")
    assert best.id == conversation["I'm reading Circe at the moment."]


def test_an_explicit_role_filter_still_wins_over_a_name_in_the_query(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    found = memory.episodic.search("", "What is Bruno reading?", 5, role="Alice")
    assert found and {e.role for e in found} == {"Alice"}


def test_a_bad_limit_is_refused_with_what_is_allowed(memory: MemoryManager) -> None:
    from llmspell.runtime.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="limit must be a non-negative integer, got -1"):
        memory.episodic.search("", "anything", -1)
    assert memory.episodic.search("", "anything", 0) == []


def test_one_shared_word_is_no_full_keyword_match(memory: MemoryManager) -> None:
    phone = memory.episodic.add("s", "user", "I switched my phone plan to a cheaper one.")
    trip = memory.episodic.add(
        "s", "user", "Our vacation plans are settled: Japan in April, mostly by train."
    )
    found = {
        e.id: e.score or 0.0
        for e in memory.episodic.search("", "vacation plans", 5, mode="keyword")
    }
    assert found[trip] == pytest.approx(1.0)
    assert 0.0 < found[phone] <= 0.5


def test_a_speaker_is_recognised_from_stored_turns_in_a_new_process(tmp_path: Path) -> None:
    settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "m.db"))
    first = open_infra(settings)
    try:
        episodic = first.get(MemoryManager).episodic
        episodic.add("s1", "Alice", "I'm reading Circe at the moment.")
        bruno = episodic.add("s1", "Bruno", "I'm reading Dune at the moment.")
    finally:
        first.close()
    second = open_infra(settings)
    try:
        [best, *_] = second.get(MemoryManager).episodic.search("", "What is Bruno reading?", 2)
        assert best.id == bruno
    finally:
        second.close()


def open_infra(settings: StorageSettings) -> Infrastructure:
    config = load_config(profile="memory", env={}).config
    return Infrastructure(config, storage=open_storage(settings, config.tenancy.tenant_id))


def test_word_alignment_matches_words_not_averages(memory: MemoryManager) -> None:
    embedder = memory.episodic._embedder
    texts = ["Turns out I'm allergic to ragweed, antihistamines help.", "Hello!", "and so it was"]
    aligned = word_alignment("allergy medicine", texts, embedder)
    assert aligned[0] > aligned[1] > aligned[2] == 0.0
    assert word_alignment("the of and", texts, embedder).tolist() == [0.0, 0.0, 0.0]
    assert rerank("allergy", texts, [0.2, 0.2, 0.2], embedder, 0.0).tolist() == [0.2] * 3
    with pytest.raises(ValueError, match="rerank weight must be between 0 and 1, got 2"):
        rerank("allergy", texts, [0.2, 0.2, 0.2], embedder, 2)


def test_the_reranking_stage_is_optional_and_checked(
    memory: MemoryManager, conversation: dict[str, str]
) -> None:
    found = memory.episodic.search("", "Which book is Bruno reading?", 3, rerank=True)
    assert found[0].id == conversation["I'm reading Dune at the moment."]
    assert all(0.0 <= (e.score or 0.0) <= 1.0 for e in found)
    from llmspell.runtime.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="rerank must be true or false, got 'yes'"):
        memory.episodic.search("", "books", 3, rerank="yes")  # type: ignore[arg-type]
