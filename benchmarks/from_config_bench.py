"""Benchmark: Infrastructure.from_config on SQLite (target p50 <= 20 ms) and the first storage
open it defers, against a raw sqlite3 open + read of the same file measured in the same run.
Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/from_config_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from llmspell.runtime import Infrastructure, ScriptRuntime, load_config


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        config = load_config(overrides={"storage.path": str(db)}).config

        start = time.perf_counter()
        Infrastructure.from_config(config).open().close()  # creates and migrates the file
        first = time.perf_counter() - start

        builds: list[float] = []
        opens: list[float] = []
        for _ in range(args.runs):
            start = time.perf_counter()
            infra = Infrastructure.from_config(config)
            built = time.perf_counter()
            infra.open()
            builds.append(built - start)
            opens.append(time.perf_counter() - start)
            infra.close()

        raw: list[float] = []
        for _ in range(args.runs):
            start = time.perf_counter()
            conn = sqlite3.connect(db)
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
            raw.append(time.perf_counter() - start)
            conn.close()

        runtimes: list[float] = []
        for _ in range(min(args.runs, 20)):
            start = time.perf_counter()
            rt = ScriptRuntime(config)
            runtimes.append(time.perf_counter() - start)
            rt.close()

    print(f"from_config + open (sqlite, new file, migrates):        {first * 1000:8.2f} ms")
    print(f"Infrastructure.from_config (sqlite, storage lazy) p50:   {p50_ms(builds):8.2f} ms")
    print(
        f"from_config + open (sqlite, existing file) p50:          {p50_ms(opens):8.2f} ms"
        "   target <= 20 ms"
    )
    print(f"raw sqlite3 connect + WAL + revision read p50:           {p50_ms(raw):8.2f} ms")
    print(
        f"ratio from_config + open / raw open:                     "
        f"{p50_ms(opens) / p50_ms(raw):8.1f} x"
    )
    print(f"ScriptRuntime(config) incl. Lua engine + globals p50:    {p50_ms(runtimes):8.2f} ms")


if __name__ == "__main__":
    main()
