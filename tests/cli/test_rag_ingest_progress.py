"""`llmspell rag ingest` shows a bar of files and, while a large file is stored, a bar of its
chunks (rich, on a terminal)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from llmspell.cli_rag import ingest_files
from llmspell.runtime import load_config
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.rag import RagManager
from llmspell.runtime.rag.manager import WRITE_BATCH_CHUNKS


@pytest.fixture
def rag(isolated_env: Path) -> Iterator[RagManager]:
    infra = Infrastructure.from_config(load_config(profile="memory", env={}).config)
    try:
        yield infra.get(RagManager)
    finally:
        infra.close()


def test_a_large_file_shows_its_chunks_as_they_are_stored(rag: RagManager, tmp_path: Path) -> None:
    small = tmp_path / "a-small.md"
    small.write_text("A short note about ferries.")
    big = tmp_path / "b-big.md"
    big.write_text(
        "\n\n".join(f"Paragraph {i} says the ferry number {i} leaves at noon." for i in range(900))
    )
    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=100)
    with Progress(console=console, auto_refresh=False) as progress:
        totals = ingest_files(
            rag,
            [small, big],
            progress,
            allowed_paths=[str(tmp_path)],
            chunk_size=16,
            chunk_overlap=0,
        )
    files, chunks = progress.tasks
    assert (files.completed, files.total) == (2, 2)
    assert totals["documents"] == 2 and totals["chunks"] > WRITE_BATCH_CHUNKS
    # the chunk bar followed the big file's batches to its end
    assert chunks.visible and chunks.completed == chunks.total == totals["chunks"] - 1
    assert "chunks" in terminal.getvalue()
