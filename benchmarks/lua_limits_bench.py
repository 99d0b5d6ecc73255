"""Benchmark: what the Lua limits cost. Prints numbers against baselines measured in the same
run; asserts nothing.

1. Starting a cell: `compile_cell` (last-statement detection included) of a 40,000-line script
   with different last lines, and of 50 MB of short statements, against Lua's `load` alone of
   the same text (target: a few times `load`).
2. The string and table functions scripts call (bounded: C when the work is bounded, the Lua
   port of the matcher past the budget) against the plain C functions in a bare Lua state.
3. The Lua port of the matcher itself against the C matcher, on the same calls.

    .venv/bin/python benchmarks/lua_limits_bench.py [--big-mb N]
"""

from __future__ import annotations

import argparse
import time
from importlib import resources
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime import ScriptRuntime, load_config

SCRIPT_ENDINGS = ["x = 1", "print_it", "x = 1; x", "x = 'a' .. 'b'", "x = = 1"]

# name -> Lua body run in a loop of `n` iterations (`s` is the subject set up before)
STRING_OPS = {
    "s:find('needle', 1, true)": ("s = string.rep('hay ', 250) .. 'needle'", 20_000),
    "s:find('%d+')": ("s = string.rep('word ', 200) .. '12345'", 20_000),
    "s:gsub('%s+', ' ')": ("s = string.rep('a  b \\t c\\n', 100)", 5_000),
    "s:match('^%s*(.-)%s*$')": ("s = '   ' .. string.rep('padded text ', 10) .. '   '", 20_000),
    "gmatch('(%w+)=(%w+)')": ("s = string.rep('key=value ', 100)", 2_000),
    "string.rep('ab', 10)": ("s = ''", 200_000),
    "table.insert(t, v)": ("t = {}", 200_000),
    "trim of 100 KB": ("s = '  ' .. string.rep('x ', 50000) .. '  '", 5),
}
CALLS = {
    "trim of 100 KB": "s:match('^%s*(.-)%s*$')",
    "gmatch('(%w+)=(%w+)')": "for k, v in s:gmatch('(%w+)=(%w+)') do end",
}


def best_of(repeat: int, fn: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_cells(big_mb: int) -> None:
    rt = ScriptRuntime(load_config(profile="memory", env={}).config)
    engine: Any = rt._engine
    lines = [
        f"local_{i % 50} = {i} + math.max({i}, 2) -- step" if i % 3 else f'print_it = "s {i}"'
        for i in range(40_000)
    ]
    print("1. starting a cell (best of 3)")
    print(f"   {'cell':36} {'load':>9} {'compile_cell':>13} {'ratio':>6}")
    cases = [(f"40,000 lines + {e!r}", "\n".join(lines) + "\n" + e + "\n") for e in SCRIPT_ENDINGS]
    cases.append((f"{big_mb} MB of 'x = 1'", "x = 1\n" * (big_mb * 1024 * 1024 // 6)))
    for label, code in cases:
        source = code.encode()

        def load(source: bytes = source) -> None:
            engine._p.compile(source, b"bench")

        def cell(code: str = code) -> None:
            with engine.limits.guard():
                try:
                    engine._cells.compile_cell(code, "bench")
                except Exception:  # the syntax-error ending
                    pass

        repeat = 1 if len(code) > 10_000_000 else 3
        base, ours = best_of(repeat, load), best_of(repeat, cell)
        print(f"   {label:36} {base * 1000:7.1f}ms {ours * 1000:11.1f}ms {ours / base:6.1f}")
    rt.close()


def bench_strings() -> None:
    rt = ScriptRuntime(load_config(profile="memory", env={}).config)
    bare = lupa.LuaRuntime(encoding=None)
    print("2. string and table functions (best of 3, per call)")
    print(f"   {'call':30} {'plain C':>10} {'bounded':>10} {'ratio':>6}")
    for label, (setup, n) in STRING_OPS.items():
        call = CALLS.get(label, label)
        call = call.replace("v)", "i)")
        body = f"{setup}\nlocal t = {{}}\nfor i = 1, {n} do local _ = {call} end"
        if call.startswith("for "):
            body = f"{setup}\nfor i = 1, {n} do {call} end"
        code = f"local t0 = os.clock()\n{body}\nreturn os.clock() - t0"
        plain = min(bare.execute(code) for _ in range(3))
        bounded = min(rt.execute(code).value for _ in range(3))
        per = 1e6 / n
        print(f"   {label:30} {plain * per:8.2f}us {bounded * per:8.2f}us {bounded / plain:6.1f}")
    rt.close()


PORT_CALLS = {
    "find a?{16}a{16}b (backtracking)": (
        "string.rep('a', 16)",
        "find(s, string.rep('a?', 16) .. string.rep('a', 16) .. 'b')",
    ),
    "match trim of 10 KB": ("'  ' .. string.rep('x ', 5000) .. '  '", "match(s, '^%s*(.-)%s*$')"),
    "gsub %s+ of 10 KB": ("string.rep('a  b ', 2000)", "gsub(s, '%s+', ' ')"),
}


def bench_port() -> None:
    bare = lupa.LuaRuntime(encoding=None)
    source = resources.files("llmspell.runtime.engines.lua").joinpath("bounded.lua").read_bytes()
    setup = bare.eval(
        """function(source) return load(source, "=llmspell", "t")({
          find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub,
          rep = string.rep, byte = string.byte, char = string.char, sub = string.sub,
          format = string.format, move = table.move, insert = table.insert,
          remove = table.remove, sort = table.sort, concat = table.concat,
          unpack = table.unpack, getinfo = debug.getinfo, getmetatable = debug.getmetatable,
          error = error}).ported end"""
    )
    bare.globals().ported = setup(source)
    print("3. the Lua port of the matcher (used past the budget) against C (best of 3)")
    print(f"   {'call':36} {'C':>10} {'port':>10} {'ratio':>6}")
    for label, (subject, call) in PORT_CALLS.items():
        timings = []
        for fns in ("string", "ported"):
            code = f"local s = {subject} local t0 = os.clock() {fns}.{call} return os.clock() - t0"
            timings.append(min(bare.execute(code) for _ in range(3)))
        c, port = timings
        print(f"   {label:36} {c * 1000:8.2f}ms {port * 1000:8.2f}ms {port / c:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mb", type=int, default=50)
    args = parser.parse_args()
    bench_cells(args.big_mb)
    bench_strings()
    bench_port()


if __name__ == "__main__":
    main()
