"""Glob patterns (`report*`, `v?.txt`, `[ab]*`): matched in process and as SQL filters, with
the same result everywhere and in time linear in the text.

A glob becomes an anchored regular expression in the subset RE2 and PostgreSQL's `~` read
alike. RE2 matches it in process and is SQLite's REGEXP (`sqlite_regexp`, registered on every
connection by sqlite.py in place of SQLAlchemy's Python-`re` one, whose backtracking ran
`*a*a*a*a*a*a*a*a*a*a*b` for minutes while holding the GIL, so no time limit or interrupt could
stop it); PostgreSQL runs an expression without groups or back-references as a DFA. Unlike LIKE
it is case-sensitive on both, `%` or `_` in a name are plain characters, and `*`/`?` match any
character, newlines included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import re2

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

MAX_GLOB_LEN = 1000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr
_compiled_cache: dict[str, Any] = {}


def glob_to_regex(pattern: str) -> str:
    """`*` any run, `?` one character, `[abc]` / `[!abc]` a set; everything else literal. The
    anchored regular expression reads the same in RE2 and PostgreSQL AREs. ValueError when the
    pattern is longer than MAX_GLOB_LEN characters."""
    if len(pattern) > MAX_GLOB_LEN:
        raise ValueError(
            f"a glob pattern may be at most {MAX_GLOB_LEN} characters, got {len(pattern)} "
            f"({pattern[:40]!r}...)"
        )
    # `(?s)`: `.` matches a newline too (PostgreSQL's default, stated for RE2).
    out = ["(?s)^"]
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "*":
            if out[-1] != ".*":  # a run of stars is one (PostgreSQL takes seconds over 1,000)
                out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            start = i + 1 if i < n and pattern[i] == "!" else i
            if start < n and pattern[start] == "]":
                start += 1  # a leading `]` is a member of the set
            end = pattern.find("]", start)
            if end < 0:
                out.append(_literal(char))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            members = "".join(c if c == "-" else _literal(c) for c in body)
            out.append(f"[{'^' if negate else ''}{members}]")
        else:
            out.append(_literal(char))
    out.append("$")
    return "".join(out)


def _literal(char: str) -> str:
    # Only ASCII punctuation is escaped: `\` before a letter or digit means something else in
    # both dialects, and PostgreSQL may treat a non-ASCII letter as alphanumeric.
    return "\\" + char if char.isascii() and not char.isalnum() and char != "_" else char


def linear_regex(regex: str) -> Any:
    """`regex` compiled by RE2 (cached), or ValueError saying why it is not a valid glob."""
    compiled = _compiled_cache.get(regex)
    if compiled is None:
        try:
            compiled = re2.compile(regex, _OPTIONS)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(f"pattern is not a valid glob: {reason}") from None
        if len(_compiled_cache) < 1024:
            _compiled_cache[regex] = compiled
    return compiled


def sqlite_regexp(regex: str, value: Any) -> bool | None:
    """SQLite's `value REGEXP regex`, by RE2: NULL for a NULL value."""
    if value is None:
        return None
    return linear_regex(regex).search(str(value)) is not None


def matches_glob(column: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """`column` matches the glob `pattern` (whole value, case-sensitive); ValueError for a
    pattern that is too long or has a malformed set (`[z-a]`), before any SQL runs."""
    regex = glob_to_regex(pattern)
    linear_regex(regex)
    return column.regexp_match(regex)
