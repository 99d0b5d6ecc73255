"""Benchmark: how soon an interrupt or a time limit stops a runaway cell. Prints numbers against
a baseline measured in the same run (how late a timer thread wakes on this machine right now);
asserts nothing. The tests only check that a stop ends a runaway at all (tests/runtime/
test_lua_limits.py); how fast belongs here, where a busy machine shows as a late baseline.

    .venv/bin/python benchmarks/stop_latency_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

DELAY_S = 0.3  # when the interrupt is sent / the time limit
RUNAWAYS = {
    "lua": {
        "plain loop": "while true do end",
        "loop inside pcall": "pcall(function() while true do end end)",
        "catastrophic pattern": (
            'string.find(string.rep("a", 32), string.rep("a?", 32) .. string.rep("a", 32) .. "b")'
        ),
    },
    "python": {
        "plain loop": "while True: pass",
        "blocking sleep": "import time\ntime.sleep(60)",
    },
}


def timer_lateness() -> float:
    """Seconds a DELAY_S timer fires late: the scheduling delay every stop below includes."""
    fired: list[float] = []
    started = time.monotonic()
    timer = threading.Timer(DELAY_S, lambda: fired.append(time.monotonic()))
    timer.start()
    timer.join()
    return fired[0] - started - DELAY_S


def interrupt_latency(rt: ScriptRuntime, code: str) -> float:
    """Seconds from `interrupt()` to the cell's KeyboardInterrupt."""
    sent: list[float] = []

    def interrupt() -> None:
        sent.append(time.monotonic())
        rt.interrupt()

    timer = threading.Timer(DELAY_S, interrupt)
    timer.start()
    try:
        rt.execute(code)
    except ScriptError as err:
        assert err.ename == "KeyboardInterrupt", err
    finally:
        timer.cancel()
    return time.monotonic() - sent[0]


def timeout_latency(rt: ScriptRuntime, code: str) -> float:
    """Seconds past the time limit until the cell's TimeoutError."""
    started = time.monotonic()
    try:
        rt.execute(code)
    except ScriptError as err:
        assert err.ename == "TimeoutError", err
    return time.monotonic() - started - DELAY_S


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms, max {max(values) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = load_config(profile="memory", env={}).config
    print(f"baseline: a {DELAY_S} s timer wakes {ms([timer_lateness() for _ in range(args.runs)])}"
          " late")  # fmt: skip
    for engine, runaways in RUNAWAYS.items():
        free = ScriptRuntime.with_engine(base, engine)
        limit_s = with_overrides(base, {f"engines.{engine}.timeout_s": DELAY_S})
        limited = ScriptRuntime.with_engine(limit_s, engine)
        with free, limited:
            for name, code in runaways.items():
                stopped = [interrupt_latency(free, code) for _ in range(args.runs)]
                limit = [timeout_latency(limited, code) for _ in range(args.runs)]
                print(f"{engine:6} {name:22} interrupt: {ms(stopped)} | time limit: {ms(limit)}")


if __name__ == "__main__":
    main()
