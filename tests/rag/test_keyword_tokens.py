"""`keyword_tokens` (the terms hybrid search's keyword coverage and `KeywordIndex` compare) is
bm25s's tokenizer with English stop words and Snowball stems, without its per-call vocabulary:
the same tokens for every text, long ones included."""

from __future__ import annotations

import bm25s
import pytest

from llmspell.runtime.retrieval.keyword import _stemmer, keyword_tokens, query_coverage

TEXTS = [
    "The ferries were running late; passengers' tickets (KQ-88) are refunded.",
    "Cafés, naïve façades and Straße: UNICODE words_with_underscores 42 x7 a b",
    "",
    "!!! ??? ...",
    "Running runs runner's run: the RUN_BOOK says so, and so do the runbooks.",
    " ".join(f"word{i % 97} sailing harbours" for i in range(40_000)),  # sliced into pieces
]


def bm25s_tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False
    )


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_keyword_tokens_are_bm25s_tokens(text: str) -> None:
    assert keyword_tokens([text]) == bm25s_tokens([text])


def test_keyword_tokens_of_many_texts_keep_their_order() -> None:
    assert keyword_tokens(TEXTS[:5]) == [bm25s_tokens([t])[0] for t in TEXTS[:5]]


def test_coverage_is_the_share_of_the_querys_terms_a_text_holds() -> None:
    coverage = query_coverage("late ferry tickets", TEXTS[:3])
    assert coverage.tolist() == [1.0, 0.0, 0.0]
    assert query_coverage("ferry runbook", TEXTS[:5]).tolist() == [0.5, 0.0, 0.0, 0.0, 0.5]
