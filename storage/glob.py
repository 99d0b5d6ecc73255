"""Glob patterns (`report*`, `v?.txt`, `[ab]*`) as SQL filters, the same on both dialects.

A glob becomes an anchored regular expression in the subset SQLite's REGEXP (Python `re`,
registered by SQLAlchemy) and PostgreSQL's `~` read alike; unlike LIKE it is case-sensitive
on both, and `%` or `_` in a name are plain characters.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement

_SPECIAL = set("\\^$.|?*+()[]{}")


def glob_to_regex(pattern: str) -> str:
    """`*` any run, `?` one character, `[abc]` / `[!abc]` a set; everything else literal."""
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
                out.append(r"\[")
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            body = "".join("\\" + c if c in "\\[]^" else c for c in body)
            out.append(f"[{'^' if negate else ''}{body}]")
        else:
            out.append("\\" + char if char in _SPECIAL else char)
    out.append("$")
    return "".join(out)


def matches_glob(column: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """`column` matches the glob `pattern` (whole value, case-sensitive)."""
    return column.regexp_match(glob_to_regex(pattern))


def is_glob(pattern: str) -> bool:
    """Whether `pattern` has any glob syntax (else it can be compared for equality)."""
    return bool(re.search(r"[*?\[]", pattern))
