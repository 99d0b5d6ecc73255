"""Benchmark: cold start of `llmspell exec 'print(1)'` and of the kernel, against baselines
measured interleaved in the same run.

1. `llmspell exec 'print(1)'` wall time vs `python -c "import lupa"` (the least a Lua run
   needs); goal ratio <= 3. Also shown: the same start with an empty config cache (the first
   run after a config change validates with pydantic), not part of the goal.
2. kernel start -> first kernel_info_reply, llmspell vs ipykernel's python3 kernel; goal <= 1.0.

Both as a normal install runs them: bytecode cached (one untimed run first), no LLMSPELL_*
settings, the default SQLite storage in a fresh data dir. Prints medians of N and the ratios.
`--before DIR` also times `llmspell exec` from another checkout of the code (a worktree of an
earlier commit whose `llmspell/` has the same symlinks), interleaved with the rest: a change's
before and after from one run on a busy machine.
Run: `.venv/bin/python benchmarks/startup_bench.py [--runs 11] [--starts 5] [--before DIR]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from kernel_roundtrip import start

from llmspell.kernel.install import install

EXEC_GOAL = 3.0
KERNEL_GOAL = 1.0
LLMSPELL = Path(sys.executable).parent / "llmspell"


def wall(argv: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds from spawning `argv` until it exited (successfully)."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr.decode()
    return elapsed


def kernel_ready(name: str, specs: KernelSpecManager, env: dict[str, str], cwd: str) -> float:
    km = KernelManager(kernel_name=name, kernel_spec_manager=specs)
    kc, ready, _ = start(km, env, cwd)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="timed runs of each command")
    parser.add_argument("--starts", type=int, default=5, help="timed starts of each kernel")
    parser.add_argument(
        "--before", metavar="DIR", help="a checkout whose `llmspell exec` is timed alongside"
    )
    args = parser.parse_args()
    if args.before and not (Path(args.before) / "llmspell" / "cli.py").is_file():
        parser.error(f"--before: {args.before} is not a checkout of llmspell (no llmspell/cli.py)")

    with tempfile.TemporaryDirectory(prefix="llmspell-startup-") as tmp:
        home = Path(tmp)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("LLMSPELL_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            XDG_DATA_HOME=str(home / "data"),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            IPYTHONDIR=str(home / "ipython"),
        )
        exec_argv = [str(LLMSPELL), "exec", "print(1)"]
        commands = {
            "llmspell exec 'print(1)'": exec_argv,
            'python -c "import lupa"': [sys.executable, "-c", "import lupa"],
            "  ... with no config cache": exec_argv,
        }
        if args.before:
            commands["  ... code of --before"] = exec_argv
        runs: dict[str, list[float]] = {label: [] for label in commands}
        for i in range(args.runs + 1):  # the first round is untimed: bytecode, the database
            for label, argv in commands.items():
                run_env = env
                if label.endswith("no config cache"):
                    run_env = {**env, "XDG_CACHE_HOME": str(home / f"cache-{i}")}
                if label.endswith("--before"):
                    run_env = {**env, "PYTHONPATH": str(Path(args.before).resolve())}
                took = wall(argv, run_env, tmp)
                if i > 0:
                    runs[label].append(took)

        install(prefix=str(home / "prefix"))
        specs = KernelSpecManager(kernel_dirs=[str(home / "prefix/share/jupyter/kernels")])
        kernels = ("llmspell", "python3")
        ready: dict[str, list[float]] = {name: [] for name in kernels}
        for i in range(args.starts + 1):
            for name in kernels:
                took = kernel_ready(name, specs, env, tmp)
                if i > 0:
                    ready[name].append(took)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, default SQLite storage")
    print(f"cold start, median of {args.runs} (interleaved):")
    for label, times in runs.items():
        print(f"  {label:28s} {statistics.median(times) * 1000:7.0f} ms")
    exec_ratio = statistics.median(runs["llmspell exec 'print(1)'"]) / statistics.median(
        runs['python -c "import lupa"']
    )
    print(f"  ratio llmspell exec / import lupa: {exec_ratio:.2f} (goal <= {EXEC_GOAL})")
    if args.before:
        before_ratio = statistics.median(runs["  ... code of --before"]) / statistics.median(
            runs['python -c "import lupa"']
        )
        print(f"  ratio with the code of --before: {before_ratio:.2f}")
    print(f"kernel start -> first kernel_info_reply, median of {args.starts} (interleaved):")
    for name in kernels:
        print(f"  {name:28s} {statistics.median(ready[name]) * 1000:7.0f} ms")
    kernel_ratio = statistics.median(ready["llmspell"]) / statistics.median(ready["python3"])
    print(f"  ratio llmspell/python3: {kernel_ratio:.2f} (goal <= {KERNEL_GOAL})")
    return 0 if exec_ratio <= EXEC_GOAL and kernel_ratio <= KERNEL_GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
