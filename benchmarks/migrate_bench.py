"""Migrate benchmark (a script, not a test): state items/s from SQLite to PostgreSQL.

    python benchmarks/migrate_bench.py [--items N] [--batch-size N] [--json]

Five runs over the same N kv entries of one tenant, in one process:
  raw COPY       the reference: sqlite3 reads the rows as stored, psycopg COPYs them row by row
                 into a scratch copy of the table (same primary key) as the owner: no
                 row-level security, no type conversion, no checksum;
  raw COPY text  a faster floor: the same rows as COPY text formatted by SQLite (migrate's own
                 SELECT, `copy_text`), written in chunks into a scratch copy as the owner;
  staged text    the floor under forced row-level security, which refuses COPY into the table:
                 the same text (formatted beforehand, not timed) COPYed into a temporary table
                 and moved by INSERT ... SELECT as the app role, batch by batch, in one
                 transaction: PostgreSQL's share of what migrate does, without its checks;
  migrate        `storage.ops.migrate` without read-back (`validate=False`, `--no-validate`: the
                 rows are counted in the target, no checksum is computed);
  validated      `storage.ops.migrate` as the CLI runs it, checking every unit before its commit
                 (state: each batch's COPY lines hashed as sent, and by PostgreSQL as it stores
                 them, in key order).
The parts that write into kv_entries (staged text, migrate, validated) each start from the
emptied table. Each prints items/s and its ratio to the raw COPY of the same run (`--runs N`:
N rounds, each with its own raw COPY), and the CPU time it took: this process's (every
thread) and the embedded server's (all its processes, read from /proc; not for
LLMSPELL_BENCH_PG_URL). On a busy machine the CPU times vary far less than the wall times.
PostgreSQL is the embedded server, or LLMSPELL_BENCH_PG_URL (see storage_bench.py).
`migrate_move_breakdown.py` splits the server's share further.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage_bench import postgres_logins

from llmspell.storage import StorageSettings, open_storage
from llmspell.storage.components.kv import kv_entries, kv_history
from llmspell.storage.ops.copy_text import copy_text
from llmspell.storage.ops.migrate import migrate
from llmspell.storage.postgres.urls import connect
from llmspell.storage.schema import COPYING_SETTING

TENANT = "bench"
VALUE = json.dumps({"name": "benchmark", "n": 42, "tags": ["a", "b", "c"]})


@dataclass
class Timing:
    """Wall seconds of a timed part, and the CPU seconds this process and the server spent."""

    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None  # None: a server this process cannot see


class Clock:
    """Times parts of the benchmark: wall, this process's CPU, the local server's CPU."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster

    @contextmanager
    def timing(self) -> Iterator[Timing]:
        timing = Timing()
        server, client, start = self._server_cpu(), _client_cpu(), time.perf_counter()
        yield timing
        timing.seconds = time.perf_counter() - start
        timing.client_cpu = _client_cpu() - client
        if server is not None:
            time.sleep(0.1)  # the backends that closed at the end are reaped
            end = self._server_cpu()
            timing.server_cpu = None if end is None else end - server

    def _server_cpu(self) -> float | None:
        """CPU seconds of the postmaster's exited children and of its live ones."""
        if self.postmaster is None:
            return None
        try:
            fields = _proc_stat(self.postmaster)
            ticks = int(fields[13]) + int(fields[14])  # cutime, cstime
            for name in os.listdir("/proc"):
                if name.isdigit():
                    try:
                        child = _proc_stat(int(name))
                    except (OSError, IndexError):
                        continue
                    if int(child[1]) == self.postmaster:
                        ticks += int(child[11]) + int(child[12])  # utime, stime
        except OSError:
            return None
        return ticks / os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (ppid first)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postmaster_of(owner_url: str) -> int | None:
    """The embedded server's postmaster, whose processes' CPU time /proc shows (None: an
    external server, or no /proc)."""
    if os.environ.get("LLMSPELL_BENCH_PG_URL") or not os.path.isdir("/proc"):
        return None
    with connect(owner_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        try:  # the backend's parent, read while the backend lives
            return int(_proc_stat(int(row[0]))[1]) if row else None
        except OSError:
            return None


def fill_source(path: Path, items: int) -> None:
    """`items` kv entries of TENANT (and no history rows), written through the table's own
    types."""
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
            # The first versions the database records (revision 0018) go: the N items are the
            # entries alone, as the raw COPY baselines copy them.
            conn.execute(kv_history.delete())


def raw_copy(path: Path, owner_url: str, clock: Clock) -> Timing:
    """sqlite3 + psycopg COPY of the same rows into an RLS-free scratch table."""
    scratch = f"bench_kv_{uuid.uuid4().hex[:8]}"
    source = sqlite3.connect(path)
    with connect(owner_url) as conn:
        conn.execute(f"CREATE TABLE {scratch} (LIKE kv_entries INCLUDING INDEXES)")
        conn.execute("SET TimeZone = 'UTC'")
        conn.commit()
        with clock.timing() as timing:
            cursor = source.execute(
                "SELECT tenant_id, scope, key, value, version, updated_at FROM kv_entries"
            )
            with conn.cursor() as pg, pg.copy(f"COPY {scratch} FROM STDIN") as copy:
                while batch := cursor.fetchmany(10_000):
                    for row in batch:
                        copy.write_row(row)
            conn.commit()
        conn.execute(f"DROP TABLE {scratch}")
        conn.commit()
    source.close()
    return timing


def formatted(path: Path, batch_size: int) -> list[bytes]:
    """The rows as COPY text chunks, formatted by SQLite as migrate formats them."""
    settings = StorageSettings(backend="sqlite", sqlite_path=str(path))
    with open_storage(settings, TENANT) as storage, storage.database("kv").transaction() as conn:
        return [chunk.data for chunk in copy_text(conn, kv_entries, TENANT, batch_size)]


def raw_copy_text(path: Path, owner_url: str, batch_size: int, clock: Clock) -> Timing:
    """SQLite's COPY text of the rows, read and written in chunks into an RLS-free scratch
    table."""
    scratch = f"bench_kv_{uuid.uuid4().hex[:8]}"
    with connect(owner_url) as conn:
        conn.execute(f"CREATE TABLE {scratch} (LIKE kv_entries INCLUDING INDEXES)")
        conn.execute("SET TimeZone = 'UTC'")
        conn.commit()
        with clock.timing() as timing:
            with conn.cursor() as pg, pg.copy(f"COPY {scratch} FROM STDIN") as copy:
                for chunk in formatted(path, batch_size):
                    copy.write(chunk)
            conn.commit()
        conn.execute(f"DROP TABLE {scratch}")
        conn.commit()
    return timing


def staged_text(path: Path, app_url: str, batch_size: int, clock: Clock) -> Timing:
    """The same text COPYed into a temporary table and moved into kv_entries by INSERT ...
    SELECT as the app role (row-level security forced), batch by batch."""
    tenant = f"{TENANT}-{uuid.uuid4().hex[:6]}"
    old, new = f"{TENANT}\t".encode(), f"{tenant}\t".encode()
    chunks = [chunk.replace(old, new) for chunk in formatted(path, batch_size)]
    with connect(app_url) as conn, clock.timing() as timing:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
        # as migrate does: a copy writes the history rows itself, the first-version trigger
        # (revision 0018) stands aside
        conn.execute("SELECT set_config(%s, 'on', true)", (COPYING_SETTING,))
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        conn.execute("CREATE TEMPORARY TABLE bench_stage (LIKE kv_entries) ON COMMIT DROP")
        with conn.cursor() as pg:
            for chunk in chunks:
                with pg.copy("COPY bench_stage FROM STDIN") as copy:
                    copy.write(chunk)
                pg.execute("INSERT INTO kv_entries SELECT * FROM bench_stage")
                pg.execute("TRUNCATE bench_stage")
        conn.commit()
    return timing


def run_migrate(
    path: Path, target: StorageSettings, batch_size: int, validate: bool, clock: Clock
) -> Timing:
    tenant = f"{TENANT}-{uuid.uuid4().hex[:6]}"
    # a fresh tenant per run: the same rows under another tenant id (a copy of the file)
    copy_path = path.with_name(f"{tenant}.db")
    copy_path.write_bytes(path.read_bytes())
    with sqlite3.connect(copy_path) as conn:
        conn.execute("UPDATE kv_entries SET tenant_id = ?", (tenant,))
    with clock.timing() as timing:
        report = migrate(
            StorageSettings(backend="sqlite", sqlite_path=str(copy_path)),
            target,
            components=["kv"],
            batch_size=batch_size,
            validate=validate,
        )
    assert report.rows == report.totals()["kv"][1], report
    return timing


def emptied(owner_url: str) -> None:
    """Empty the state tables (the owner's TRUNCATE, which row-level security does not
    filter): each part that writes into kv_entries starts from the same empty table. Left
    filled, a later part inserts into a larger table and index than the part before it, past
    the embedded server's 128 MB of shared buffers after a few parts, and its server CPU grows
    with that, not with what it does (0.6 -> 0.76 s for the same migrate)."""
    with connect(owner_url) as conn:
        conn.execute(f"TRUNCATE {kv_entries.name}, {kv_history.name}")
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as directory, postgres_logins() as logins:
        path = Path(directory) / "source.db"
        fill_source(path, args.items)
        target = StorageSettings(
            backend="postgres", pg_url=logins.app_url, pg_admin_url=logins.owner_url
        )
        clock = Clock(postmaster_of(logins.owner_url))
        size = args.batch_size
        for _ in range(args.runs):
            raw = raw_copy(path, logins.owner_url, clock)
            timings = {
                "raw_copy": raw,
                "raw_copy_text": raw_copy_text(path, logins.owner_url, size, clock),
                "staged_text": staged_text(path, logins.app_url, size, clock),
            }
            emptied(logins.owner_url)
            timings["migrate"] = run_migrate(path, target, size, validate=False, clock=clock)
            emptied(logins.owner_url)
            timings["migrate_validated"] = run_migrate(
                path, target, size, validate=True, clock=clock
            )
            emptied(logins.owner_url)
            rounds.append(
                {
                    name: {
                        "seconds": round(timing.seconds, 3),
                        "items_per_s": round(args.items / timing.seconds),
                        "ratio_to_raw_copy": round(raw.seconds / timing.seconds, 3),
                        "client_cpu_s": round(timing.client_cpu, 3),
                        "server_cpu_s": None
                        if timing.server_cpu is None
                        else round(timing.server_cpu, 2),
                    }
                    for name, timing in timings.items()
                }
            )
    if args.json:
        print(json.dumps({"items": args.items, "runs": rounds}, indent=2))
        return
    print(f"migrate sqlite -> postgres, {args.items} kv items (target >= 200000 items/s)")
    for number, results in enumerate(rounds, 1):
        print(f" run {number}")
        for name, figures in results.items():
            server = figures["server_cpu_s"]
            cpu = f"CPU {figures['client_cpu_s']:.2f} s + server "
            cpu += "?" if server is None else f"{server:.2f} s"
            print(
                f"  {name:<18} {figures['items_per_s']:>9,} items/s  {figures['seconds']:>7.2f} s  "
                f"{figures['ratio_to_raw_copy']:.2f}x raw COPY  {cpu}"
            )


if __name__ == "__main__":
    main()
