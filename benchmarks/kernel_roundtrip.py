"""Benchmark: llmspell's Lua kernel against ipykernel's python3 kernel, measured in the same run.

Prints the trivial-cell round trip (`1+1` execute through jupyter_client until the reply and
the idle status) p50, and kernel start -> first kernel_info_reply; targets: ratio <= 1.2 and
<= 1.5. Run: `.venv/bin/python benchmarks/kernel_roundtrip.py [--runs 200] [--starts 5]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from llmspell.kernel.install import install

ROUNDTRIP_TARGET = 1.2
STARTUP_TARGET = 1.5


def kernel_manager(name: str, specs: KernelSpecManager) -> KernelManager:
    return KernelManager(kernel_name=name, kernel_spec_manager=specs)


def start(km: KernelManager, env: dict[str, str], cwd: str) -> tuple[Any, float, float]:
    """Start a kernel; return its client, seconds until the first kernel_info_reply and
    seconds until the reply to a first `1+1` sent right after it."""
    t0 = time.perf_counter()
    km.start_kernel(env=env, cwd=cwd)
    kc = km.client()
    kc.start_channels()
    kc.kernel_info()
    while kc.get_shell_msg(timeout=60)["msg_type"] != "kernel_info_reply":
        pass
    ready = time.perf_counter() - t0
    msg_id = kc.execute("1+1")
    while kc.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != msg_id:
        pass
    first_cell = time.perf_counter() - t0
    # Drain the start-up messages so they do not count against the timed cells.
    time.sleep(0.2)
    while kc.iopub_channel.msg_ready():
        kc.get_iopub_msg(timeout=1)
    return kc, ready, first_cell


def roundtrip(kc: Any, code: str) -> float:
    """Seconds from sending `code` until both its execute_reply and its idle status arrived."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return time.perf_counter() - t0


def measure_roundtrips(kc: Any, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        roundtrip(kc, "1+1")
    return [roundtrip(kc, "1+1") for _ in range(runs)]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed cells per kernel")
    parser.add_argument("--warmup", type=int, default=30, help="untimed cells first")
    parser.add_argument("--starts", type=int, default=5, help="timed starts per kernel")
    parser.add_argument(
        "--profile", default="default", help="llmspell config profile (default: sqlite file)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llmspell-bench-") as tmp:
        home = Path(tmp)
        install(prefix=str(home / "prefix"))
        specs = KernelSpecManager(kernel_dirs=[str(home / "prefix/share/jupyter/kernels")])
        # Kernels run as in a normal install: bytecode cached (the python3 kernel's modules
        # were compiled by pip; an editable llmspell is compiled on its first, untimed start).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("LLMSPELL_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            LLMSPELL_PROFILE=args.profile,
            XDG_DATA_HOME=str(home / "data"),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            IPYTHONDIR=str(home / "ipython"),
        )
        kernels = {"llmspell": "llmspell", "python3": "python3"}

        # Start-up: one untimed start each (creates databases, profiles, bytecode caches),
        # then alternate timed starts so both see the same machine load.
        startup: dict[str, list[float]] = {label: [] for label in kernels}
        first_cell: dict[str, list[float]] = {label: [] for label in kernels}
        for i in range(args.starts + 1):
            for label, name in kernels.items():
                km = kernel_manager(name, specs)
                kc, ready, first = start(km, env, tmp)
                if i > 0:
                    startup[label].append(ready)
                    first_cell[label].append(first)
                kc.stop_channels()
                km.shutdown_kernel(now=True)

        # Round trip: both kernels alive at once, measured in interleaved blocks.
        running = {}
        for label, name in kernels.items():
            km = kernel_manager(name, specs)
            running[label] = (km, start(km, env, tmp)[0])
        times: dict[str, list[float]] = {label: [] for label in kernels}
        block = max(1, args.runs // 4)
        for _km, kc in running.values():
            measure_roundtrips(kc, 0, args.warmup)
        while len(times["llmspell"]) < args.runs:
            for label, (_, kc) in running.items():
                times[label] += measure_roundtrips(kc, block, 0)
        for km, kc in running.values():
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, profile {args.profile!r}")
    print(f"trivial cell round trip (`1+1`, reply + idle), {args.runs} runs after warm-up:")
    for label in kernels:
        p50 = statistics.median(times[label]) * 1000
        p90 = percentile(times[label], 90) * 1000
        print(f"  {label:9s} p50 {p50:7.3f} ms   p90 {p90:7.3f} ms")
    rt_ratio = statistics.median(times["llmspell"]) / statistics.median(times["python3"])
    print(f"  ratio llmspell/python3 p50: {rt_ratio:.2f} (target <= {ROUNDTRIP_TARGET})")
    print(
        f"kernel start -> first kernel_info_reply (-> first `1+1` reply), median of {args.starts}:"
    )
    for label in kernels:
        ready_ms = statistics.median(startup[label]) * 1000
        first_ms = statistics.median(first_cell[label]) * 1000
        print(f"  {label:9s} {ready_ms:7.0f} ms   ({first_ms:5.0f} ms)")
    st_ratio = statistics.median(startup["llmspell"]) / statistics.median(startup["python3"])
    print(f"  ratio llmspell/python3: {st_ratio:.2f} (target <= {STARTUP_TARGET})")
    return 0 if rt_ratio <= ROUNDTRIP_TARGET and st_ratio <= STARTUP_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
