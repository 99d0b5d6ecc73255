"""Keyword (BM25) search in process: one inverted index per namespace of the vectors store.

The vectors component keeps a `NamespaceKeywords` per namespace of its tenant, built once from
the stored rows and then kept in step with every insert and delete the store makes (like
`NamespaceMatrix`), so a query scores only the rows that hold one of its terms: a few numpy
operations per term instead of the database ranking every matching row.

Tokens follow SQLite FTS5's `porter unicode61 remove_diacritics 2` tokenizer (runs of letters
and digits, lower-cased, diacritics removed, Porter stems for tokens of 3 to 64 bytes) and
scores follow FTS5's `bm25()` (k1 = 1.2, b = 0.75, an idf <= 0 counted as 1e-6), with the
namespace's stored rows as the corpus. A query is a list of words; a row matches when it holds
at least one of them; its score is the sum of the words' BM25 terms (> 0, higher is better).

Postings are a term-sorted CSR block plus a small block of recent additions that is merged in
when it grows; a delete only marks its slot dead, and dead slots are dropped at the merge.
bm25s (used for `runtime.retrieval.keyword.KeywordIndex`) builds immutable indexes: a write
would rebuild the whole namespace.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np

from llmspell.storage.vector_matrix import NEVER, NO_TIME, VectorFilter, passing, timestamp

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6
MAX_TERMS = 64
_TOKEN = re.compile(r"[^\W_]+")
_TOKEN_OR_END = re.compile(r"[^\W_]+|\0")
_WORD = re.compile(r"^\w+$")
_STEMMED_BYTES = (3, 64)  # FTS5's porter tokenizer leaves shorter and longer tokens alone
_END = -1  # the term id of the NUL that ends each text of a group
TOKENIZE_GROUP = 2_000  # texts per regex pass
# ASCII text splits faster than a regex scans it: every character but letters, digits and the
# NUL becomes a space (a one-to-one ASCII table: str.translate's fast path).
_ASCII_SEPARATORS = str.maketrans(
    {chr(code): " " for code in range(1, 128) if not chr(code).isalnum()}
)
MIN_MERGE = 50_000  # recent postings kept outside the CSR block before a merge


def check_terms(terms: Sequence[str]) -> list[str]:
    """`terms` as a list of distinct words (`\\w+`), at most MAX_TERMS; ValueError otherwise."""
    if isinstance(terms, str):
        raise ValueError("terms must be a list of words, not one string")
    words: list[str] = []
    for term in terms:
        if not isinstance(term, str) or not _WORD.match(term):
            raise ValueError(f"keyword terms must be words (letters, digits, _), got {term!r}")
        if term not in words:
            words.append(term)
    if len(words) > MAX_TERMS:
        raise ValueError(f"at most {MAX_TERMS} keyword terms, got {len(words)}")
    return words


@cache
def _stemmer() -> Any:
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer("porter")


def _fold(text: str) -> str:
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _term(token: str) -> str:
    low, high = _STEMMED_BYTES
    return str(_stemmer().stemWord(token)) if low <= len(token.encode()) <= high else token


def index_terms(text: str) -> list[str]:
    """The terms a text is indexed under, in order (one per token)."""
    return [_term(token) for token in _TOKEN.findall(_fold(text))]


class _TermIds(dict[str, int]):
    """token -> term id, each new token stemmed once (`terms`: term -> id, shared)."""

    def __init__(self, terms: dict[str, int]) -> None:
        super().__init__({"\0": _END})
        self._terms = terms

    def __missing__(self, token: str) -> int:
        term_id = self._terms.setdefault(_term(token), len(self._terms))
        self[token] = term_id
        return term_id


class NamespaceKeywords:
    """The rows of one namespace as BM25 postings, with what filters need, in slots.

    `generation` is the namespace's generation stamp the index reflects (see the vectors
    component). Slots only grow; a removed row's slot is dead until the next merge.
    """

    def __init__(self, generation: str) -> None:
        self.generation = generation
        self.size = 0  # slots used (live and dead)
        self.live = 0
        self._total_length = 0.0
        self._length = np.zeros(16)
        self._alive = np.zeros(16, dtype=bool)
        self._expires = np.full(16, NEVER)
        self._event = np.full(16, NO_TIME)
        self._doc_codes = np.zeros(16, dtype=np.int64)
        self._doc_code_of: dict[str | None, int] = {None: 0}
        self.ids: list[str | None] = []
        self.metadata: list[Mapping[str, Any]] = []
        self._slot: dict[str, int] = {}
        self._term_id: dict[str, int] = {}
        self._token_term = _TermIds(self._term_id)
        # CSR block: the postings of term t are slots[start[t]:start[t + 1]] with counts
        self._start = np.zeros(1, dtype=np.int64)
        self._slots = np.zeros(0, dtype=np.int32)
        self._counts = np.zeros(0, dtype=np.float32)
        # recent additions, (term, slot, count) per posting
        self._recent: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._recent_size = 0
        self._recent_joined: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.live

    def __contains__(self, vector_id: str) -> bool:
        return vector_id in self._slot

    @property
    def nbytes(self) -> int:
        """Bytes held by the numpy arrays (postings and per-row columns)."""
        arrays = [self._length, self._alive, self._expires, self._event, self._doc_codes]
        arrays += [self._start, self._slots, self._counts]
        arrays += [a for block in self._recent for a in block]
        return sum(a.nbytes for a in arrays)

    def _grow(self, needed: int) -> None:
        capacity = len(self._length)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        for name, fill, dtype in (
            ("_length", 0.0, np.float64),
            ("_alive", False, np.bool_),
            ("_expires", NEVER, np.float64),
            ("_event", NO_TIME, np.float64),
            ("_doc_codes", 0, np.int64),
        ):
            array = np.full(capacity, fill, dtype=dtype)
            array[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, array)

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add (or replace) rows: mappings with id, content, document_id, metadata,
        event_time and expires_at."""
        batch = list(rows)
        if not batch:
            return
        self.remove([row["id"] for row in batch])
        self._grow(self.size + len(batch))
        first = self.size
        for i, row in enumerate(batch):
            slot = first + i
            vector_id = row["id"]
            self.ids.append(vector_id)
            self.metadata.append(row["metadata"])
            self._slot[vector_id] = slot
            self._expires[slot] = timestamp(row["expires_at"], NEVER)
            self._event[slot] = timestamp(row["event_time"], NO_TIME)
            code = self._doc_code_of.setdefault(row["document_id"], len(self._doc_code_of))
            self._doc_codes[slot] = code
        texts = [row["content"] for row in batch]
        for start in range(0, len(texts), TOKENIZE_GROUP):
            self._index(first + start, texts[start : start + TOKENIZE_GROUP])
        self.size += len(batch)
        if self._recent_size > max(MIN_MERGE, len(self._slots) // 8):
            self._merge()

    def _index(self, first: int, texts: Sequence[str]) -> None:
        """Index `texts` into the slots from `first` on: one pass over them joined by NUL
        (which stored content never holds), ASCII split by `str.translate`, else by regex."""
        joined = "\0".join(texts) + "\0"
        if joined.isascii():
            spaced = joined.lower().replace("\0", " \0 ")
            tokens = spaced.translate(_ASCII_SEPARATORS).split()
        else:
            tokens = _TOKEN_OR_END.findall(_fold(joined))
        term_of = self._token_term
        ids = np.asarray([term_of[t] for t in tokens], dtype=np.int64)
        lengths = np.diff(np.flatnonzero(ids == _END), prepend=-1) - 1
        terms = ids[ids != _END]
        end = first + len(texts)
        self._length[first:end] = lengths
        self._alive[first:end] = True
        self.live += len(texts)
        self._total_length += float(lengths.sum())
        if len(terms) == 0:
            return
        # one key per (term, slot), in that order: its count is the term's frequency
        local = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        keys, counts = np.unique(terms * len(texts) + local, return_counts=True)
        self._recent.append(
            (
                (keys // len(texts)).astype(np.int32),
                (keys % len(texts) + first).astype(np.int32),
                counts.astype(np.float32),
            )
        )
        self._recent_size += len(keys)
        self._recent_joined = None

    def remove(self, vector_ids: Iterable[str]) -> None:
        """Drop rows (unknown ids are ignored: they were never in this namespace)."""
        for vector_id in vector_ids:
            slot = self._slot.pop(vector_id, None)
            if slot is None:
                continue
            self._alive[slot] = False
            self.ids[slot] = None
            self.metadata[slot] = {}
            self.live -= 1
            self._total_length -= float(self._length[slot])

    def set_metadata(self, vector_id: str, metadata: Mapping[str, Any]) -> None:
        slot = self._slot.get(vector_id)
        if slot is not None:
            self.metadata[slot] = metadata

    def _merge(self) -> None:
        """Fold the recent postings into the CSR block, dropping dead slots."""
        recent_terms, recent_slots, recent_counts = self._recent_postings()
        # Each recent block is in (term, slot) order, the blocks in slot order after the CSR
        # block's slots: stable sorts by term merge these sorted runs.
        order = np.argsort(recent_terms, kind="stable")
        block_terms = np.repeat(
            np.arange(len(self._start) - 1, dtype=np.int32), np.diff(self._start)
        )
        terms = np.concatenate([block_terms, recent_terms[order]])
        slots = np.concatenate([self._slots, recent_slots[order]])
        counts = np.concatenate([self._counts, recent_counts[order]])
        order = np.argsort(terms, kind="stable")
        terms, slots, counts = terms[order], slots[order], counts[order]
        keep = self._alive[slots]
        terms, slots, counts = terms[keep], slots[keep], counts[keep]
        if self.live < self.size:
            # renumber the live slots densely (in order: postings stay sorted)
            alive = self._alive[: self.size].copy()
            new_slot = np.cumsum(alive) - 1
            slots = new_slot[slots].astype(np.int32)
            for name in ("_length", "_alive", "_expires", "_event", "_doc_codes"):
                array = getattr(self, name)
                kept = array[: self.size][alive]
                array[: len(kept)] = kept
            self._alive[self.live : self.size] = False
            live = np.flatnonzero(alive)
            self.ids = [self.ids[s] for s in live]
            self.metadata = [self.metadata[s] for s in live]
            self._slot = {vid: s for s, vid in enumerate(self.ids) if vid is not None}
            self.size = self.live
        self._slots, self._counts = slots, counts
        self._start = np.searchsorted(terms, np.arange(len(self._term_id) + 1)).astype(np.int64)
        self._recent, self._recent_size, self._recent_joined = [], 0, None

    def _recent_postings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._recent_joined is None:
            blocks = self._recent or [
                (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32))
            ]
            self._recent_joined = (
                np.concatenate([b[0] for b in blocks]),
                np.concatenate([b[1] for b in blocks]),
                np.concatenate([b[2] for b in blocks]),
            )
        return self._recent_joined

    def _postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """The live (slots, counts) of one term."""
        parts_slots, parts_counts = [], []
        if term + 1 < len(self._start):
            begin, end = int(self._start[term]), int(self._start[term + 1])
            parts_slots.append(self._slots[begin:end])
            parts_counts.append(self._counts[begin:end])
        if self._recent_size:
            terms, slots, counts = self._recent_postings()
            hit = terms == term
            parts_slots.append(slots[hit])
            parts_counts.append(counts[hit])
        if not parts_slots:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        slots = np.concatenate(parts_slots) if len(parts_slots) > 1 else parts_slots[0]
        counts = np.concatenate(parts_counts) if len(parts_counts) > 1 else parts_counts[0]
        if self.live == self.size:  # no dead slots
            return slots, counts
        alive = self._alive[slots]
        return slots[alive], counts[alive]

    def scores(self, words: Sequence[str]) -> np.ndarray:
        """The BM25 score of every slot for `words` (0: holds none of them; dead slots 0)."""
        scores = np.zeros(self.size)
        if self.live == 0:
            return scores
        average = self._total_length / self.live
        for word in words:
            for term in index_terms(word):
                term_id = self._term_id.get(term)
                if term_id is None:
                    continue
                slots, counts = self._postings(term_id)
                hits = len(slots)
                if hits == 0:
                    continue
                idf = math.log((self.live - hits + 0.5) / (hits + 0.5))
                idf = idf if idf > 0 else MIN_IDF
                norm = K1 * (1 - B + B * self._length[slots] / average) if average else K1
                tf = counts.astype(np.float64)
                scores[slots] += idf * (tf * (K1 + 1)) / (tf + norm)
        return scores

    def search(
        self,
        words: Sequence[str],
        k: int,
        where: VectorFilter | None,
        ids: Collection[str] | None,
        now: datetime,
    ) -> list[tuple[str, float]]:
        """The `k` best (id, score) among unexpired rows passing `where` (and among `ids`
        when given) that hold one of `words`: best first, ties by id."""
        if k <= 0 or self.live == 0:
            return []
        scores = self.scores(words)
        if ids is None:
            candidates = np.flatnonzero(scores > 0)
        else:
            chosen = np.fromiter(
                (self._slot[vid] for vid in ids if vid in self._slot), dtype=np.int64
            )
            candidates = chosen[scores[chosen] > 0]
        if len(candidates) == 0:
            return []
        keep = passing(
            where,
            now,
            self._expires[candidates],
            self._event[candidates],
            self._doc_codes[candidates],
            self._doc_code_of,
            [self.metadata[s] for s in candidates]
            if where is not None and where.metadata
            else None,
        )
        candidates = candidates[keep]
        chosen_scores = scores[candidates]
        if len(candidates) > k:
            # everything scoring at least the k-th best, so that ties order by id
            threshold = np.partition(chosen_scores, len(chosen_scores) - k)[-k]
            best = chosen_scores >= threshold
            candidates, chosen_scores = candidates[best], chosen_scores[best]
        ranked = sorted(
            (
                (str(self.ids[int(s)]), float(score))
                for s, score in zip(candidates, chosen_scores, strict=True)
            ),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return ranked[:k]
