"""Passwords out of connection strings, and out of messages that quote them.

Every credential form libpq accepts is found: the password of a URL's userinfo
(`postgresql://u:pw@h/db`, any scheme), a `password=` or `sslpassword=` query parameter (its
name may be percent-encoded), and a `password` or `sslpassword` keyword of a key=value string
(`host=h password='p w'`). A `passfile` is a path and stays; its contents are never read.
Text only: no parsing library, so it also works on malformed strings and on error messages.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
SECRET_KEYWORDS = frozenset({"password", "sslpassword"})

# Greedy to the last `@` of the word: a password with an unencoded `@` or `/` is hidden whole.
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s:@/?#]*:(\S*)@")
_QUERY_PARAMETER = re.compile(r"[?&]([^=&#\s]*)=([^&#\s]*)")
# A value is quoted (an unterminated quote runs to the end) or a run of words up to the next
# `keyword=`: a password with an unquoted space is malformed, but it is still a secret.
_KEYWORD_VALUE = re.compile(
    r"(?<!\S)([A-Za-z_]+)\s*=\s*"
    r"('(?:[^'\\]|\\.)*(?:'|\\?\Z)|(?:[^\s\\]|\\.)*(?:\s+(?![A-Za-z_]+\s*=)(?:[^\s\\]|\\.)+)*)",
    re.DOTALL,
)
_QUOTED = re.compile(r""""([^"]*)"|'([^']*)'""")


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` holds passwords: sorted, non-overlapping (start, end) offsets."""
    spans = [match.span(1) for match in _URL_PASSWORD.finditer(text)]
    spans += [
        match.span(2)
        for match in _QUERY_PARAMETER.finditer(text)
        if unquote(match[1]).lower() in SECRET_KEYWORDS
    ]
    spans += [
        match.span(2)
        for match in _KEYWORD_VALUE.finditer(text)
        if match[1].lower() in SECRET_KEYWORDS
    ]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(span for span in spans if span[1] > span[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_secrets(text: str, source: str | None = None) -> str:
    """`text` with every password replaced by `***`.

    `source` is the connection string a message is about: libpq quotes pieces of a malformed
    one (`invalid percent-encoded token: "p%zz..."`), or of a host it misread from a password
    with an unencoded `@`; a quoted piece of `source` that overlaps a password is hidden too.
    """
    out = _mask(text, secret_spans(text))
    if source:
        spans = secret_spans(source)
        if spans:

            def hide(match: re.Match[str]) -> str:
                quote, piece = match[0][0], match[1] if match[1] is not None else match[2]
                return f"{quote}{MASK}{quote}" if _overlaps(source, piece, spans) else match[0]

            out = _QUOTED.sub(hide, out)
    return out


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text


def _overlaps(source: str, piece: str, spans: list[tuple[int, int]]) -> bool:
    if not piece:
        return False
    start = source.find(piece)
    while start >= 0:
        end = start + len(piece)
        if any(start < s_end and s_start < end for s_start, s_end in spans):
            return True
        start = source.find(piece, start + 1)
    return False
