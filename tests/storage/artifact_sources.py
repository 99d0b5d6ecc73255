"""Artifact content sources that misbehave on purpose (the artifact suites use them)."""

from __future__ import annotations

from collections.abc import Iterator

from llmspell.storage.components.artifacts import Content


class BreaksWhileWriting(Content):
    """Stable bytes whose second pass (the write) breaks half-way through."""

    stable = True

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.passes = 0

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        self.passes += 1
        for start in range(0, len(self.body), chunk_bytes):
            if self.passes == 2 and start >= len(self.body) // 2:
                raise OSError("the source broke half-way")
            yield self.body[start : start + chunk_bytes]


class ChangesBetweenPasses(Content):
    """A source whose bytes differ on the second pass (a file rewritten while stored)."""

    def __init__(self) -> None:
        self.passes = 0

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        self.passes += 1
        yield b"first pass" if self.passes == 1 else b"other pass"
