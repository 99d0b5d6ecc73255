"""Sessions and artifacts benchmark (a script, not a test), per backend, with same-run baselines.

    python benchmarks/sessions_artifacts_bench.py [--backend memory|sqlite|postgres]...
        [--lookups N] [--small N] [--json]

- session lookup: `Session.get` as the runtime does it (record + artifact count) and the bare
  store read, p50/p95 in ms; baseline: the same primary-key SELECT with the raw driver.
- artifact store/read throughput for 1 KiB bodies (ops/s) and 50 MiB bodies (MiB/s); baselines:
  raw driver INSERT/SELECT of a 1 KiB blob, and for 50 MiB sha256 of the bytes plus writing and
  reading them as a file.
- peak Python memory (tracemalloc, body included) while storing and while reading 100 MiB, as a
  multiple of the body; on memory also through a Lua script (`Artifact.store` of a Lua string).
  On Linux also the process's peak RSS (the driver's C buffers too, which tracemalloc misses):
  what storing adds to the caller's body, and reading as a multiple of the body.

PostgreSQL is the embedded server (started in a temp dir), or LLMSPELL_BENCH_PG_URL's server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage_bench import percentiles, postgres_logins, timed

from llmspell.runtime import Infrastructure, ScriptRuntime, load_config
from llmspell.runtime.sessions import SessionManager
from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.artifacts import ArtifactRecord, NewArtifact
from llmspell.storage.components.sessions import SessionRecord

MiB = 1024 * 1024
KIB_BODY = 1024
BIG_BODY = 50 * MiB
PEAK_BODY = 100 * MiB


@contextmanager
def backend_storage(backend: str, tmp: Path) -> Iterator[tuple[SqlStorage, dict[str, Any]]]:
    """Storage of a fresh tenant on `backend`, and how the raw baseline reaches its database."""
    if backend == "postgres":
        with postgres_logins() as logins:
            settings = StorageSettings(
                backend="postgres", pg_url=logins.app_url, auto_upgrade=False, pg_pool_max=4
            )
            with open_storage(settings, "bench") as storage:
                yield storage, {"pg_url": logins.app_url, "pg_owner_url": logins.owner_url}
        return
    path = str(tmp / f"{backend}.db")
    settings = StorageSettings(backend=backend, sqlite_path=path)
    with open_storage(settings, "bench") as storage:
        yield storage, {"sqlite_path": None if backend == "memory" else path}


def session_records(n: int) -> list[SessionRecord]:
    now = datetime.now(UTC)
    return [
        SessionRecord(
            str(uuid.uuid4()), f"s{i}", "bench", ("a", "b"), "active", None, {"i": i}, now, now
        )
        for i in range(n)
    ]


def bench_lookup(storage: SqlStorage, lookups: int) -> dict[str, Any]:
    records = session_records(200)
    for record in records:
        storage.sessions.create(record)
    config = load_config(profile="memory", env={}).config
    infra = Infrastructure(config, storage)
    manager = infra.get(SessionManager)
    ids = [r.id for r in records]
    for session_id in ids[:20]:
        storage.artifacts.store(NewArtifact(session_id, "a", "tool_result"), b"x")
    return {
        "session_get": percentiles(timed(lambda i: manager.get(ids[i % 200]), lookups)),
        "store_get": percentiles(timed(lambda i: storage.sessions.get(ids[i % 200]), lookups)),
        "ids": ids,
    }


def raw_lookup(raw: dict[str, Any], ids: list[str], lookups: int) -> dict[str, Any]:
    """The floor: one primary-key SELECT of a session row with the raw driver (PostgreSQL: the
    sessions table itself, as the app role under RLS)."""
    rows = [(session_id, "s", json.dumps({"i": i})) for i, session_id in enumerate(ids)]
    if "pg_url" in raw:
        import psycopg

        with psycopg.connect(raw["pg_url"]) as conn:

            def get(i: int) -> Any:
                with conn.transaction():
                    conn.execute("SELECT set_config('app.tenant_id', 'bench', true)")
                    return conn.execute(
                        "SELECT * FROM sessions WHERE tenant_id = %s AND session_id = %s",
                        ("bench", ids[i % 200]),
                        prepare=True,
                    ).fetchone()

            return {"raw_get": percentiles(timed(get, lookups))}
    conn = sqlite3.connect(raw["sqlite_path"] or ":memory:", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS raw (t TEXT, id TEXT, n TEXT, m TEXT, PRIMARY KEY (t, id))"
    )
    conn.executemany("INSERT OR REPLACE INTO raw VALUES ('t', ?, ?, ?)", rows)

    def sqlite_get(i: int) -> Any:
        conn.execute("BEGIN")
        row = conn.execute("SELECT * FROM raw WHERE t = 't' AND id = ?", (ids[i % 200],)).fetchone()
        conn.execute("COMMIT")
        return json.loads(row[3])

    result = {"raw_get": percentiles(timed(sqlite_get, lookups))}
    conn.close()
    return result


def bench_small(storage: SqlStorage, n: int) -> dict[str, Any]:
    session_id = str(uuid.uuid4())
    bodies = [os.urandom(KIB_BODY) for _ in range(n)]
    started = time.perf_counter()
    for i, body in enumerate(bodies):
        storage.artifacts.store(NewArtifact(session_id, f"a{i}", "tool_result"), body)
    store_s = time.perf_counter() - started
    started = time.perf_counter()
    for sequence in range(1, n + 1):
        storage.artifacts.read(session_id, sequence)
    read_s = time.perf_counter() - started
    return {"store_ops_s": n / store_s, "read_ops_s": n / read_s}


def raw_small(raw: dict[str, Any], n: int) -> dict[str, Any]:
    """The floor: raw INSERT and SELECT of 1 KiB blobs, one transaction each, in a plain
    (logged, durable) table — on PostgreSQL made by the owner, since the app role may not."""
    bodies = [os.urandom(KIB_BODY) for _ in range(n)]
    if "pg_url" in raw:
        import psycopg

        with psycopg.connect(raw["pg_owner_url"]) as conn:
            conn.execute("CREATE TABLE raw_blobs (id int PRIMARY KEY, data bytea)")
            conn.commit()
            try:
                return _raw_blob_rounds(
                    n,
                    lambda i: conn.execute("INSERT INTO raw_blobs VALUES (%s, %s)", (i, bodies[i])),
                    lambda i: conn.execute(
                        "SELECT data FROM raw_blobs WHERE id = %s", (i,)
                    ).fetchone(),
                    conn.commit,
                )
            finally:
                conn.rollback()
                conn.execute("DROP TABLE raw_blobs")
                conn.commit()
    conn = sqlite3.connect(raw["sqlite_path"] or ":memory:", isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS raw_blobs (id INTEGER PRIMARY KEY, data BLOB)")
    conn.execute("DELETE FROM raw_blobs")

    def insert(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO raw_blobs VALUES (?, ?)", (i, bodies[i]))
        conn.execute("COMMIT")

    def select(i: int) -> Any:
        return conn.execute("SELECT data FROM raw_blobs WHERE id = ?", (i,)).fetchone()

    result = _raw_blob_rounds(n, insert, select, lambda: None)
    conn.close()
    return result


def _raw_blob_rounds(
    n: int, insert: Callable[[int], Any], select: Callable[[int], Any], commit: Callable[[], Any]
) -> dict[str, float]:
    started = time.perf_counter()
    for i in range(n):
        insert(i)
        commit()
    store_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(n):
        select(i)
        commit()
    return {"store_ops_s": n / store_s, "read_ops_s": n / (time.perf_counter() - started)}


def bench_big(storage: SqlStorage, repeats: int = 3) -> dict[str, Any]:
    session_id = str(uuid.uuid4())
    store_s, read_s = [], []
    for i in range(repeats):
        body = os.urandom(BIG_BODY)
        started = time.perf_counter()
        record = storage.artifacts.store(NewArtifact(session_id, f"big{i}", "tool_result"), body)
        store_s.append(time.perf_counter() - started)
        del body
        started = time.perf_counter()
        content = storage.artifacts.read(session_id, record.sequence)
        read_s.append(time.perf_counter() - started)
        assert content is not None and len(content) == BIG_BODY
        del content
        storage.artifacts.delete(session_id, record.sequence)
    mib = BIG_BODY / MiB
    return {
        "store_mib_s": mib / statistics.median(store_s),
        "read_mib_s": mib / statistics.median(read_s),
    }


def raw_big(tmp: Path, repeats: int = 3) -> dict[str, Any]:
    """The floor for big bodies: hashing them, and writing/reading them as one file."""
    hash_s, write_s, read_s = [], [], []
    path = tmp / "big.bin"
    for _ in range(repeats):
        body = os.urandom(BIG_BODY)
        started = time.perf_counter()
        hashlib.sha256(body).hexdigest()
        hash_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        with path.open("wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        write_s.append(time.perf_counter() - started)
        del body
        started = time.perf_counter()
        path.read_bytes()
        read_s.append(time.perf_counter() - started)
    path.unlink()
    mib = BIG_BODY / MiB
    return {
        "sha256_mib_s": mib / statistics.median(hash_s),
        "file_write_mib_s": mib / statistics.median(write_s),
        "file_read_mib_s": mib / statistics.median(read_s),
    }


def peak_memory(storage: SqlStorage) -> dict[str, float]:
    """Peak traced Python memory as a multiple of the body, the body itself included."""
    session_id = str(uuid.uuid4())
    tracemalloc.start()
    try:
        body = os.urandom(PEAK_BODY)
        record = storage.artifacts.store(NewArtifact(session_id, "peak", "tool_result"), body)
        _, store_peak = tracemalloc.get_traced_memory()
        del body
        tracemalloc.reset_peak()
        content = storage.artifacts.read(session_id, record.sequence)
        _, read_peak = tracemalloc.get_traced_memory()
        assert content is not None and len(content) == PEAK_BODY
        del content
    finally:
        tracemalloc.stop()
    storage.artifacts.delete(session_id, record.sequence)
    return {"store_peak_x_body": store_peak / PEAK_BODY, "read_peak_x_body": read_peak / PEAK_BODY}


def _rss(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _peak_rss_above_now(run: Callable[[], object]) -> int:
    """How far the process's resident memory peaked above its current size while `run` ran."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")  # resets VmHWM to the current RSS
    start = _rss("VmRSS:")
    run()
    return _rss("VmHWM:") - start


def peak_rss(storage: SqlStorage) -> dict[str, float] | None:
    """Peak resident memory (Linux): storing beyond the caller's body, reading as a multiple
    of the body; None where /proc cannot tell."""
    try:
        _peak_rss_above_now(lambda: None)
    except OSError:
        return None
    session_id = str(uuid.uuid4())
    body = [os.urandom(PEAK_BODY)]  # in a list, so it can be dropped after the closure ran
    stored: list[ArtifactRecord] = []
    store = _peak_rss_above_now(
        lambda: stored.append(
            storage.artifacts.store(NewArtifact(session_id, "rss", "tool_result"), body[0])
        )
    )
    body.clear()
    content: list[bytes | None] = []
    reading = _peak_rss_above_now(
        lambda: content.append(storage.artifacts.read(session_id, stored[0].sequence))
    )
    assert content[0] is not None and len(content[0]) == PEAK_BODY
    content.clear()
    storage.artifacts.delete(session_id, stored[0].sequence)
    return {"store_rss_mib": store / MiB, "read_rss_x_body": reading / PEAK_BODY}


def peak_memory_through_lua() -> dict[str, float]:
    """The same, storing a Lua string through the Artifact global (memory backend)."""
    with ScriptRuntime(load_config(profile="memory", env={}).config) as rt:
        rt.execute(f'sid = Session.create{{}}; body = string.rep("x", {PEAK_BODY})')
        tracemalloc.start()
        try:
            rt.execute('id = Artifact.store(sid, "tool_result", "peak", body)')
            _, store_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            rt.execute("back = Artifact.get(sid, id).content; assert(#back == #body)")
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return {"store_peak_x_body": store_peak / PEAK_BODY, "read_peak_x_body": read_peak / PEAK_BODY}


def run_backend(backend: str, tmp: Path, lookups: int, small: int) -> dict[str, Any]:
    with backend_storage(backend, tmp) as (storage, raw):
        result: dict[str, Any] = bench_lookup(storage, lookups)
        result.update(raw_lookup(raw, result.pop("ids"), lookups))
        result["artifact_1kib"] = bench_small(storage, small)
        result["artifact_1kib_raw"] = raw_small(raw, small)
        result["artifact_50mib"] = bench_big(storage)
        result["peak_100mib"] = peak_memory(storage)
        result["peak_rss_100mib"] = peak_rss(storage)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["memory", "sqlite", "postgres"], action="append")
    parser.add_argument("--lookups", type=int, default=2000, help="timed session lookups")
    parser.add_argument("--small", type=int, default=500, help="1 KiB artifacts stored and read")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    backends = args.backend or ["memory", "sqlite", "postgres"]
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="llmspell-bench-") as tmp:
        report["baseline_50mib"] = raw_big(Path(tmp))
        for backend in backends:
            report[backend] = run_backend(backend, Path(tmp), args.lookups, args.small)
        if "memory" in backends:
            report["memory"]["peak_100mib_lua"] = peak_memory_through_lua()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    base = report["baseline_50mib"]
    print("sessions and artifacts benchmark")
    print(
        f"  baseline 50 MiB: sha256 {base['sha256_mib_s']:.0f} MiB/s, file write (fsync) "
        f"{base['file_write_mib_s']:.0f} MiB/s, file read {base['file_read_mib_s']:.0f} MiB/s"
    )
    for backend in backends:
        row = report[backend]
        get, store_get, raw_get = row["session_get"], row["store_get"], row["raw_get"]
        small, small_raw = row["artifact_1kib"], row["artifact_1kib_raw"]
        big, peak = row["artifact_50mib"], row["peak_100mib"]
        print(f"  {backend}")
        print(
            f"    session lookup p50 {get['p50_ms']:.3f} ms (p95 {get['p95_ms']:.3f}); store read "
            f"{store_get['p50_ms']:.3f} ms; raw driver {raw_get['p50_ms']:.3f} ms "
            f"({get['p50_ms'] / raw_get['p50_ms']:.1f}x raw)"
        )
        print(
            f"    1 KiB artifacts: store {small['store_ops_s']:.0f}/s, "
            f"read {small['read_ops_s']:.0f}/s; raw blob insert "
            f"{small_raw['store_ops_s']:.0f}/s, select {small_raw['read_ops_s']:.0f}/s"
        )
        print(
            f"    50 MiB artifacts: store {big['store_mib_s']:.0f} MiB/s "
            f"({big['store_mib_s'] / base['file_write_mib_s']:.2f}x file write), read "
            f"{big['read_mib_s']:.0f} MiB/s "
            f"({big['read_mib_s'] / base['file_read_mib_s']:.2f}x file read)"
        )
        print(
            f"    peak Python memory, 100 MiB: storing {peak['store_peak_x_body']:.2f}x the body, "
            f"reading {peak['read_peak_x_body']:.2f}x"
        )
        rss = row["peak_rss_100mib"]
        if rss is not None:
            print(
                f"    peak RSS, 100 MiB: storing +{rss['store_rss_mib']:.1f} MiB beyond the "
                f"body, reading {rss['read_rss_x_body']:.2f}x the body"
            )
        if "peak_100mib_lua" in row:
            lua = row["peak_100mib_lua"]
            print(
                f"    through Lua: storing {lua['store_peak_x_body']:.2f}x the body, "
                f"reading {lua['read_peak_x_body']:.2f}x"
            )


if __name__ == "__main__":
    main()
