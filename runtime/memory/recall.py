"""Recall: episodic search that uses what a conversation carries besides its words.

A question is read (`runtime.retrieval.query.read_query`) for the speakers it names, the time
it is about and a moment it is anchored to. A name counts as a speaker when this process added
a turn with it as the role, or when it is the role of one of the question's best matches. A
month without a year is the latest such month that holds turns; "before <something>" is
before the turn that best matches the something. Turns that meet these conditions are
searched for the rest of the question (by meaning and keywords) next to the unconstrained
search, and every candidate's score becomes `(score + conditions met) / (1 + conditions
asked)`: a turn of the named speaker in the named month outranks an equally relevant turn of
someone else, yet a question whose names are not speakers is searched as before. A short turn
("Biscuit, after my grandad.") counts half its own score, and may inherit most of the score of
the question before it, which it answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from llmspell.runtime.retrieval.query import ReadQuery, TimeSpan, read_query
from llmspell.runtime.retrieval.rerank import rerank as rerank_scores
from llmspell.storage.components.vectors import VectorFilter, VectorRecord

if TYPE_CHECKING:
    from llmspell.runtime.retrieval import HybridSearch
    from llmspell.runtime.retrieval.hybrid import RetrievalHit, SearchMode
    from llmspell.storage.components.vectors import VectorStore

YEARS_BACK = 10  # how far back a month without a year is looked for
SHORT_TURN_WORDS = 8  # a turn of at most this many words says little on its own
# A short turn says little on its own ("Bye for now!" is close to every question for a
# static embedder): it keeps this share of its own score, and may inherit NEIGHBOUR_SHARE of
# the score of the turn it answers.
SHORT_TURN_SHARE = 0.5
NEIGHBOUR_SHARE = 0.9
MIN_POOL = 30
TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Conditions:
    """What the question asks of a turn besides relevance: one of `speakers`, within the
    window."""

    speakers: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    @property
    def windowed(self) -> bool:
        return self.since is not None or self.until is not None

    @property
    def count(self) -> int:
        return bool(self.speakers) + self.windowed

    def met(self, record: VectorRecord) -> int:
        met = 0
        if self.speakers and record.metadata.get("role") in self.speakers:
            met += 1
        if self.windowed:
            at = record.event_time
            met += (
                at is not None
                and (self.since is None or at >= self.since)
                and (self.until is None or at <= self.until)
            )
        return met


class ConversationRecall:
    """Searches one namespace of conversation turns (role = speaker, event time = when)."""

    def __init__(
        self, namespace: str, vectors: Callable[[], VectorStore], search: HybridSearch
    ) -> None:
        self.namespace = namespace
        self._embedder = search.embedder
        self._vectors = vectors
        self._search = search
        self._speakers: set[str] = set()

    def search(
        self,
        query: str,
        limit: int,
        where: VectorFilter,
        *,
        mode: SearchMode = "hybrid",
        min_score: float | None = None,
        speakers_known: bool = False,
        rerank: bool = False,
    ) -> list[tuple[VectorRecord, float]]:
        """The `limit` best turns passing `where` for `query`, with scores in [0, 1].

        `speakers_known`: the caller already chose the role (names in the query are then
        only words). `rerank`: the best `max(3 * limit, 30)` are re-ranked by word alignment
        (`runtime.retrieval.rerank`)."""
        read = read_query(query)
        pool = max(3 * limit, MIN_POOL)
        names = () if speakers_known else read.names
        plain: list[RetrievalHit] | None = None
        if any(name not in self._speakers for name in names):
            plain = self._search.search(
                self.namespace, read.text, pool, where=_plain(where), mode=mode
            )
            self._speakers.update(
                name for name in names if name in {hit.record.metadata.get("role") for hit in plain}
            )
        speakers = tuple(name for name in names if name in self._speakers)
        text = _without(read.text, speakers) or query
        conditions = Conditions(speakers, *self._window(read, where, speakers, mode))
        scored: dict[str, tuple[VectorRecord, float, float]] = {}  # id -> record, raw, final

        def take(record: VectorRecord, raw: float) -> None:
            if _is_short(record.content):
                raw *= SHORT_TURN_SHARE
            final = (raw + conditions.met(record)) / (1 + conditions.count)
            if record.id not in scored or scored[record.id][2] < final:
                scored[record.id] = (record, raw, final)

        if plain is None or text != read.text:
            plain = self._search.search(self.namespace, text, pool, where=_plain(where), mode=mode)
        for hit in plain:
            take(hit.record, hit.score)
        for narrowed in self._narrowed(where, conditions):
            for hit in self._search.search(self.namespace, text, pool, where=narrowed, mode=mode):
                take(hit.record, hit.score)
        # The turns a short answer may follow: the best by relevance alone (a question asked
        # by someone else meets no condition) and the best overall.
        by_raw = sorted(scored.values(), key=lambda item: (-item[1], *_order(item[0])))[:limit]
        by_final = sorted(scored.values(), key=lambda item: (-item[2], *_order(item[0])))[:limit]
        prompts = {record.id: (record, raw) for record, raw, _ in [*by_raw, *by_final]}
        for record, raw in prompts.values():
            if not record.content.rstrip().endswith("?"):
                continue
            answer = self._next_turn(record, where)
            if answer is not None and _is_short(answer.content):
                take(answer, NEIGHBOUR_SHARE * raw / SHORT_TURN_SHARE)
        ranked = sorted(scored.values(), key=lambda item: (-item[2], -item[1], *_order(item[0])))
        if rerank and ranked:
            best = ranked[:pool]
            fused = rerank_scores(
                query, [r.content for r, _, _ in best], [f for _, _, f in best], self._embedder
            )
            ranked = [
                (record, raw, float(score))
                for (record, raw, _), score in zip(best, fused, strict=True)
            ]
            ranked.sort(key=lambda item: (-item[2], -item[1], *_order(item[0])))
        return [
            (record, final)
            for record, _, final in ranked
            if min_score is None or final >= min_score
        ][:limit]

    def remember_speaker(self, role: str) -> None:
        """Note that `role` speaks in this namespace (episodic memory calls it on `add`)."""
        self._speakers.add(role)

    def _window(
        self, read: ReadQuery, where: VectorFilter, speakers: tuple[str, ...], mode: SearchMode
    ) -> tuple[datetime | None, datetime | None]:
        since: datetime | None = None
        until: datetime | None = None
        if read.during is not None:
            bounds = self._bounds(read.during, where)
            if bounds is not None:
                since, until = bounds[0], bounds[1] - TICK
        if read.before is not None:
            bounds = self._bounds(read.before, where)
            until = bounds[0] - TICK if bounds is not None else None
        if read.after is not None:
            bounds = self._bounds(read.after, where)
            since = bounds[1] if bounds is not None else None
        for anchor, is_before in ((read.before_anchor, True), (read.after_anchor, False)):
            if anchor:
                at = self._anchor_time(anchor, where, speakers, mode)
                if at is not None and is_before:
                    until = at - TICK
                elif at is not None:
                    since = at + TICK
        return since, until

    def _bounds(self, span: TimeSpan, where: VectorFilter) -> tuple[datetime, datetime] | None:
        """The span's `[start, end)`; without a year, in the latest year that holds turns."""
        if span.year is not None:
            return span.bounds()
        store = self._vectors()
        this_year = datetime.now(UTC).year
        for year in range(this_year, this_year - YEARS_BACK - 1, -1):
            start, end = span.bounds(year)
            if store.scan(self.namespace, _narrow(where, since=start, until=end - TICK), 1):
                return start, end
        return None

    def _anchor_time(
        self, anchor: str, where: VectorFilter, speakers: tuple[str, ...], mode: SearchMode
    ) -> datetime | None:
        narrowed = _narrow(where, role=speakers[0]) if len(speakers) == 1 else where
        hits = self._search.search(self.namespace, anchor, 1, where=_plain(narrowed), mode=mode)
        return hits[0].record.event_time if hits else None

    def _narrowed(self, where: VectorFilter, conditions: Conditions) -> list[VectorFilter]:
        if not conditions.count:
            return []
        since, until = conditions.since, conditions.until
        if not conditions.speakers:
            return [_narrow(where, since=since, until=until)]
        return [_narrow(where, role=name, since=since, until=until) for name in conditions.speakers]

    def _next_turn(self, record: VectorRecord, where: VectorFilter) -> VectorRecord | None:
        """The turn said right after `record` in its session, when it passes `where`."""
        if record.document_id is None or record.event_time is None:
            return None
        following = self._vectors().scan(
            self.namespace,
            VectorFilter(document_ids=frozenset({record.document_id}), since=record.event_time),
            3,
        )
        ids = [turn.id for turn in following]
        if record.id not in ids or ids.index(record.id) + 1 >= len(ids):
            return None
        answer = following[ids.index(record.id) + 1]
        passes = where.matches(answer.document_id, answer.metadata, answer.event_time)
        return answer if passes else None


def _narrow(
    where: VectorFilter,
    *,
    role: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> VectorFilter:
    """`where` and also: said by `role`, within `[since, until]`."""
    metadata = dict(where.metadata or {})
    if role is not None:
        metadata["role"] = role
    if since is not None and where.since is not None:
        since = max(since, where.since)
    if until is not None and where.until is not None:
        until = min(until, where.until)
    return replace(
        where,
        metadata=metadata or None,
        since=since if since is not None else where.since,
        until=until if until is not None else where.until,
    )


def _is_short(content: str) -> bool:
    return len(content.split()) <= SHORT_TURN_WORDS


def _order(record: VectorRecord) -> tuple[datetime, str]:
    """Ties go to the earlier turn (then the id): the same on every backend."""
    return record.event_time or record.created_at, record.id


def _plain(where: VectorFilter) -> VectorFilter | None:
    return None if where.is_empty else where


def _without(text: str, names: tuple[str, ...]) -> str:
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}(?:'s|\u2019s)?\b", " ", text)
    return " ".join(text.split())


__all__ = ["Conditions", "ConversationRecall"]
