"""Benchmark: what the session methods on strings cost. Prints numbers against baselines
measured in the same run; asserts nothing.

1. String method calls (`s:sub(1, 3)`, `s:len()`) with strings indexing the id-method table
   (which falls back to the string library) against the same calls with the string library as
   the strings' index again (the Lua default) — target: within a few percent.
2. `id:get_status()` against `Session.get(id).status` (the same storage read) — target: about
   the same or faster (no whole record is converted).

    .venv/bin/python benchmarks/session_methods_bench.py [--n N]
"""

from __future__ import annotations

import argparse
import time

from llmspell.runtime import ScriptRuntime, load_config

STRING_LOOP = """
local s, n, t0 = "0b5c3c52-6a42-4f0e-9a57-4b1f2f9f7a11", {n}, os.clock()
for i = 1, n do local a = s:sub(1, 3); local b = s:len() end
return os.clock() - t0
"""


def seconds(rt: ScriptRuntime, code: str) -> float:
    value = rt.execute(code).value
    assert isinstance(value, float)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000, help="string method loop iterations")
    args = parser.parse_args()
    config = load_config(profile="memory", env={}).config
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        with_ids = min(seconds(rt, STRING_LOOP.format(n=args.n)) for _ in range(3))
        rt.execute("getmetatable('').__index = string")
        plain = min(seconds(rt, STRING_LOOP.format(n=args.n)) for _ in range(3))
        print(f"string methods, {args.n:,} x 2 calls")
        print(f"  id-method index:        {with_ids * 1000:8.1f} ms")
        print(f"  string library (base):  {plain * 1000:8.1f} ms")
        print(f"  ratio:                  {with_ids / plain:8.2f}x")

        rt.execute("sid = Session.create({name = 'bench'})")
        calls = 2_000
        start = time.perf_counter()
        rt.execute(f"for i = 1, {calls} do local s = Session.get(sid).status end")
        record = time.perf_counter() - start
        start = time.perf_counter()
        rt.execute(f"for i = 1, {calls} do local s = Session.get(sid):get_status() end")
        method_on_record = time.perf_counter() - start
    finally:
        rt.close()
    # a fresh runtime: the string index was reset above, and the methods need it
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        rt.execute("sid = Session.create({name = 'bench'})")
        start = time.perf_counter()
        rt.execute(f"for i = 1, {calls} do local s = sid:get_status() end")
        method = time.perf_counter() - start
    finally:
        rt.close()
    print(f"session status, {calls:,} reads")
    print(f"  Session.get(id).status (base): {record / calls * 1e6:8.1f} us")
    print(f"  id:get_status():               {method / calls * 1e6:8.1f} us")
    print(f"  Session.get(id):get_status():  {method_on_record / calls * 1e6:8.1f} us")
    print(f"  ratio id:get_status() / base:  {method / record:8.2f}x")


if __name__ == "__main__":
    main()
