"""Glob patterns (`report*`, `v?.txt`, `[ab]*`) as SQL filters, the same on both dialects.

A glob becomes an anchored regular expression in the subset SQLite's REGEXP (Python `re`,
registered by SQLAlchemy) and PostgreSQL's `~` read alike; unlike LIKE it is case-sensitive
on both, and `%` or `_` in a name are plain characters.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement


def glob_to_regex(pattern: str) -> str:
    """`*` any run, `?` one character, `[abc]` / `[!abc]` a set; everything else literal. The
    anchored regular expression reads the same in Python `re` and PostgreSQL AREs."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "*":
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


def matches_glob(column: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """`column` matches the glob `pattern` (whole value, case-sensitive)."""
    return column.regexp_match(glob_to_regex(pattern))


def is_glob(pattern: str) -> bool:
    """Whether `pattern` has any glob syntax (else it can be compared for equality)."""
    return bool(re.search(r"[*?\[]", pattern))
