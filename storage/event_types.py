"""Event types and the patterns that select them (`*`, `prefix.*`, an exact type, or a glob).

One matcher serves both sides: the in-process event bus tests a pattern with RE2, the event log
hands the same regular expression to SQL (PostgreSQL `~`, SQLite `REGEXP`, which is RE2 too), so
a subscription and a query with one pattern always select the same types, in time linear in the
type (see `llmspell.storage.glob`).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmspell.storage.glob import glob_to_regex, linear_regex

MAX_TYPE_LEN = 256
GLOB_CHARS = frozenset("*?[")


def check_event_type(event_type: object) -> str:
    """`event_type` if it is a valid event type: 1-256 characters, no control characters and
    none of the glob characters `*`, `?`, `[` (a type is what patterns match, not a pattern)."""
    text = _check_text("event type", event_type)
    glob = next((c for c in text if c in GLOB_CHARS), None)
    if glob is not None:
        raise ValueError(
            f"event type must not contain {glob!r} (`*`, `?` and `[` are pattern characters), "
            f"got {text!r}"
        )
    return text


@dataclass(frozen=True)
class TypePattern:
    """A compiled pattern. `*` matches any run of characters (dots included), `?` one
    character, `[abc]` / `[a-z]` / `[!abc]` a character class; everything else is literal.

    `exact` is the type itself when the pattern has no glob characters, `everything` is true
    for `*`; `regex` is the anchored expression RE2 and the databases understand.
    """

    text: str
    regex: str
    exact: str | None
    everything: bool

    def matches(self, event_type: str) -> bool:
        if self.everything:
            return True
        if self.exact is not None:
            return event_type == self.exact
        return linear_regex(self.regex).search(event_type) is not None


def compile_pattern(pattern: object) -> TypePattern:
    """The `TypePattern` for `pattern`, or ValueError saying what a pattern may be."""
    text = _check_text("pattern", pattern)
    regex = glob_to_regex(text)
    exact = None if GLOB_CHARS & set(text) else text
    pattern_obj = TypePattern(text=text, regex=regex, exact=exact, everything=text == "*")
    if exact is None and not pattern_obj.everything:
        linear_regex(regex)  # a malformed class fails here, not at the first publish
    return pattern_obj


def _check_text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must be a non-empty string")
    if len(value) > MAX_TYPE_LEN:
        raise ValueError(f"{what} must be 1-{MAX_TYPE_LEN} characters, got {len(value)}")
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ValueError(f"{what} must not contain control characters (got {value!r})")
    return value
