"""Keywords: the words of a query a keyword index looks up (`query_terms`), and `KeywordIndex`,
BM25 over a fixed list of texts (bm25s, English stop words, Snowball stems) for callers that
rank their own candidates. Namespaces of the vectors store have their own keyword index
(`VectorStore.keyword_search`, `llmspell.storage.keyword_index`).

Text is tokenized in slices, with the limits of the script waiting for it checked between them
(`host_limits`): a query or a candidate can be megabytes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np

from llmspell.runtime.host_limits import UNLIMITED, HostLimits, slice_groups, text_slices

_WORDS = re.compile(r"\w+")
MAX_QUERY_TERMS = 64
GROUP_CHARS = 256 * 1024  # text tokenized between two checks of the limits


# Words a question uses to ask rather than to say what it is about ("what did Alice *say*
# about...", "do you *remember*..."): a keyword match on them says nothing about a text.
QUESTION_WORDS = frozenset(
    {
        "say", "says", "said", "saying", "tell", "tells", "told", "mention", "mentions",
        "mentioned", "talk", "talks", "talked", "ask", "asks", "asked", "remember",
        "remembers", "remembered", "recall", "think", "thought", "know", "knew", "ever",
        "anything", "something", "someone", "somebody", "thing", "things",
    }
)  # fmt: skip


@cache
def _stop_words() -> frozenset[str]:
    # NLTK's English list (179 words, with question words: what, when, how, you...): a
    # keyword match on "when" or "you" says nothing about a document, and on questions
    # written in full sentences such matches pushed unrelated chunks up the fused ranking.
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | QUESTION_WORDS


def is_stop_word(word: str) -> bool:
    """Whether a lower-cased word is one keyword search ignores in queries."""
    return word in _stop_words()


def query_terms(query: str, limits: HostLimits = UNLIMITED) -> list[str]:
    """The distinct lower-cased words of `query` (letters, digits, _) without English stop
    words (NLTK's list) and QUESTION_WORDS, in order, at most MAX_QUERY_TERMS: what a keyword
    index is asked for."""
    terms: list[str] = []
    stop = _stop_words()
    for _, piece in text_slices(query):
        limits.check_stop()
        for word in dict.fromkeys(_WORDS.findall(piece.lower())):
            if word not in stop and word not in terms:
                terms.append(word)
                if len(terms) == MAX_QUERY_TERMS:
                    return terms
    return terms


def stem(word: str) -> str:
    """The Snowball (English) stem of a lower-cased word."""
    return str(_stemmer().stemWord(word))


@cache
def _stemmer() -> Any:
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer("english")


# bm25s's (scikit-learn's) `\b\w\w+\b`: the same maximal runs of 2+ word characters, faster
_BM25_TOKEN = re.compile(r"\w\w+")
MAX_CACHED_STEMS = 500_000


class _Stems(dict[str, str]):
    """word -> Snowball stem, each word stemmed once per process (up to MAX_CACHED_STEMS)."""

    def __missing__(self, word: str) -> str:
        stemmed = stem(word)
        if len(self) < MAX_CACHED_STEMS:
            self[word] = stemmed
        return stemmed


_STEMS = _Stems()


@cache
def _index_stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def _words(texts: Sequence[str], limits: HostLimits) -> Iterator[tuple[int, list[str]]]:
    """(index of its text, lower-cased words of 2+ characters) per slice of every text."""
    for group in slice_groups(texts, GROUP_CHARS):
        limits.check_stop()
        for row, piece in group:
            yield row, _BM25_TOKEN.findall(piece.lower())


def keyword_tokens(texts: Sequence[str], limits: HostLimits = UNLIMITED) -> list[list[str]]:
    """The terms BM25 sees for each text: lower-cased words of 2+ characters, English stop
    words removed, Snowball-stemmed (what `bm25s.tokenize(..., stopwords="en", stemmer=...)`
    returns, without its per-call vocabulary: hybrid search tokenizes every candidate)."""
    stop, stems = _index_stop_words(), _STEMS
    found: list[list[str]] = [[] for _ in texts]
    for row, words in _words(texts, limits):
        found[row].extend([stems[word] for word in words if word not in stop])
    return found


class KeywordIndex:
    """BM25 scores of a query against every text of the corpus it was built on."""

    def __init__(self, texts: Sequence[str], limits: HostLimits = UNLIMITED) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG on import, which would print "Building index"
        # through the CLI's handler on every rebuild.
        logging.getLogger("bm25s").setLevel(logging.WARNING)

        self.size = len(texts)
        self._limits = limits
        self._retriever: Any = None
        if self.size:
            self._retriever = bm25s.BM25()
            self._retriever.index(keyword_tokens(texts, limits), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score (>= 0) per corpus text, in corpus order."""
        if self._retriever is None:
            return np.zeros(self.size, dtype=np.float32)
        vocabulary = self._retriever.vocab_dict
        terms = [t for t in keyword_tokens([query], self._limits)[0] if t in vocabulary]
        if not terms:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float32)


def query_coverage(query: str, texts: Sequence[str], limits: HostLimits = UNLIMITED) -> np.ndarray:
    """For each text, the share of the query's distinct terms it contains (0..1)."""
    terms = set(keyword_tokens([" ".join(query_terms(query, limits))], limits)[0])
    if not terms or not texts:
        return np.zeros(len(texts))
    stop, stems = _index_stop_words(), _STEMS
    held: list[set[str]] = [set() for _ in texts]
    for row, words in _words(texts, limits):
        held[row].update(map(stems.__getitem__, set(words) - stop))
    return np.array([len(terms & found) / len(terms) for found in held])
