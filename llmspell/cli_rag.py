"""`llmspell rag ingest|search`: argument parsing, a progress bar and a table over `RagManager`.

`rag ingest PATH...` reads files and whole folders (recursively, those matching `--glob`); the
paths named on the command line are the allowed roots of that run (the operator chose them),
so a symbolic link inside them that leads elsewhere is still refused.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmspell.cli_base import Handler, fail, guarded, run_config, subcommand

# Extensions `rag ingest` picks up in a folder when no --glob is given.
DEFAULT_EXTENSIONS = (".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".pdf")


def register(subparsers: Any) -> None:
    """Add the `rag` command group to the main parser's subcommands."""
    rag = subcommand(subparsers, "rag", help="ingest documents into RAG and search them")
    sub = rag.add_subparsers(dest="rag_command", metavar="ACTION", required=True)

    ingest = subcommand(
        sub, "ingest", help="ingest files and folders: llmspell rag ingest docs/ notes.md"
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    ingest.add_argument(
        "--glob",
        help="in folders, only files matching this pattern (default: text, markdown, HTML, PDF)",
    )
    _scope_options(ingest)
    ingest.add_argument("--chunk-size", type=int, help="tokens per chunk (default: [rag])")
    ingest.add_argument("--chunk-overlap", type=int, help="tokens shared by neighbouring chunks")
    ingest.add_argument("--ttl-s", type=float, help="the chunks expire after this many seconds")
    ingest.add_argument(
        "--format", choices=["text", "markdown", "html", "pdf"], help="default: by extension"
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(handler=cmd_ingest)

    search = subcommand(sub, "search", help='search: llmspell rag search "query" --k 5')
    search.add_argument("query")
    search.add_argument("--k", type=int, default=10, help="how many results (default 10)")
    search.add_argument("--threshold", type=float, help="drop results scoring below this (0-1)")
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="exact metadata match (VALUE as JSON when it parses, else text); repeatable",
    )
    _scope_options(search)
    search.add_argument("--no-hybrid", action="store_true", help="meaning only (no keyword fusion)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(handler=cmd_search)


def _scope_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", help="collection scope (e.g. session, project); default global")
    parser.add_argument("--scope-id", help="the scope's id (with --scope)")


def _with_rag(run: Callable[[argparse.Namespace, Any], int]) -> Handler:
    """A `guarded` command run with the RagManager of the configured runtime (closed after)."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace) -> int:
        from llmspell.runtime.infrastructure import Infrastructure
        from llmspell.runtime.rag import RagManager

        infra = Infrastructure.from_config(run_config(args).config)
        try:
            return run(args, infra.get(RagManager))
        finally:
            infra.close()

    return guarded(handler)


def files_to_ingest(paths: list[str], glob: str | None) -> Iterator[Path]:
    """The files named, and those under the folders named (sorted; `glob` filters folders'
    files by name; default: the readable extensions)."""
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob(glob or "*") if p.is_file())
            for file in found:
                if glob or file.suffix.lower() in DEFAULT_EXTENSIONS:
                    yield file
        else:
            yield path


@_with_rag
def cmd_ingest(args: argparse.Namespace, rag: Any) -> int:
    """`rag ingest PATH... [--glob G] [--scope S --scope-id I] [--chunk-size N ...]`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    files = list(files_to_ingest(args.paths, args.glob))
    if not files:
        return fail(args, f"no files to ingest under {', '.join(args.paths)}")
    roots = [str(Path(p).expanduser()) for p in args.paths]
    options = {
        "scope": args.scope,
        "scope_id": args.scope_id,
        "chunk_size": args.chunk_size,
        "chunk_overlap": args.chunk_overlap,
        "ttl_s": args.ttl_s,
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=args.quiet or not sys.stderr.isatty(),
        console=None,
        transient=True,
    ) as progress:
        totals = ingest_files(
            rag, files, progress, format=args.format, allowed_paths=roots, **options
        )
    where = "global" if args.scope is None else f"{args.scope}:{args.scope_id}"
    print(
        f"ingested {totals['documents']} documents: {totals['chunks']} chunks, "
        f"{totals['tokens']} tokens into the {where} collection"
    )
    return 0


def ingest_files(rag: Any, files: list[Path], progress: Any, **options: Any) -> dict[str, int]:
    """Ingest `files` one by one with `rag.ingest_file(path, **options)`, showing on the rich
    `progress` a bar of files and, while a large file is stored, one of its chunks; totals of
    documents, chunks and tokens."""
    totals = {"documents": 0, "chunks": 0, "tokens": 0}
    files_task = progress.add_task("ingesting", total=len(files))
    chunks_task = progress.add_task("  chunks", total=None, visible=False)

    def stored(done: int, total: int) -> None:
        progress.update(chunks_task, completed=done, total=total, visible=True)

    for file in files:
        progress.update(files_task, description=f"ingesting {file.name}")
        progress.update(chunks_task, completed=0, total=None, visible=False)
        report = rag.ingest_file(str(file), progress=stored, **options)
        totals["documents"] += report.documents_processed
        totals["chunks"] += report.chunks_created
        totals["tokens"] += report.total_tokens
        progress.advance(files_task)
    return totals


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for item in args.filter:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise ValueError(f"--filter must be KEY=VALUE, got {item!r}")
        try:
            filters[key] = json.loads(raw)
        except json.JSONDecodeError:
            filters[key] = raw
    return filters


@_with_rag
def cmd_search(args: argparse.Namespace, rag: Any) -> int:
    """`rag search QUERY [--k N] [--threshold T] [--filter K=V] [--scope ...] [--no-hybrid]`."""
    from rich.console import Console
    from rich.table import Table

    hits = rag.search(
        args.query,
        k=args.k,
        threshold=args.threshold,
        filters=_filters(args) or None,
        scope=args.scope,
        scope_id=args.scope_id,
        hybrid=not args.no_hybrid,
    )
    if args.json:
        rows = [
            {
                "id": h.id,
                "document_id": h.document_id,
                "score": h.score,
                "content": h.content,
                "metadata": h.metadata,
            }
            for h in hits
        ]
        print(json.dumps({"query": args.query, "total": len(rows), "results": rows}, indent=2))
        return 0
    table = Table(title=f"{args.query!r}: {len(hits)} results", show_lines=True)
    for column, style in (("#", "dim"), ("score", ""), ("document", "cyan"), ("chunk", "")):
        table.add_column(column, style=style or None, overflow="fold")
    for rank, hit in enumerate(hits, start=1):
        text = " ".join(hit.content.split())
        table.add_row(
            str(rank),
            f"{hit.score:.3f}",
            f"{hit.document_id}\n#{hit.metadata.get('chunk_index', 0)}",
            text if len(text) <= 400 else text[:400] + "…",
        )
    Console().print(table)
    return 0
