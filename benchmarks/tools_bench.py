"""Tool call benchmark (a script, not a test): what a `Tool.execute` costs on top of the
tool's own work, and file-search against a hand-written scan.

    python benchmarks/tools_bench.py [--calls N] [--files N] [--json]

Baselines measured in the same run: each tool's own function called directly (the floor);
then the registry's `execute` (schema check, parameter names, hooks, the result table with
the reference's fields) and `Tool.execute` from Lua (plus the binding). For file-search, the
same search written by hand (os.walk, read, `in` per line) over the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.runtime import ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides
from llmspell.runtime.tools.registry import ToolRegistry

CALLS = {
    "calculator": {"input": "2 + 3 * (4 - 1) ^ 2"},
    "uuid-generator": {"operation": "v4"},
    "hash-calculator": {"operation": "hash", "algorithm": "sha256", "input": "x" * 1000},
    # 300 distinct lines, every 30th changed
    "diff-calculator": {
        "old_text": "".join(f"line {i}\n" for i in range(300)),
        "new_text": "".join(f"line {i}{'!' if i % 30 == 0 else ''}\n" for i in range(300)),
    },
}


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(50, n)):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def scan_by_hand(root: Path, pattern: str) -> int:
    found = 0
    for folder, _, files in os.walk(root):
        for name in files:
            text = (Path(folder) / name).read_text(encoding="utf-8", errors="replace")
            found += sum(1 for line in text.splitlines() if pattern in line)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.files):
            lines = [f"line {j} of file {i}" + (" TODO" if j % 50 == 0 else "") for j in range(200)]
            (root / f"f{i:04}.txt").write_text("\n".join(lines))
        config = with_overrides(
            load_config(profile="memory", env={}).config, {"tools.allowed_paths": [tmp]}
        )
        rt = ScriptRuntime.with_engine(config, "lua")
        try:
            registry = rt.infrastructure.get(ToolRegistry)
            for name, params in CALLS.items():
                tool = registry.get(name)
                rt.execute(f"P = JSON.parse({json.dumps(json.dumps(params))})")
                lua = f"return Tool.execute({json.dumps(name)}, P).success"
                results[name] = {
                    "direct_us": per_call_us(lambda t=tool, p=params: t.run(dict(p)), args.calls),
                    "registry_us": per_call_us(
                        lambda n=name, p=params: registry.execute(n, p), args.calls
                    ),
                    "lua_us": per_call_us(lambda c=lua: rt.execute(c), max(1, args.calls // 4)),
                }
            search = {"operation": "search", "path": tmp, "pattern": "TODO"}
            start = time.perf_counter()
            found = registry.execute("file-search", {**search, "max_results": 10_000})
            tool_s = time.perf_counter() - start
            start = time.perf_counter()
            by_hand = scan_by_hand(root, "TODO")
            hand_s = time.perf_counter() - start
            assert found["total_matches"] == by_hand, (found["total_matches"], by_hand)
            results["file-search"] = {"files": args.files, "tool_s": tool_s, "by_hand_s": hand_s}
        finally:
            rt.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'tool':18} {'direct µs':>10} {'registry µs':>12} {'Lua µs':>9} {'Lua/direct':>11}")
    for name in CALLS:
        r = results[name]
        ratio = r["lua_us"] / r["direct_us"]
        print(
            f"{name:18} {r['direct_us']:10.1f} {r['registry_us']:12.1f} {r['lua_us']:9.1f}"
            f" {ratio:10.1f}x"
        )
    fs = results["file-search"]
    print(
        f"file-search over {fs['files']} files: {fs['tool_s'] * 1000:.1f} ms, by hand "
        f"{fs['by_hand_s'] * 1000:.1f} ms ({fs['tool_s'] / fs['by_hand_s']:.2f}x)"
    )


if __name__ == "__main__":
    main()
