"""Event log benchmark (a script, not a test): append throughput and query latency per backend.

    python benchmarks/event_bench.py [--events N] [--queries N] [--backend B] [--json]

Baselines measured in the same run: a state write on the same backend (one transaction, one
upsert — an append is one transaction, a counter upsert and an insert), and on SQLite the
same append and queries written by hand against sqlite3 (the floor). PostgreSQL is the
embedded server (see storage_bench.py).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage_bench import percentiles, postgres_logins, timed

from llmspell.storage import SqlStorage, StorageSettings, open_storage

PAYLOAD = {"order": 42, "items": ["a", "b"], "total": 9.5}
TYPES = [f"kind{t}.{verb}" for t in range(10) for verb in ("created", "updated")]


def appends_per_second(append: Any, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        append(i)
    return n / (time.perf_counter() - start)


def bench_log(storage: SqlStorage, events: int, queries: int) -> dict[str, Any]:
    log = storage.events

    def append(i: int) -> None:
        log.append(TYPES[i % len(TYPES)], PAYLOAD, correlation_id=f"req-{i % 500}")

    append(0)  # opens storage (and on PostgreSQL creates this month's partitions)
    rate = appends_per_second(append, events)
    state_rate = appends_per_second(lambda i: storage.kv.put("bench", f"k{i % 200}", PAYLOAD), 500)
    return {
        "append_per_s": rate,
        "state_write_per_s": state_rate,
        "query_pattern_limit100": percentiles(
            timed(lambda i: log.query(pattern=f"kind{i % 10}.*", limit=100), queries, warmup=10)
        ),
        "query_type_limit100": percentiles(
            timed(lambda i: log.query(event_type=TYPES[i % len(TYPES)], limit=100), queries, 10)
        ),
        "query_correlation": percentiles(
            timed(lambda i: log.query(correlation_id=f"req-{i % 500}"), queries, warmup=10)
        ),
    }


def bench_raw_sqlite(path: str, events: int, queries: int) -> dict[str, Any]:
    """The floor: the same rows and indexes with hand-written SQL on sqlite3."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE seq (t TEXT PRIMARY KEY, n INTEGER)")
    conn.execute(
        "CREATE TABLE ev (t TEXT, id TEXT, type TEXT, corr TEXT, ts TEXT, n INTEGER, "
        "payload TEXT, expires TEXT, PRIMARY KEY (t, n, ts))"
    )
    conn.execute("CREATE INDEX ev_type ON ev (t, type)")
    conn.execute("CREATE INDEX ev_corr ON ev (t, corr)")
    conn.execute("CREATE INDEX ev_ts ON ev (t, ts)")
    text = json.dumps(PAYLOAD)

    def append(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        n = conn.execute(
            "INSERT INTO seq VALUES ('t', 1) ON CONFLICT DO UPDATE SET n = n + 1 RETURNING n"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO ev VALUES ('t', ?, ?, ?, ?, ?, ?, NULL)",
            (
                str(uuid.uuid4()),
                TYPES[i % len(TYPES)],
                f"req-{i % 500}",
                datetime.now(UTC).isoformat(),
                n,
                text,
            ),
        )
        conn.execute("COMMIT")

    def by_type(i: int) -> None:
        rows = conn.execute(
            "SELECT * FROM ev WHERE t = 't' AND type = ? ORDER BY n LIMIT 100",
            (TYPES[i % len(TYPES)],),
        ).fetchall()
        [json.loads(row[6]) for row in rows]

    append(0)
    rate = appends_per_second(append, events)
    result = {
        "append_per_s": rate,
        "query_type_limit100": percentiles(timed(by_type, queries, warmup=10)),
    }
    conn.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events appended (timed)")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per kind")
    parser.add_argument("--backend", choices=["memory", "sqlite", "postgres"], action="append")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    backends = args.backend or ["memory", "sqlite", "postgres"]
    report: dict[str, Any] = {"events": args.events, "queries": args.queries}
    with tempfile.TemporaryDirectory(prefix="llmspell-bench-") as tmp:
        if "memory" in backends:
            with open_storage(StorageSettings(backend="memory"), "bench") as storage:
                report["memory"] = bench_log(storage, args.events, args.queries)
        if "sqlite" in backends:
            settings = StorageSettings(backend="sqlite", sqlite_path=str(Path(tmp) / "ev.db"))
            with open_storage(settings, "bench") as storage:
                report["sqlite"] = bench_log(storage, args.events, args.queries)
            report["sqlite_raw"] = bench_raw_sqlite(
                str(Path(tmp) / "raw.db"), args.events, args.queries
            )
        if "postgres" in backends:
            with postgres_logins() as logins:
                settings = StorageSettings(
                    backend="postgres", pg_url=logins.app_url, auto_upgrade=False, pg_pool_max=4
                )
                with open_storage(settings, "bench") as storage:
                    report["postgres"] = bench_log(storage, args.events, args.queries)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"llmspell event log benchmark: {args.events} appends, {args.queries} queries per kind "
        f"(log of {args.events + 1} events, {len(TYPES)} types)"
    )
    for backend in ("memory", "sqlite", "postgres"):
        if backend not in report:
            continue
        row = report[backend]
        print(
            f"  {backend:<9} append {row['append_per_s']:>8.0f}/s "
            f"(state write {row['state_write_per_s']:.0f}/s, ratio "
            f"{row['append_per_s'] / row['state_write_per_s']:.2f})   query p50: "
            f"pattern {row['query_pattern_limit100']['p50_ms']:.3f} ms, "
            f"type {row['query_type_limit100']['p50_ms']:.3f} ms, "
            f"correlation {row['query_correlation']['p50_ms']:.3f} ms"
        )
    if "sqlite" in report and "sqlite_raw" in report:
        raw, ours = report["sqlite_raw"], report["sqlite"]
        print(
            f"  sqlite vs raw sqlite3: append {raw['append_per_s']:.0f}/s raw "
            f"({ours['append_per_s'] / raw['append_per_s']:.2f}x of raw), query by type p50 "
            f"{raw['query_type_limit100']['p50_ms']:.3f} ms raw "
            f"({ours['query_type_limit100']['p50_ms'] / raw['query_type_limit100']['p50_ms']:.1f}x)"
        )


if __name__ == "__main__":
    main()
