"""`llmspell storage validate|stats|benchmark`: argument parsing and printing over
`llmspell.storage.ops` (validate, stats, benchmark). Tables via rich; `--json` for machines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmspell.cli_base import subcommand, with_storage_settings


def register(sub: Any) -> None:
    """Add `validate`, `stats` and `benchmark` to the `storage` command group."""
    validate = subcommand(
        sub,
        "validate",
        help="check schema, RLS, artifacts, vectors, graph, partitions, keyword index (exit 1 "
        "on any problem)",
    )
    validate.add_argument("--component", help="only this component's checks (e.g. artifacts)")
    validate.add_argument(
        "--repair",
        action="store_true",
        help="rebuild what the rows determine: keyword index, event partitions, RLS flags",
    )
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.set_defaults(handler=cmd_validate)

    stats = subcommand(sub, "stats", help="rows and bytes per component per tenant")
    stats.add_argument("--tenant", help="only this tenant")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.set_defaults(handler=cmd_stats)

    from llmspell.storage.ops.benchmark import DEFAULT_OPERATIONS
    from llmspell.storage.settings import BACKENDS

    benchmark = subcommand(
        sub,
        "benchmark",
        help="latency (p50/p95/p99) and throughput per operation beside the raw driver's",
    )
    benchmark.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the backend to measure (default: the configured one)",
    )
    benchmark.add_argument(
        "--operations",
        type=int,
        default=DEFAULT_OPERATIONS,
        help=f"operations per measurement (default {DEFAULT_OPERATIONS})",
    )
    benchmark.add_argument("--json", action="store_true", help="print the figures as JSON")
    benchmark.set_defaults(handler=cmd_benchmark)


def _console() -> Any:
    from rich.console import Console

    # A pipe gets rich's 80 columns, too narrow for the messages.
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)


@with_storage_settings
def cmd_validate(args: argparse.Namespace, settings: Any) -> int:
    """`storage validate [--component C] [--repair] [--json]`: exit 1 on any problem."""
    from llmspell.storage.ops.validate import validate

    report = validate(settings, args.component, repair=args.repair)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "checks": [
                        {
                            "name": r.name,
                            "component": r.component or None,
                            "applies": r.applies,
                            "problems": [p.__dict__ for p in r.problems],
                            "repaired": list(r.repaired),
                        }
                        for r in report.results
                    ],
                },
                indent=2,
            )
        )
        return 0 if report.ok else 1
    from rich.table import Table

    table = Table(title="storage validate")
    for column in ("check", "component", "result"):
        table.add_column(column)
    for result in report.results:
        if not result.applies:
            outcome = "[dim]not on this backend[/dim]"
        elif result.problems:
            outcome = f"[red]{len(result.problems)} problems[/red]"
        else:
            outcome = "[green]ok[/green]"
        if result.repaired:
            outcome += f" ({len(result.repaired)} repaired)"
        table.add_row(result.name, result.component or "(database)", outcome)
    console = _console()
    console.print(table)
    for result in report.results:
        for line in result.repaired:
            print(f"repaired: {line}")
    for problem in report.problems:
        where = " ".join(
            part
            for part in (
                f"tenant {problem.tenant}" if problem.tenant else "",
                problem.table or "",
            )
            if part
        )
        print(f"{problem.check}: {problem.message}" + (f" [{where}]" if where else ""))
    print("no problems found" if report.ok else f"{len(report.problems)} problems found")
    return 0 if report.ok else 1


@with_storage_settings
def cmd_stats(args: argparse.Namespace, settings: Any) -> int:
    """`storage stats [--tenant T] [--json]`."""
    from llmspell.storage.ops.stats import stats

    usage = stats(settings, args.tenant)
    if args.json:
        print(json.dumps([u.__dict__ for u in usage], indent=2))
        return 0
    from rich.table import Table

    table = Table(title="storage stats")
    table.add_column("tenant")
    table.add_column("component")
    table.add_column("rows", justify="right")
    table.add_column("bytes", justify="right")
    for u in usage:
        table.add_row(u.tenant, u.component, f"{u.rows:,}", f"{u.bytes:,}")
    table.add_section()
    table.add_row(
        "total", "", f"{sum(u.rows for u in usage):,}", f"{sum(u.bytes for u in usage):,}"
    )
    _console().print(table)
    return 0


@with_storage_settings
def cmd_benchmark(args: argparse.Namespace, settings: Any) -> int:
    """`storage benchmark [--backend B] [--operations N] [--json]`."""
    from llmspell.storage.ops.benchmark import benchmark

    results = benchmark(settings, backend=args.backend, operations=args.operations)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"storage benchmark ({args.operations} operations each)")
    for column in (
        "operation",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "ops/s",
        "raw driver p50 ms",
        "raw ops/s",
        "note",
    ):
        table.add_column(column, justify="left" if column in ("operation", "note") else "right")
    for r in results:
        table.add_row(
            r.operation,
            f"{r.p50_ms:.3f}",
            f"{r.p95_ms:.3f}",
            f"{r.p99_ms:.3f}",
            f"{r.throughput:,.0f}",
            f"{r.raw_p50_ms:.3f}",
            f"{r.raw_throughput:,.0f}",
            r.note,
        )
    _console().print(table)
    return 0
