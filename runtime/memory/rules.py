"""The `rules` consolidation mode: facts from sentences by deterministic patterns (offline).

Each sentence of an entry is matched against the patterns below; a first-person subject ("I",
"my") in a `user` entry is the session's speaker: the name given by "my name is X" / "call me X"
in that session, else an entity called "User". Names are capitalised words.

| pattern | fact |
|---|---|
| `my name is X`, `call me X`, `I'm called X` | person X (the speaker) |
| `S works at/for O [since DATE]` | S -works_at-> O (organization), one employer at a time |
| `S lives in P [since DATE]`, `S moved to P [in DATE]` | property `lives_in` = P (one at a time) |
| `S is a/an THING` | property `is_a` = THING |
| `S was born on/in DATE` | property `born` = the date |
| `S likes/loves/enjoys X` | X added to property `likes` (a list) |
| `S dislikes/hates X` | X added to property `dislikes` |
| `S prefers X` | property `prefers` = X (one at a time) |
| `my ATTR is VALUE`, `S's ATTR is VALUE` | property ATTR = VALUE |

DATE: `2021`, `March 2021`, `March 5, 2021` or `2021-03-05`; it becomes the fact's valid-from
time (otherwise the entry's timestamp).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = "|".join(m.capitalize() for m in MONTHS)
DATE = rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|(?:{_MONTH})(?: \d{{1,2}},?)? \d{{4}}|\d{{4}})"
NAME = r"(?:[A-Z][\w'&-]*)(?: (?:[A-Z][\w'&-]*|of|de|van|von))*"
SUBJECT = rf"(?P<subject>\bI\b|{NAME})"
THING = r"(?P<object>[\w' -]+?)"
END = r"\s*(?:[.!?,;]|$)"
NOT_NAMES = {
    "The", "This", "That", "It", "We", "They", "He", "She", "You", "There", "Our", "My",
    "Your", "His", "Her", "Their", "A", "An", "And", "But", "So", "Then", "Today", "Yesterday",
}  # fmt: skip

SPEAKER_NAME = re.compile(
    rf"\b(?:[Mm]y name is|[Cc]all me|I'm called|I am called) (?P<name>{NAME})"
)


@dataclass(frozen=True)
class Fact:
    """One extracted fact about `subject` (a person unless stated)."""

    subject: str
    kind: str  # "property" | "list" | "relationship"
    key: str  # property name or relationship type
    value: str  # property value or the related entity's name
    valid_from: datetime | None = None
    object_type: str = ""  # relationships: the related entity's type
    sentence: str = ""


def parse_date(text: str | None) -> datetime | None:
    """A DATE of the table above as a UTC time (first day of the month / year when vague)."""
    if not text:
        return None
    text = text.replace(",", "")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    parts = text.split()
    if len(parts) == 1:
        return datetime(int(parts[0]), 1, 1, tzinfo=UTC)
    month = MONTHS.index(parts[0].lower()) + 1
    day = int(parts[1]) if len(parts) == 3 else 1
    return datetime(int(parts[-1]), month, day, tzinfo=UTC)


_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(
            rf"{SUBJECT} (?:work|works|worked|am working|is working) (?:at|for) "
            rf"(?P<object>{NAME})(?: since (?P<date>{DATE}))?"
        ),
        "relationship",
        "works_at",
    ),
    (
        re.compile(
            rf"{SUBJECT} (?:live|lives|am living|is living) in (?P<object>{NAME})"
            rf"(?: since (?P<date>{DATE}))?"
        ),
        "property",
        "lives_in",
    ),
    (
        re.compile(
            rf"{SUBJECT} (?:moved|moves|relocated) to (?P<object>{NAME})(?: in (?P<date>{DATE}))?"
        ),
        "property",
        "lives_in",
    ),
    (re.compile(rf"{SUBJECT} (?:was|were) born (?:on|in) (?P<object>{DATE})"), "property", "born"),
    (re.compile(rf"{SUBJECT} (?:am|is) an? {THING}{END}"), "property", "is_a"),
    (
        re.compile(rf"{SUBJECT} (?:like|likes|love|loves|enjoy|enjoys) {THING}{END}"),
        "list",
        "likes",
    ),
    (re.compile(rf"{SUBJECT} (?:dislike|dislikes|hate|hates) {THING}{END}"), "list", "dislikes"),
    (re.compile(rf"{SUBJECT} (?:prefer|prefers) {THING}{END}"), "property", "prefers"),
    (
        re.compile(rf"\b(?P<subject>[Mm]y) (?P<key>[a-z][a-z ]{{1,30}}?) is {THING}{END}"),
        "property",
        "",
    ),
    (
        re.compile(rf"(?P<subject>{NAME})'s (?P<key>[a-z][a-z ]{{1,30}}?) is {THING}{END}"),
        "property",
        "",
    ),
]


def speaker_of(sentences: list[str]) -> str | None:
    """The name a user gives themself in these sentences ("my name is Alice"), if any."""
    for sentence in sentences:
        found = SPEAKER_NAME.search(sentence)
        if found:
            return found.group("name")
    return None


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def extract_facts(text: str, speaker: str | None, first_person: bool) -> list[Fact]:
    """The facts the rules find in `text`. `first_person`: "I"/"my" name the speaker (a user
    entry); `speaker`: the speaker's name ("User" when None)."""
    facts: list[Fact] = []
    me = speaker or "User"
    for sentence in sentences_of(text):
        named = SPEAKER_NAME.search(sentence)
        if named and first_person:
            facts.append(Fact(named.group("name"), "entity", "", "", sentence=sentence))
        for pattern, kind, key in _RULES:
            for match in pattern.finditer(sentence):
                subject = match.group("subject")
                if subject in ("I", "my", "My"):
                    if not first_person:
                        continue
                    subject = me
                elif subject in NOT_NAMES:
                    continue
                groups = match.groupdict()
                fact_key = key or re.sub(r"\s+", "_", groups["key"].strip())
                if fact_key == "name":
                    continue
                value = groups["object"].strip()
                date = groups.get("date")
                valid_from = parse_date(date)
                if fact_key == "born":
                    born = parse_date(value)
                    value = born.date().isoformat() if born else value
                facts.append(
                    Fact(
                        subject=subject,
                        kind=kind,
                        key=fact_key,
                        value=value,
                        valid_from=valid_from,
                        object_type="organization" if fact_key == "works_at" else "",
                        sentence=sentence,
                    )
                )
    return facts
