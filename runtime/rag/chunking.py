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

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    """Splits text into chunks with one token counter."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        token_spans: Callable[[str], Sequence[tuple[int, int]]],
    ) -> None:
        self._count = count_tokens
        self._spans = token_spans

    def chunks(self, text: str, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
        """The chunks of `text` (none when it is only whitespace)."""
        check_window(chunk_size, chunk_overlap)
        spans = [span for span in self._spans(text) if text[span[0] : span[1]].strip()]
        if not spans:
            return []
        boundaries = [sorted({m.end() for m in kind.finditer(text)}) for kind in _BOUNDARY_KINDS]
        word_starts = set(boundaries[-1])
        starts = [start for start, _ in spans]
        chunks: list[Chunk] = []
        first = 0  # index of the chunk's first token
        while first < len(spans):
            window = chunk_size
            while True:
                last = min(first + window, len(spans)) - 1
                if last == len(spans) - 1:
                    end = spans[last][1]
                else:
                    end = self._cut(spans, first, last, window, boundaries)
                piece, begin, end = _trimmed(text, spans[first][0], end)
                tokens = self._count(piece)
                # The piece's own tokenisation can differ from its spans by a token or two.
                if tokens <= chunk_size or window == 1:
                    break
                window = max(1, window - (tokens - chunk_size))
            chunks.append(Chunk(len(chunks), piece, begin, end, tokens))
            following = bisect.bisect_left(starts, end)
            if following >= len(spans):
                break
            first = self._next_start(text, spans, first, following, chunk_overlap, word_starts)
        return chunks

    def _cut(
        self,
        spans: Sequence[tuple[int, int]],
        first: int,
        last: int,
        window: int,
        boundaries: list[list[int]],
    ) -> int:
        """Where a chunk of tokens `first..last` (at most) ends: the best boundary."""
        low = spans[first][0]
        limit = spans[last + 1][0]
        half = spans[min(first + window // 2, last)][0]
        for kind in boundaries:
            at = bisect.bisect_right(kind, limit) - 1
            if at >= 0 and kind[at] > half:
                return kind[at]
        spaces = boundaries[-1]  # any space at all rather than cutting a word
        at = bisect.bisect_right(spaces, limit) - 1
        if at >= 0 and spaces[at] > low:
            return spaces[at]
        return spans[last][1]  # one word longer than the window: cut between tokens

    def _next_start(
        self,
        text: str,
        spans: Sequence[tuple[int, int]],
        first: int,
        following: int,
        overlap: int,
        word_starts: set[int],
    ) -> int:
        """The first token of the next chunk: at a word start about `overlap` tokens before
        `following` (the first token after the chunk), and after `first`."""
        if overlap == 0:
            return following
        wanted = max(first + 1, following - overlap)
        for index in range(wanted, following):
            start = spans[index][0]
            if start == 0 or start in word_starts or text[start - 1].isspace():
                return index
        return following


def _trimmed(text: str, begin: int, end: int) -> tuple[str, int, int]:
    piece = text[begin:end]
    stripped = piece.strip()
    if not stripped:
        return "", begin, begin
    begin += len(piece) - len(piece.lstrip())
    return stripped, begin, begin + len(stripped)


__all__ = ["Chunk", "Chunker", "check_window"]
