"""Artifact content as chunks: bytes, text or a file, read `chunk_bytes` at a time.

A body is never assembled twice: bytes are sliced (memoryview, no copy), text is encoded a
slice at a time, a file is read a chunk at a time. The store reads a source twice when it must
(once to hash, once to write a body it does not hold yet); `stable` sources (immutable bytes)
cannot change between the passes, the others are hashed again while written.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llmspell.storage.components.artifacts.model import MiB


class Writable(Protocol):
    """Where `read_into` writes: a binary file, `io.BytesIO`, a socket wrapper..."""

    def write(self, data: bytes, /) -> object: ...


class Content(ABC):
    """Bytes to store, yielded in chunks; `chunks` can be called again for a second pass."""

    stable = False  # True: every pass yields the same bytes (nothing can change them)

    def known_size(self) -> int | None:
        """The size in bytes when known before reading (None: only reading tells)."""
        return None

    @abstractmethod
    def chunks(self, chunk_bytes: int) -> Iterator[bytes | memoryview]:
        """The bytes, `chunk_bytes` at a time (the last chunk may be shorter)."""

    def describe(self) -> str:
        return "content"


class BytesContent(Content):
    """Bytes in memory; `bytes` are stable, a bytearray or memoryview may change."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self.stable = isinstance(data, bytes)

    def known_size(self) -> int:
        return self._view.nbytes

    def chunks(self, chunk_bytes: int) -> Iterator[memoryview]:
        view = self._view
        for start in range(0, view.nbytes, chunk_bytes):
            yield view[start : start + chunk_bytes]


class TextContent(Content):
    """Text, stored as UTF-8, encoded one slice at a time (never as one whole bytes copy)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        step = max(1, chunk_bytes // 4)  # a character is at most 4 bytes of UTF-8
        text = self._text
        for start in range(0, len(text), step):
            yield text[start : start + step].encode("utf-8")


class FileContent(Content):
    """A file, read a chunk at a time on every pass (it may change between them)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def known_size(self) -> int:
        return self.path.stat().st_size

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        with self.path.open("rb") as fh:
            while chunk := fh.read(chunk_bytes):
                yield chunk

    def describe(self) -> str:
        return f"file {str(self.path)!r}"


ContentLike = Content | bytes | bytearray | memoryview | str


def as_content(value: ContentLike) -> Content:
    """`value` as a chunked source (ValueError for anything that is not content)."""
    if isinstance(value, Content):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BytesContent(value)
    if isinstance(value, str):
        return TextContent(value)
    raise ValueError(f"content must be a string or bytes, got {type(value).__name__}")


@dataclass(frozen=True)
class Digest:
    """What a first pass over content found."""

    sha256: str
    size: int
    utf8: bool | None  # whether the bytes are UTF-8 text (None: not checked)


def too_large(size: int, max_bytes: int, what: str) -> ValueError:
    return ValueError(
        f"{what} is {size} bytes; the artifact size limit is {max_bytes} bytes "
        f"({max_bytes / MiB:g} MiB, storage.max_artifact_mb)"
    )


# Text is checked in slices this long: decoding builds the text, up to 4 bytes a character, and
# only a slice's worth of it should ever be alive.
UTF8_CHECK_BYTES = 64 * 1024


def _still_utf8(decoder: codecs.IncrementalDecoder, chunk: bytes | memoryview) -> bool:
    view = memoryview(chunk)
    try:
        for start in range(0, len(view), UTF8_CHECK_BYTES):
            decoder.decode(view[start : start + UTF8_CHECK_BYTES])
    except UnicodeDecodeError:
        return False
    return True


def digest(
    content: Content, chunk_bytes: int, max_bytes: int, *, check_utf8: bool = False
) -> Digest:
    """Hash `content` in one pass, refusing it as soon as it passes `max_bytes`."""
    known = content.known_size()
    if known is not None and known > max_bytes:
        raise too_large(known, max_bytes, content.describe())
    sha = hashlib.sha256()
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    text = check_utf8  # still possibly UTF-8 text
    for chunk in content.chunks(chunk_bytes):
        size += len(chunk)
        if size > max_bytes:
            raise too_large(size, max_bytes, content.describe())
        sha.update(chunk)
        if text:
            text = _still_utf8(decoder, chunk)
    if text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            text = False
    return Digest(sha256=sha.hexdigest(), size=size, utf8=text if check_utf8 else None)
