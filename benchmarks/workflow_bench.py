"""Benchmark: workflow overhead and parallelism, each against a baseline measured in the same run.

1. Per-step overhead of a 100-step sequential workflow of trivial Lua steps, against calling the
   same 100 Lua functions in a plain Lua loop (same runtime, same run).
2. Wall time of a parallel workflow of 8 steps that each wait 200 ms in Python (a host-side
   tool), against the 1600 ms the same steps take one after another (also measured).

    .venv/bin/python benchmarks/workflow_bench.py [--profile memory|default] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from llmspell.runtime import ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides
from llmspell.runtime.tools import Tool, ToolRegistry

STEPS = 100
WAIT_S = 0.2
PARALLEL_STEPS = 8

SETUP = f"""
fns = {{}}
for i = 1, {STEPS} do fns[i] = function(input) return i end end
local steps = {{}}
for i = 1, {STEPS} do steps[i] = {{name = "s" .. i, type = "lua", fn = fns[i]}} end
seq = Workflow.sequential{{name = "bench_seq", steps = steps}}
local wait_steps = {{}}
for i = 1, {PARALLEL_STEPS} do
  wait_steps[i] = {{name = "w" .. i, type = "tool", tool = "wait", input = {{}}}}
end
par = Workflow.parallel{{name = "bench_par", steps = wait_steps}}
one_by_one = Workflow.sequential{{name = "bench_par_baseline", steps = wait_steps}}
"""
PLAIN_LOOP = "local out = {} for i = 1, #fns do out[i] = fns[i]({}) end"


def timed(rt: ScriptRuntime, code: str) -> float:
    started = time.perf_counter()
    rt.execute(code)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="memory", choices=["memory", "default"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(profile=args.profile, env={}).config
        if args.profile == "default":
            config = with_overrides(config, {"storage.path": str(Path(tmp) / "bench.db")})
        with ScriptRuntime(config) as rt:
            rt.infrastructure.get(ToolRegistry).add(
                Tool(
                    name="wait",
                    description=f"sleeps {WAIT_S * 1000:.0f} ms in Python",
                    category="bench",
                    schema={"type": "object"},
                    run=lambda params: time.sleep(WAIT_S) or True,
                    builtin=False,
                )
            )
            rt.execute(SETUP)
            rt.execute("seq:execute{}")  # warm-up: storage open, statement caches
            loop = [timed(rt, PLAIN_LOOP) for _ in range(args.runs)]
            workflow = [timed(rt, "seq:execute{}") for _ in range(args.runs)]
            loop_ms, wf_ms = statistics.median(loop) * 1000, statistics.median(workflow) * 1000
            per_step_ms = (wf_ms - loop_ms) / STEPS
            print(f"storage profile: {args.profile}; median of {args.runs} runs")
            print(f"plain Lua loop, {STEPS} calls:               {loop_ms:9.3f} ms")
            print(f"sequential workflow, {STEPS} lua steps:       {wf_ms:9.3f} ms")
            print(f"  per-step overhead:                      {per_step_ms:9.3f} ms/step")
            print(f"  ratio workflow / plain loop:            {wf_ms / loop_ms:9.1f}x")
            baseline = timed(rt, "one_by_one:execute{}") * 1000
            parallel = statistics.median(timed(rt, "par:execute{}") for _ in range(3)) * 1000
            label = f"{PARALLEL_STEPS} steps waiting {WAIT_S * 1000:.0f} ms"
            print(f"{label}, one after another: {baseline:9.1f} ms")
            print(f"{label}, parallel workflow:  {parallel:9.1f} ms")
            print(
                f"  speed-up:                               {baseline / parallel:9.1f}x "
                f"(ideal {PARALLEL_STEPS}x; ideal wall time {WAIT_S * 1000:.0f} ms)"
            )


if __name__ == "__main__":
    main()
