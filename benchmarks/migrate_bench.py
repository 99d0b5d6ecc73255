"""Migrate benchmark (a script, not a test): state items/s from SQLite to PostgreSQL.

    python benchmarks/migrate_bench.py [--items N] [--batch-size N] [--json]

Three runs over the same N kv entries of one tenant, in one process:
  raw COPY   the floor: sqlite3 reads the rows as stored, psycopg COPYs them into a scratch
             copy of the table (same primary key) as the owner: no row-level security, no
             type conversion, no checksum;
  migrate    `storage.ops.migrate` without read-back (`validate=False`, `--no-validate`: the
             rows are counted in the target, no checksum is computed);
  validated  `storage.ops.migrate` as the CLI runs it, reading every unit back before commit.
Each prints items/s and its ratio to the raw COPY of the same run. PostgreSQL is the embedded
server, or LLMSPELL_BENCH_PG_URL (see storage_bench.py).
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

from storage_bench import postgres_logins

from llmspell.storage import StorageSettings, open_storage
from llmspell.storage.components.kv import kv_entries
from llmspell.storage.ops.migrate import migrate
from llmspell.storage.postgres.urls import connect

TENANT = "bench"
VALUE = json.dumps({"name": "benchmark", "n": 42, "tags": ["a", "b", "c"]})


def fill_source(path: Path, items: int) -> None:
    """`items` kv entries of TENANT, written through the table's own types."""
    settings = StorageSettings(backend="sqlite", sqlite_path=str(path))
    with open_storage(settings, TENANT) as storage:
        now = datetime.now(UTC)
        rows = [
            {
                "tenant_id": TENANT,
                "scope": "bench",
                "key": f"key-{i:08d}",
                "value": VALUE,
                "version": 1,
                "updated_at": now,
            }
            for i in range(items)
        ]
        with storage.database("kv").transaction(write=True) as conn:
            conn.execute(kv_entries.insert(), rows)


def raw_copy(path: Path, owner_url: str) -> float:
    """Seconds for sqlite3 + psycopg COPY of the same rows into an RLS-free scratch table."""
    scratch = f"bench_kv_{uuid.uuid4().hex[:8]}"
    source = sqlite3.connect(path)
    with connect(owner_url) as conn:
        conn.execute(f"CREATE TABLE {scratch} (LIKE kv_entries INCLUDING INDEXES)")
        conn.execute("SET TimeZone = 'UTC'")
        conn.commit()
        start = time.perf_counter()
        cursor = source.execute(
            "SELECT tenant_id, scope, key, value, version, updated_at FROM kv_entries"
        )
        with conn.cursor() as pg, pg.copy(f"COPY {scratch} FROM STDIN") as copy:
            while batch := cursor.fetchmany(10_000):
                for row in batch:
                    copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute(f"DROP TABLE {scratch}")
        conn.commit()
    source.close()
    return elapsed


def run_migrate(path: Path, target: StorageSettings, batch_size: int, validate: bool) -> float:
    tenant = f"{TENANT}-{uuid.uuid4().hex[:6]}"
    # a fresh tenant per run: the same rows under another tenant id (a copy of the file)
    copy_path = path.with_name(f"{tenant}.db")
    copy_path.write_bytes(path.read_bytes())
    with sqlite3.connect(copy_path) as conn:
        conn.execute("UPDATE kv_entries SET tenant_id = ?", (tenant,))
    start = time.perf_counter()
    report = migrate(
        StorageSettings(backend="sqlite", sqlite_path=str(copy_path)),
        target,
        components=["kv"],
        batch_size=batch_size,
        validate=validate,
    )
    elapsed = time.perf_counter() - start
    assert report.rows == report.totals()["kv"][1], report
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"items": args.items}
    with tempfile.TemporaryDirectory() as directory, postgres_logins() as logins:
        path = Path(directory) / "source.db"
        fill_source(path, args.items)
        target = StorageSettings(
            backend="postgres", pg_url=logins.app_url, pg_admin_url=logins.owner_url
        )
        raw = raw_copy(path, logins.owner_url)
        plain = run_migrate(path, target, args.batch_size, validate=False)
        validated = run_migrate(path, target, args.batch_size, validate=True)
    for name, seconds in (("raw_copy", raw), ("migrate", plain), ("migrate_validated", validated)):
        results[name] = {
            "seconds": round(seconds, 3),
            "items_per_s": round(args.items / seconds),
            "ratio_to_raw_copy": round(raw / seconds, 3),
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"migrate sqlite -> postgres, {args.items} kv items (target >= 200000 items/s)")
    for name, figures in results.items():
        if name == "items":
            continue
        print(
            f"  {name:<18} {figures['items_per_s']:>9,} items/s  {figures['seconds']:>7.2f} s  "
            f"{figures['ratio_to_raw_copy']:.2f}x raw COPY"
        )


if __name__ == "__main__":
    main()
