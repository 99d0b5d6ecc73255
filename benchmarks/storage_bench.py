"""Storage benchmark (a script, not a test): state read/write latency per backend, RLS overhead.

    python benchmarks/storage_bench.py [--operations N] [--backend memory|sqlite|postgres] [--json]

PostgreSQL is the embedded server (started in a temp dir, stopped afterwards), or the server
of LLMSPELL_BENCH_PG_URL (a superuser URL; a scratch database is created and dropped).
RLS overhead runs the same kv calls (and the same bare SELECT) as the app role, where
row-level security applies, and as a role that bypasses it with the explicit
`WHERE tenant_id = ...` alone, interleaved in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmspell.storage import StorageSettings, open_storage
from llmspell.storage.components.kv import PRUNE_EVERY, KVSettings, SqlKVStore
from llmspell.storage.database import Database, EngineSource
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.tenancy import Tenant

VALUE = {"name": "benchmark", "n": 42, "tags": ["a", "b", "c"], "nested": {"ok": True}}


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def timed(fn: Callable[[int], Any], n: int, warmup: int = 50) -> list[float]:
    for i in range(warmup):
        fn(i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def bench_kv(kv: Any, n: int, keys: int = 200) -> dict[str, dict[str, float]]:
    for k in range(keys):
        kv.put("bench", f"key-{k}", VALUE)
    write = timed(lambda i: kv.put("bench", f"key-{i % keys}", VALUE), n)
    read = timed(lambda i: kv.get("bench", f"key-{i % keys}"), n)
    first = timed(lambda i: kv.put("bench-new", f"new-{i}", VALUE), n)  # a new key each
    return {
        "state_write": percentiles(write),
        "state_read": percentiles(read),
        "state_write_new_key": percentiles(first),
    }


def bench_raw_sqlite(path: str, n: int, keys: int = 200) -> dict[str, dict[str, float]]:
    """The floor: sqlite3 with hand-written SQL, same file settings, same data shape."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS raw (t TEXT, s TEXT, k TEXT, v TEXT, PRIMARY KEY (t, s, k))"
    )
    text = json.dumps(VALUE)

    def write(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO raw VALUES ('t', 'bench', ?, ?) ON CONFLICT DO UPDATE SET v = excluded.v",
            (f"key-{i % keys}", text),
        )
        conn.execute("COMMIT")

    def write_new_key(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO raw VALUES ('t', 'new', ?, ?) ON CONFLICT DO UPDATE SET v = excluded.v",
            (f"new-{i}", text),
        )
        conn.execute("COMMIT")

    def read(i: int) -> None:
        row = conn.execute(
            "SELECT v FROM raw WHERE t = 't' AND s = 'bench' AND k = ?", (f"key-{i % keys}",)
        ).fetchone()
        json.loads(row[0])

    conn.execute(
        "CREATE TABLE IF NOT EXISTS raw_history "
        "(t TEXT, s TEXT, k TEXT, n INTEGER, v TEXT, at TEXT, PRIMARY KEY (t, s, k, n))"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS raw_entries "
        "(t TEXT, s TEXT, k TEXT, v TEXT, n INTEGER, at TEXT, PRIMARY KEY (t, s, k))"
    )

    # What `kv.put` does (schema revision 0018): the upsert returning the version, a trigger
    # recording it (a new key's first version, or a raised one), and every PRUNE_EVERY-th
    # version a prune to 10 versions.
    record = "BEGIN INSERT INTO raw_history VALUES (NEW.t, NEW.s, NEW.k, NEW.n, NEW.v, NEW.at); END"
    conn.execute(
        f"CREATE TRIGGER IF NOT EXISTS raw_record AFTER UPDATE OF n ON raw_entries "
        f"WHEN NEW.n > OLD.n {record}"
    )
    conn.execute(
        f"CREATE TRIGGER IF NOT EXISTS raw_record_first AFTER INSERT ON raw_entries {record}"
    )

    def write_with_history(i: int) -> None:
        key, at = f"key-{i % keys}", datetime.now(UTC).isoformat()
        conn.execute("BEGIN IMMEDIATE")
        (version,) = conn.execute(
            "INSERT INTO raw_entries VALUES ('t', 'bench', ?, ?, 1, ?) "
            "ON CONFLICT DO UPDATE SET v = excluded.v, n = n + 1, at = excluded.at RETURNING n",
            (key, text, at),
        ).fetchone()
        if version > 10 and version % PRUNE_EVERY == 0:
            conn.execute(
                "DELETE FROM raw_history WHERE t = 't' AND s = 'bench' AND k = ? AND n <= ?",
                (key, version - 10),
            )
        conn.execute("COMMIT")

    for i in range(keys):
        write(i)
    result = {
        "state_write": percentiles(timed(write, n)),
        "state_read": percentiles(timed(read, n)),
        "state_write_with_history": percentiles(timed(write_with_history, n)),
        "state_write_new_key": percentiles(timed(write_new_key, n)),
    }
    conn.close()
    return result


def bench_open(path: str, runs: int) -> dict[str, dict[str, float]]:
    """Opening an existing SQLite store (open_storage, schema revision checked, closed again),
    against sqlite3 opening the same file, reading the revision and closing it."""
    settings = StorageSettings(backend="sqlite", sqlite_path=path)
    with open_storage(settings, "bench") as storage:
        storage.kv.put("bench", "k", VALUE)

    def ours(_: int) -> None:
        with open_storage(settings, "bench"):
            pass

    def raw(_: int) -> None:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.close()

    ours_samples: list[float] = []
    raw_samples: list[float] = []
    for _ in range(10):  # interleaved: the machine's load hits both alike
        ours_samples += timed(ours, max(runs // 10, 1), warmup=2)
        raw_samples += timed(raw, max(runs // 10, 1), warmup=2)
    return {"open": percentiles(ours_samples), "raw_open": percentiles(raw_samples)}


@contextmanager
def postgres_logins() -> Iterator[PgLogins]:
    from psycopg import sql

    from llmspell.storage.postgres import embedded
    from llmspell.storage.postgres.backend import upgrade_postgres
    from llmspell.storage.postgres.urls import connect, role_of

    external = os.environ.get("LLMSPELL_BENCH_PG_URL")
    with ExitStack() as stack:
        if external:
            suffix = uuid.uuid4().hex[:8]
            database = f"llmspell_bench_{suffix}"
            logins = embedded.bootstrap(
                external,
                owner=f"bench_owner_{suffix}",
                app=f"bench_app_{suffix}",
                database=database,
            )

            def drop() -> None:
                with connect(external, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database))
                    )

            stack.callback(drop)
        else:
            directory = Path(tempfile.mkdtemp(prefix="llmspell-bench-"))
            directory.chmod(0o711)  # as root, the server's own OS user must enter it
            stack.callback(shutil.rmtree, directory, True)
            logins = embedded.start(directory / "data")
            stack.callback(embedded.stop, directory / "data")
        upgrade_postgres(logins.owner_url, role_of(logins.app_url))
        yield logins


def bypass_kv(url: str, tenant: str, settings: StorageSettings) -> tuple[SqlKVStore, EngineSource]:
    """The kv store on a login that bypasses RLS (same SQL, same pool, same tenant setting)."""
    from llmspell.storage.postgres.pool import open_pool, pool_engine

    source = EngineSource(
        lambda: pool_engine(open_pool(url, min_size=1, max_size=2, name="bypass"))
    )
    from llmspell.storage.backend import backend_for

    kv = SqlKVStore(
        Database(backend_for("postgres"), source, tenant),
        Tenant(tenant),
        settings.settings_of("kv", KVSettings()),
    )
    return kv, source


# The SELECT of `kv.get` run inside the server (PL/pgSQL), so client and socket noise drop out.
SERVER_LOOP = """
DO $$
DECLARE started timestamptz; v text;
BEGIN
  PERFORM set_config('app.tenant_id', {tenant}, true);
  started := clock_timestamp();
  FOR i IN 1..{loops} LOOP
    SELECT value INTO v FROM kv_entries
     WHERE tenant_id = {tenant} AND scope = 'bench' AND key = 'key-' || (i % 200);
  END LOOP;
  RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - started);
END $$
"""


def server_loops(
    conns: dict[str, Any], tenant: str, loops: int = 2000, repeats: int = 15
) -> dict[str, list[float]]:
    """Per-SELECT time (ms) measured in the server, each login in turn, `repeats` times."""
    from psycopg import sql

    statement = sql.SQL(SERVER_LOOP).format(tenant=sql.Literal(tenant), loops=sql.Literal(loops))
    times: dict[str, list[float]] = {name: [] for name in conns}
    for name, conn in conns.items():
        conn.add_notice_handler(
            lambda diag, name=name: times[name].append(float(diag.message_primary) / loops * 1000)
        )
    for _ in range(repeats):
        for conn in conns.values():
            with conn.transaction():
                conn.execute(statement)
    return times


def bench_rls(
    logins: PgLogins, settings: StorageSettings, n: int, rounds: int = 40
) -> dict[str, Any]:
    """kv get/put and a bare SELECT, app role (RLS) vs. a BYPASSRLS login, interleaved."""
    import psycopg

    from llmspell.storage.postgres.urls import database_of, with_login

    bypass_url = with_login(logins.superuser_url, dbname=database_of(logins.app_url))
    tenant = "bench-rls"
    with open_storage(settings, tenant) as storage:
        # Other tenants' rows make the policy filter do real work.
        for other in range(9):
            peer = storage.for_tenant(f"peer-{other}")
            for k in range(200):
                peer.kv.put("bench", f"key-{k}", VALUE)
        bypass, source = bypass_kv(bypass_url, tenant, settings)
        try:
            logins_kv = {"rls": storage.kv, "explicit_where": bypass}
            per_round = max(n // rounds, 25)
            samples: dict[str, dict[str, list[float]]] = {
                name: {"read": [], "write": [], "select": []} for name in logins_kv
            }
            for kv in logins_kv.values():
                for k in range(200):
                    kv.put("bench", f"key-{k}", VALUE)
            raw = {
                "rls": psycopg.connect(logins.app_url),
                "explicit_where": psycopg.connect(bypass_url),
            }
            query = "SELECT value FROM kv_entries WHERE tenant_id = %s AND scope = %s AND key = %s"

            def bare_select(conn: Any) -> Callable[[int], Any]:
                def run(i: int) -> Any:
                    with conn.transaction():
                        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
                        return conn.execute(
                            query, (tenant, "bench", f"key-{i % 200}"), prepare=True
                        ).fetchone()

                return run

            def reader(kv: Any) -> Callable[[int], Any]:
                return lambda i: kv.get("bench", f"key-{i % 200}")

            def writer(kv: Any) -> Callable[[int], Any]:
                return lambda i: kv.put("bench", f"key-{i % 200}", VALUE)

            names = list(logins_kv)
            for round_ in range(rounds):
                # Short rounds, alternating who goes first: drift and neighbours' load
                # (caches, CPU clocks, other processes) hit both logins alike.
                for name in names if round_ % 2 == 0 else names[::-1]:
                    kv = logins_kv[name]
                    samples[name]["read"] += timed(reader(kv), per_round, warmup=5)
                    samples[name]["write"] += timed(writer(kv), per_round, warmup=5)
                    samples[name]["select"] += timed(bare_select(raw[name]), per_round, warmup=5)
            server_side = server_loops(raw, tenant)
            for conn in raw.values():
                conn.close()
        finally:
            source.close()
    result: dict[str, Any] = {}
    rls_loop = statistics.median(server_side["rls"])
    plain_loop = statistics.median(server_side["explicit_where"])
    result["select_in_server"] = {
        "rls_p50_ms": rls_loop,
        "explicit_where_p50_ms": plain_loop,
        "overhead_pct": (rls_loop / plain_loop - 1) * 100,
    }
    for op in ("read", "write", "select"):
        rls = statistics.median(samples["rls"][op]) * 1000
        plain = statistics.median(samples["explicit_where"][op]) * 1000
        result[op] = {
            "rls_p50_ms": rls,
            "explicit_where_p50_ms": plain,
            "overhead_pct": (rls / plain - 1) * 100,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=2000, help="timed calls per measurement")
    parser.add_argument("--backend", choices=["memory", "sqlite", "postgres"], action="append")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    backends = args.backend or ["memory", "sqlite", "postgres"]
    n = args.operations
    report: dict[str, Any] = {"operations": n}
    with tempfile.TemporaryDirectory(prefix="llmspell-bench-") as tmp:
        if "memory" in backends:
            with open_storage(StorageSettings(backend="memory"), "bench") as storage:
                report["memory"] = bench_kv(storage.kv, n)
        if "sqlite" in backends:
            path = str(Path(tmp) / "bench.db")
            with open_storage(
                StorageSettings(backend="sqlite", sqlite_path=path), "bench"
            ) as storage:
                report["sqlite"] = bench_kv(storage.kv, n)
            report["sqlite_raw"] = bench_raw_sqlite(str(Path(tmp) / "raw.db"), n)
            report["sqlite_open"] = bench_open(str(Path(tmp) / "open.db"), max(n // 10, 50))
        if "postgres" in backends:
            with postgres_logins() as logins:
                settings = StorageSettings(
                    backend="postgres", pg_url=logins.app_url, auto_upgrade=False, pg_pool_max=4
                )
                with open_storage(settings, "bench") as storage:
                    report["postgres"] = bench_kv(storage.kv, n)
                report["rls_overhead"] = bench_rls(logins, settings, n)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"llmspell storage benchmark, {n} operations per measurement (milliseconds)")
    for backend in ("memory", "sqlite", "sqlite_raw", "postgres"):
        if backend in report:
            row = report[backend]
            print(
                f"  {backend:<11} write p50 {row['state_write']['p50_ms']:.3f}  "
                f"p95 {row['state_write']['p95_ms']:.3f}   "
                f"read p50 {row['state_read']['p50_ms']:.3f}  p95 {row['state_read']['p95_ms']:.3f}"
            )
    if "sqlite_raw" in report and "sqlite" in report:
        raw = report["sqlite_raw"]
        for op, baseline, what in (
            ("state_write", "state_write", "the same upsert"),
            ("state_read", "state_read", "the same SELECT"),
            ("state_write", "state_write_with_history", "the same upsert, trigger and prune"),
            ("state_write_new_key", "state_write_new_key", "the same upsert of a new key"),
            ("state_write_new_key", "state_write", "the bare upsert (of an existing key)"),
        ):
            ours, floor = report["sqlite"][op]["p50_ms"], raw[baseline]["p50_ms"]
            print(
                f"  sqlite {op} p50 {ours:.3f} vs raw sqlite3 {what} {floor:.3f}: "
                f"{ours / floor:.1f}x (goal <= 5x)"
            )
    if "sqlite_open" in report:
        ours, floor = (report["sqlite_open"][k]["p50_ms"] for k in ("open", "raw_open"))
        print(
            f"  sqlite open of an existing store p50 {ours:.3f} vs raw sqlite3 open {floor:.3f}: "
            f"{ours / floor:.1f}x (goal <= 5x)"
        )
    if "rls_overhead" in report:
        print("  RLS overhead (app role under RLS vs. BYPASSRLS login with explicit WHERE):")
        for op, row in report["rls_overhead"].items():
            print(
                f"    {op:<7} rls {row['rls_p50_ms']:.3f}  explicit WHERE "
                f"{row['explicit_where_p50_ms']:.3f}  overhead {row['overhead_pct']:+.1f}%"
            )


if __name__ == "__main__":
    main()
