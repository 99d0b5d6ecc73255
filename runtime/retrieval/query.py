"""Query understanding: what a question says besides its topic.

`read_query` finds, in a question such as "what did Alice say in May 2025?", the people it
names (capitalised words that may be speakers), the time it is about (a month, a month and
year, a year, an ISO date, "before"/"after" a date) and a phrase it is anchored to ("what was
she reading before Dune?"), and returns the question's text without them. Whether a name is a
speaker, and which year a bare month means, is decided by the caller against what is stored
(episodic memory: `runtime.memory.recall`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from llmspell.runtime.retrieval.keyword import is_stop_word

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
# Words that only mark the time expression that follows them.
_LEADS = r"(?:(?:in|during|of|on|around|early|late|mid|back)\s+(?:in\s+)?)?"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_YEAR = re.compile(rf"\b{_LEADS}({_MONTH})\b\.?(?:\s+(\d{{4}})\b)?", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:in|during|of)\s+((?:19|20)\d{2})\b", re.IGNORECASE)
_RELATION = re.compile(r"\b(before|after|since|until|till)\s+(.+?)\s*(?:[?.!]|$)", re.IGNORECASE)
_NAME = re.compile(r"\b([A-Z][\w-]*?)(?:'s|\u2019s)?\b")


@dataclass(frozen=True)
class TimeSpan:
    """A stretch of time: `[start, end)`; `year` None means "the latest year that has it"."""

    month: int | None
    year: int | None
    day: int | None = None

    def bounds(self, year: int | None = None) -> tuple[datetime, datetime]:
        """`[start, end)` of this span in `year` (its own year when it has one)."""
        chosen = self.year if self.year is not None else year
        if chosen is None:
            raise ValueError("a span without a year needs one to have bounds")
        if self.month is None:
            return _at(chosen, 1, 1), _at(chosen + 1, 1, 1)
        if self.day is not None:
            start = _at(chosen, self.month, self.day)
            return start, start + timedelta(days=1)
        following = _at(chosen + 1, 1, 1) if self.month == 12 else _at(chosen, self.month + 1, 1)
        return _at(chosen, self.month, 1), following


@dataclass(frozen=True)
class ReadQuery:
    """A question taken apart: `text` is what is left to search for by meaning and keywords."""

    text: str
    names: tuple[str, ...] = ()
    during: TimeSpan | None = None
    before: TimeSpan | None = None
    after: TimeSpan | None = None
    before_anchor: str | None = None  # "before <something that happened>"
    after_anchor: str | None = None

    @property
    def has_time(self) -> bool:
        return any((self.during, self.before, self.after, self.before_anchor, self.after_anchor))


def read_query(query: str) -> ReadQuery:
    """The names, time and anchor `query` mentions, and its text without the time words."""
    text = query
    before = after = during = None
    before_anchor = after_anchor = None
    relation = _RELATION.search(text)
    if relation:
        is_before = relation.group(1).lower() in ("before", "until", "till")
        rest = relation.group(2)
        found = _find_time(rest)
        if found is not None:
            before, after = (found[0], None) if is_before else (None, found[0])
        elif is_before:
            before_anchor = _clean(rest)
        else:
            after_anchor = _clean(rest)
        if found is not None or _clean(rest):
            text = text[: relation.start()] + text[relation.end() :]
    if before is None and after is None:
        found = _find_time(text)
        if found is not None:
            during, start, end = found
            text = text[:start] + text[end:]
    names = tuple(
        dict.fromkeys(
            match.group(1)
            for match in _NAME.finditer(query)
            if not is_stop_word(match.group(1).lower())
            and match.group(1).lower() not in MONTHS
            and not _inside_anchor(match.group(1), before_anchor, after_anchor)
        )
    )
    return ReadQuery(
        text=" ".join(text.split()),
        names=names,
        during=during,
        before=before,
        after=after,
        before_anchor=before_anchor,
        after_anchor=after_anchor,
    )


def _find_time(text: str) -> tuple[TimeSpan, int, int] | None:
    """The first time expression of `text` and where it stands (with its leading words)."""
    iso = _DATE_ISO.search(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        try:
            date(year, month, day)
        except ValueError:
            return None
        return TimeSpan(month, year, day), iso.start(), iso.end()
    for match in _MONTH_YEAR.finditer(text):
        word = match.group(1)
        # "may" is a month only when written "May" and not opening the question ("May I...").
        if word.lower() == "may" and (word != "May" or not text[: match.start(1)].strip()):
            continue
        named_year = int(match.group(2)) if match.group(2) else None
        return TimeSpan(MONTHS[word.lower()], named_year), match.start(), match.end()
    year_match = _YEAR.search(text)
    if year_match:
        return TimeSpan(None, int(year_match.group(1))), year_match.start(), year_match.end()
    return None


def _clean(phrase: str) -> str:
    return " ".join(phrase.split()).strip(" ,;:")


def _inside_anchor(name: str, *anchors: str | None) -> bool:
    return any(anchor and re.search(rf"\b{re.escape(name)}\b", anchor) for anchor in anchors)


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


__all__ = ["MONTHS", "ReadQuery", "TimeSpan", "read_query"]
