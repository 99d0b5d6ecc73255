"""Benchmark: what an agent call costs on top of the model, and how parallel agent steps overlap,
each against a baseline measured in the same run, against a local fake OpenAI server.

1. Per-call overhead: p50 of `agent:execute` from Lua (hooks, conversation, agent state saved
   to storage, the event loop, the `openai` client) against p50 of the official `openai` client
   called directly (`OpenAI().chat.completions.create`) for the same reply from the same server.
   Goal: at most 1.5 ms added per call.
2. A parallel workflow of 4 agent steps against a server that answers each request after
   300 ms: its wall time against the 4 x 300 ms the same steps take one after another (also
   measured) and the 300 ms of one call.

    .venv/bin/python benchmarks/agents_bench.py [--profile memory|default] [--calls N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.llm_servers import FakeLLMServer, Reply

from llmspell.runtime import ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

KEY_ENV = "LLMSPELL_BENCH_OPENAI_KEY"
LATENCY_S = 0.3
PARALLEL = 4


def runtime(profile: str, tmp: str, base_url: str) -> ScriptRuntime:
    config = load_config(profile=profile, env={}).config
    overrides: dict[str, object] = {
        "providers": {
            "fake": {
                "type": "openai",
                "base_url": base_url,
                "api_key_env": KEY_ENV,
                "max_retries": 0,
            }
        },
    }
    if profile == "default":
        overrides["storage.path"] = str(Path(tmp) / "bench.db")
    return ScriptRuntime(with_overrides(config, overrides))


@contextlib.contextmanager
def served(text: str, latency_s: float) -> Iterator[str]:
    """A fake OpenAI server answering `text` after `latency_s`, in a child process (its threads
    would otherwise compete for this process's GIL, which a real server's do not); its URL."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", text, str(latency_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        child.terminate()
        child.wait(10)


def serve(text: str, latency_s: float) -> None:
    with FakeLLMServer(fallback=Reply(text), latency_s=latency_s) as server:
        print(server.openai_url, flush=True)
        signal.sigwait({signal.SIGTERM})


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def overhead(profile: str, tmp: str, calls: int) -> None:
    """The four ways of asking are interleaved call by call, so that every figure sees the
    same machine (this one's speed drifts by tens of percent within a minute)."""
    import openai

    from llmspell.runtime.providers.calls import EventLoopThread

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]
    loop = EventLoopThread("bench-loop")
    with served("The answer is 42.", 0.0) as base_url, runtime(profile, tmp, base_url) as rt:
        client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
        async_client = loop.run(_async_client(base_url))

        async def async_call() -> None:
            await async_client.chat.completions.create(model="fake-small", messages=messages)

        ways: dict[str, Callable[[], object]] = {
            "sync": lambda: client.chat.completions.create(
                model="fake-small",
                messages=messages,  # type: ignore[arg-type]
            ),
            "async": lambda: loop.run(async_call()),
            "agent": lambda: rt.execute('local r = a:execute("Q?")'),
            # the Lua statement alone, to take the cell's own cost out of the figure
            "cell": lambda: rt.execute("local r = 1"),
        }
        rt.execute(
            'a = Agent.builder():name("bench"):model("fake/fake-small")'
            ':system_prompt("Be brief."):max_history(0):build()'
        )
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for round_ in range(calls + 20):
            for name, ask in ways.items():
                started = time.perf_counter()
                ask()
                if round_ >= 20:  # the first rounds warm up clients, storage, caches
                    samples[name].append(time.perf_counter() - started)
        loop.close(async_client.close())
    sync, async_, agent, cell = (p50_ms(samples[n]) for n in ("sync", "async", "agent", "cell"))
    added = agent - cell - sync
    print(f"per-call overhead ({profile} storage, {calls} calls each, interleaved)")
    print(f"  openai client directly       p50 {sync:7.3f} ms")
    print(f"  AsyncOpenAI on a loop thread p50 {async_:7.3f} ms "
          "(the transport an interruptible call needs)")  # fmt: skip
    print(
        f"  agent:execute from Lua       p50 {agent:7.3f} ms (of which an empty cell {cell:.3f} ms)"
    )
    print(f"  added by llmspell            p50 {added:7.3f} ms  (goal <= 1.5 ms; ratio "
          f"{(agent - cell) / sync:.2f}x; above the async transport: "
          f"{agent - cell - async_:.3f} ms)")  # fmt: skip


async def _async_client(base_url: str) -> Any:
    import openai

    return openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)


PARALLEL_SETUP = f"""
local steps = {{}}
for i = 1, {PARALLEL} do
  Agent.builder():name("p" .. i):model("fake/fake-small"):max_history(0):build()
  steps[i] = {{name = "s" .. i, agent = "p" .. i, input = "question " .. i}}
end
par = Workflow.parallel{{name = "bench_agents_par", steps = steps}}
seq = Workflow.sequential{{name = "bench_agents_seq", steps = steps}}
"""


def parallel(profile: str, tmp: str, runs: int) -> None:
    with served("ok", LATENCY_S) as base_url, runtime(profile, tmp, base_url) as rt:
        rt.execute(PARALLEL_SETUP)
        rt.execute("assert(par:execute().success)")  # warm up
        walls, ones = [], []
        for _ in range(runs):
            started = time.perf_counter()
            result = rt.execute("return par:execute()").value
            walls.append(time.perf_counter() - started)
            assert result["success"], result.get("error")
        started = time.perf_counter()
        assert rt.execute("return seq:execute()").value["success"]
        sequential = time.perf_counter() - started
        for _ in range(runs):
            started = time.perf_counter()
            rt.execute('Agent.get("p1"):execute("one")')
            ones.append(time.perf_counter() - started)
    wall = statistics.median(walls)
    print(f"parallel workflow of {PARALLEL} agent steps, server latency {LATENCY_S * 1000:.0f} ms")
    print(f"  one agent call              {statistics.median(ones) * 1000:7.1f} ms")
    print(f"  {PARALLEL} steps one after another  {sequential * 1000:7.1f} ms")
    print(f"  {PARALLEL} steps in parallel        {wall * 1000:7.1f} ms  "
          f"({sequential / wall:.2f}x faster than sequential; "
          f"{wall / (PARALLEL * LATENCY_S):.2f} of {PARALLEL} x "
          f"{LATENCY_S * 1000:.0f} ms)")  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        serve(sys.argv[2], float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="default", choices=["memory", "default"])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sk-bench"
    with tempfile.TemporaryDirectory() as tmp:
        overhead(args.profile, tmp, args.calls)
        parallel(args.profile, tmp, args.runs)


if __name__ == "__main__":
    main()
