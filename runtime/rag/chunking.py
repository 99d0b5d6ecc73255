"""Token-aware chunking: a sliding window of `chunk_size` tokens that overlaps by
`chunk_overlap`, cut where the text allows it best.

A chunk ends at the last paragraph break inside its window, else the last sentence end, else
the last line break, else the last space — never inside a word (a single "word" longer than the
window, such as a long URL, is the only thing cut between tokens). A boundary that would leave
the chunk under half the window is passed over for the next kind. The next chunk starts at a
word boundary about `chunk_overlap` tokens before the previous end. Tokens are counted by the
given counter (the embedding model's tokenizer, the same one Context budgets with); every
chunk's own count is at most `chunk_size`. Each chunk keeps its character offsets in the
document, so a hit can be traced back to its place.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from llmspell.runtime.errors import InvalidArgument

MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 65_536
# Boundary kinds, best first: where a chunk may end (the offset just after the break).
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
# A sentence end, then closing quotes or brackets (typographic ones as escapes).
_SENTENCE = re.compile(r"(?<=[.!?\u2026])[\"')\]\u00bb\u201d\u2019]*\s+")
_LINE = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")
_BOUNDARY_KINDS = (_PARAGRAPH, _SENTENCE, _LINE, _SPACE)
_STEP = 65_536  # tokens or boundaries handled between two checks of the limits


@dataclass(frozen=True)
class Chunk:
    """One piece of a document: its text, position (0-based), character offsets
    `[start, end)` in the document, and token count."""

    index: int
    text: str
    start: int
    end: int
    tokens: int


def check_window(chunk_size: int, chunk_overlap: int) -> None:
    """InvalidArgument unless 16 <= chunk_size <= 65536 and 0 <= chunk_overlap < chunk_size."""
    for name, value in (("chunk_size", chunk_size), ("chunk_overlap", chunk_overlap)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{name} must be an integer, got {value!r}")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidArgument(
            f"chunk_size must be {MIN_CHUNK_SIZE}-{MAX_CHUNK_SIZE} tokens, got {chunk_size}"
        )
    if not 0 <= chunk_overlap < chunk_size:
        raise InvalidArgument(
            f"chunk_overlap must be at least 0 and less than chunk_size ({chunk_size}), "
            f"got {chunk_overlap}"
        )


class Chunker:
    """Splits text into chunks with one token counter. Token offsets and boundaries are kept
    as integer arrays (a document of megabytes has millions of them), and `check` — the
    script's limits — is called between steps."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        token_spans: Callable[[str], np.ndarray],
        check: Callable[[], None] = lambda: None,
    ) -> None:
        self._count = count_tokens
        self._spans = token_spans
        self._check = check

    def chunks(self, text: str, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
        """The chunks of `text` (none when it is only whitespace)."""
        check_window(chunk_size, chunk_overlap)
        spans = self._visible(text, self._spans(text))
        if not len(spans):
            return []
        boundaries = [self._ends(kind, text) for kind in _BOUNDARY_KINDS]
        word_starts = boundaries[-1]
        starts = spans[:, 0]
        chunks: list[Chunk] = []
        first = 0  # index of the chunk's first token
        while first < len(spans):
            self._check()
            window = chunk_size
            while True:
                last = min(first + window, len(spans)) - 1
                if last == len(spans) - 1:
                    end = int(spans[last][1])
                else:
                    end = self._cut(spans, first, last, window, boundaries)
                piece, begin, end = _trimmed(text, int(spans[first][0]), end)
                tokens = self._count(piece)
                # The piece's own tokenisation can differ from its spans by a token or two.
                if tokens <= chunk_size or window == 1:
                    break
                window = max(1, window - (tokens - chunk_size))
            chunks.append(Chunk(len(chunks), piece, begin, end, tokens))
            following = int(np.searchsorted(starts, end, "left"))
            if following >= len(spans):
                break
            first = self._next_start(text, spans, first, following, chunk_overlap, word_starts)
        return chunks

    def _visible(self, text: str, spans: np.ndarray) -> np.ndarray:
        """The spans of tokens that are not only whitespace."""
        keep = np.zeros(len(spans), dtype=bool)
        for low in range(0, len(spans), _STEP):
            self._check()
            block = spans[low : low + _STEP].tolist()
            keep[low : low + len(block)] = [bool(text[a:b].strip()) for a, b in block]
        return spans[keep]

    def _ends(self, kind: re.Pattern[str], text: str) -> np.ndarray:
        """Where each match of `kind` in `text` ends, ascending (matches do not overlap)."""
        found = kind.finditer(text)
        parts = []
        while True:
            self._check()
            part = np.fromiter((m.end() for m in itertools.islice(found, _STEP)), np.int64)
            parts.append(part)
            if len(part) < _STEP:
                return np.concatenate(parts)

    def _cut(
        self,
        spans: np.ndarray,
        first: int,
        last: int,
        window: int,
        boundaries: list[np.ndarray],
    ) -> int:
        """Where a chunk of tokens `first..last` (at most) ends: the best boundary."""
        low = spans[first][0]
        limit = spans[last + 1][0]
        half = spans[min(first + window // 2, last)][0]
        for kind in boundaries:
            at = int(np.searchsorted(kind, limit, "right")) - 1
            if at >= 0 and kind[at] > half:
                return int(kind[at])
        spaces = boundaries[-1]  # any space at all rather than cutting a word
        at = int(np.searchsorted(spaces, limit, "right")) - 1
        if at >= 0 and spaces[at] > low:
            return int(spaces[at])
        return int(spans[last][1])  # one word longer than the window: cut between tokens

    def _next_start(
        self,
        text: str,
        spans: np.ndarray,
        first: int,
        following: int,
        overlap: int,
        word_starts: np.ndarray,
    ) -> int:
        """The first token of the next chunk: at a word start about `overlap` tokens before
        `following` (the first token after the chunk), and after `first`."""
        if overlap == 0:
            return following
        wanted = max(first + 1, following - overlap)
        for index in range(wanted, following):
            start = int(spans[index][0])
            if start == 0 or _contains(word_starts, start) or text[start - 1].isspace():
                return index
        return following


def _contains(sorted_values: np.ndarray, value: int) -> bool:
    at = int(np.searchsorted(sorted_values, value))
    return at < len(sorted_values) and int(sorted_values[at]) == value


def _trimmed(text: str, begin: int, end: int) -> tuple[str, int, int]:
    piece = text[begin:end]
    stripped = piece.strip()
    if not stripped:
        return "", begin, begin
    begin += len(piece) - len(piece.lstrip())
    return stripped, begin, begin + len(stripped)


__all__ = ["Chunk", "Chunker", "check_window"]
