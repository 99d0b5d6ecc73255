"""The sandbox under attack: every escape and runaway attempt known (those that once worked
and those that always failed) runs in a process of its own with a hard limit. An escape must be
refused, a runaway must end with TimeoutError (1 s limit) or KeyboardInterrupt (a real SIGINT
after 0.5 s) long before it could end by itself, and no process may hang, crash or die by a
signal — so a regression cannot pass silently. The children run in parallel; the whole table
takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHILD = Path(__file__).with_name("sandbox_child.py")
LIMIT_S = 1.0  # the time limit given to runaway attempts
# ... and to the others, which end by being refused or by their value: only a bound, wide so a
# loaded machine cannot turn a slow refusal (a memory bomb filling its 32 MiB) into a timeout
OTHERS_LIMIT_S = 20.0
INTERRUPT_AFTER_S = 0.5  # when the SIGINT reaches an interrupted attempt
# How long after the limit or the signal an attempt may still run: wide, as four children share
# a loaded machine; every runaway would run far longer (or forever) without the stop.
SLACK_S = 8.0
HARD_LIMIT_S = 60.0  # a child still running then has hung (start-up included, on a busy machine)
PARALLEL = 4


@dataclass(frozen=True)
class Attempt:
    """One attack. `refused`: the cell fails with a message containing `expect`; `value`: it
    returns a value whose repr contains `expect`; `runaway`: it must be stopped (run twice,
    by the timeout and by SIGINT unless `interruptible` is False)."""

    name: str
    code: str
    kind: str  # "refused" | "value" | "runaway"
    expect: str = ""
    engine: str = "lua"
    action: str = "execute"  # "execute" | "complete" | "inspect" | "stream"
    setup: str = ""
    script: str = ""
    files: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    interruptible: bool = True


SPIN = "spin = function() while true do end end\n"
BYTECODE = list(b"\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08xV\x00\x00\x00")

ESCAPES = [
    Attempt("os.execute", "os.execute('id')", "refused", "attempt to call a nil value"),
    Attempt("io.open", "io.open('/etc/passwd')", "refused", "attempt to call a nil value"),
    Attempt("io.popen", "io.popen('id')", "refused", "attempt to call a nil value"),
    Attempt("package.loadlib", "package.loadlib('libc.so.6', 'system')", "refused", "nil value"),
    Attempt("string.dump", "string.dump(print)", "refused", "attempt to call a nil value"),
    Attempt("dofile", "dofile('/etc/passwd')", "refused", "attempt to call a nil value"),
    Attempt(
        "binary chunk through load",
        f"local f, err = load(string.char({', '.join(map(str, BYTECODE))})) return err",
        "value",
        "attempt to load a binary chunk",
    ),
    Attempt("Python attributes", "return State.save.__globals__", "refused", "index a function"),
    Attempt("the python global", "return python.eval('1')", "refused", "index a nil value"),
    Attempt("debug.getupvalue", "return debug.getupvalue(load, 1)", "refused", "nil value"),
    Attempt("debug.getregistry", "return debug.getregistry()", "refused", "nil value"),
    Attempt(
        "the debug library through require",
        "require('debug').sethook() while true do end",
        "refused",
        "attempt to call a nil value (field 'sethook')",
    ),
    Attempt(
        "original load through require('debug')",
        "return require('debug').getupvalue(pcall, 1)",
        "refused",
        "attempt to call a nil value",
    ),
    Attempt("lupa's module through require", "require('python')", "refused", "not found"),
    Attempt(
        "files outside through package.path",
        "package.path = '../secrets/?.lua' return require('secret')",
        "refused",
        "package.path cannot be set in safe mode",
        script="project/main.lua",
        files={
            "secrets/secret.lua": "password = 'hunter2' return password",
            "project/main.lua": "",
        },
    ),
    Attempt(
        "files outside by module name",
        "return require('..secrets.secret')",
        "refused",
        "is not allowed in safe mode",
        script="project/main.lua",
        files={"secrets/secret.lua": "return 'hunter2'", "project/main.lua": ""},
    ),
    Attempt(
        "files outside through a symlink",
        "return require('innocent')",
        "refused",
        "leads outside",
        script="project/main.lua",
        files={"secrets/secret.lua": "return 'hunter2'", "project/main.lua": ""},
        links={"project/innocent.lua": "secrets/secret.lua"},
    ),
    Attempt(
        "probing files with package.searchpath",
        "return package.searchpath('passwd', '/etc/?')",
        "refused",
        "attempt to call a nil value",
    ),
    Attempt(
        "bytecode through require",
        "return require('compiled')",
        "refused",
        "attempt to load a binary chunk",
        script="project/main.lua",
        files={"project/compiled.lua": BYTECODE, "project/main.lua": ""},
    ),
    Attempt(
        "llmspell settings through os.getenv",
        "return os.getenv('LLMSPELL_STORAGE__POSTGRES__URL')",
        "refused",
        "never readable in safe mode",
    ),
    Attempt("other variables", "return os.getenv('PATH')", "refused", "env_allowlist"),
    Attempt(
        "a finaliser outside the limits",
        "setmetatable({}, {__gc = function() while true do end end}) collectgarbage()",
        "refused",
        "__gc metamethods are not allowed",
    ),
    Attempt(
        "a finaliser left for process exit",
        "keep = setmetatable({}, {__gc = function() while true do end end})",
        "refused",
        "__gc metamethods are not allowed",
    ),
    Attempt(
        "a finaliser through a file handle's metatable",
        "getmetatable(io.stdout).__gc = function() while true do end end return io.type(io.stdout)",
        "value",
        "'file'",
    ),
    Attempt("changing the process locale", "os.setlocale('C')", "refused", "only query"),
    Attempt(
        "memory bomb",
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1e5) .. i end",
        "refused",
        "not enough memory",
        config={"engines.lua.max_memory_mb": 32},
    ),
    Attempt("string.rep of nothing", "return #string.rep('', math.maxinteger)", "value", "0"),
    Attempt(
        "completing a table with a looping __pairs",
        "t.",
        "value",
        "t.alpha",
        action="complete",
        setup=SPIN + "t = setmetatable({alpha = 1}, {__pairs = spin, __index = spin})",
    ),
    Attempt(
        "inspecting a field behind a looping __index",
        "u.x",
        "value",
        "None",
        action="inspect",
        setup=SPIN + "u = setmetatable({}, {__index = spin, __tostring = spin})",
    ),
]

RUNAWAYS = [
    Attempt("plain loop", "while true do end", "runaway"),
    Attempt("loop inside pcall", "pcall(function() while true do end end)", "runaway"),
    Attempt(
        "catastrophic pattern",
        'string.find(string.rep("a", 32), string.rep("a?", 32) .. string.rep("a", 32) .. "b")',
        "runaway",
    ),
    Attempt(
        "catastrophic pattern in gsub",
        'string.gsub(string.rep("a", 30), string.rep("a?", 30) .. "b", "x")',
        "runaway",
    ),
    Attempt(
        "result with a looping __tostring",
        "return setmetatable({}, {__tostring = function() while true do end end})",
        "runaway",
    ),
    Attempt(
        "error object with a looping __tostring",
        "error(setmetatable({}, {__tostring = function() while true do end end}))",
        "runaway",
    ),
    Attempt(
        "abort swallowed by load's reader",
        "while true do load(function() while true do end end) end",
        "runaway",
    ),
    Attempt(
        "abort swallowed by coroutine.close",
        "while true do\n"
        "  local co = coroutine.create(function()\n"
        "    local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
        "    coroutine.yield()\n"
        "  end)\n"
        "  coroutine.resume(co) coroutine.close(co)\n"
        "end",
        "runaway",
    ),
    Attempt("table.move over a huge range", "table.move({}, 1, math.maxinteger - 1, 2)", "runaway"),
    Attempt(
        "table.sort of a lying __len",
        "local t = setmetatable({}, {__len = function() return 2^31 - 2 end,"
        " __index = rawlen, __newindex = rawequal}) table.sort(t)",
        "runaway",
    ),
    Attempt(
        "a 40,000-line script ending in a loop",
        "\n".join(f"v{i % 50} = {i} + {i}" for i in range(40_000)) + "\nwhile true do end",
        "runaway",
    ),
    Attempt(
        "12 MB of statements, then a loop",
        "x = 1\n" * 2_000_000 + "while true do end",
        "runaway",
    ),
    Attempt(
        "a stream pulled after its cell",
        "return Streaming.create(function() while true do end end)",
        "runaway",
        action="stream",
        interruptible=False,  # no cell runs, so no SIGINT handler: the timeout must do it
    ),
    Attempt(
        "Python: timeout caught in a loop",
        "while True:\n    try:\n        for i in range(1000):\n            pass\n"
        "    except BaseException:\n        pass",
        "runaway",
        engine="python",
    ),
    Attempt("Python: blocking sleep", "import time\ntime.sleep(25)", "runaway", engine="python"),
]


@dataclass
class Run:
    """One child: what it printed, how it exited."""

    returncode: int | None  # None: killed at HARD_LIMIT_S
    outcome: dict[str, Any] | None
    stderr: str


def _spec(attempt: Attempt, work: Path, interrupt: bool) -> dict[str, Any]:
    return {
        "dir": str(work),
        "engine": attempt.engine,
        "code": attempt.code,
        "timeout_s": 0 if interrupt else LIMIT_S if attempt.kind == "runaway" else OTHERS_LIMIT_S,
        "interrupt_after": INTERRUPT_AFTER_S if interrupt else 0,
        "action": attempt.action,
        "setup": attempt.setup,
        "script": attempt.script,
        "files": attempt.files,
        "links": attempt.links,
        "config": attempt.config,
    }


def _run_child(spec: dict[str, Any]) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["LLMSPELL_STORAGE__POSTGRES__URL"] = "postgresql://app:s3cret-password@db/llmspell"
    proc = subprocess.Popen(
        [sys.executable, str(CHILD)],
        cwd=spec["dir"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(json.dumps(spec), timeout=HARD_LIMIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return Run(None, None, err)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return Run(proc.returncode, json.loads(lines[-1]) if lines else None, err)


CASES = [(a, False) for a in ESCAPES + RUNAWAYS] + [(a, True) for a in RUNAWAYS if a.interruptible]


def _case_id(case: tuple[Attempt, bool]) -> str:
    attempt, interrupt = case
    return (
        f"{attempt.name} ({'SIGINT' if interrupt else 'timeout'})"
        if attempt.kind == ("runaway")
        else attempt.name
    )


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    """Every case's child, run in parallel once for the module."""
    with tempfile.TemporaryDirectory(prefix="llmspell-sandbox-") as root:
        specs = {}
        for index, case in enumerate(CASES):
            work = Path(root) / str(index)
            work.mkdir()
            specs[_case_id(case)] = _spec(case[0], work, case[1])
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            results = dict(zip(specs, pool.map(_run_child, specs.values()), strict=True))
        yield results


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_the_sandbox_holds(runs: dict[str, Run], case: tuple[Attempt, bool]) -> None:
    attempt, interrupt = case
    run = runs[_case_id(case)]
    assert run.returncode is not None, f"hung past {HARD_LIMIT_S:g} s:\n{run.stderr}"
    assert run.returncode >= 0, f"killed by signal {-run.returncode}:\n{run.stderr}"
    assert run.returncode == 0 and run.outcome is not None, run.stderr
    outcome = run.outcome
    if attempt.kind == "refused":
        assert outcome["ok"] is False, outcome
        assert attempt.expect in outcome["evalue"]
        assert "s3cret-password" not in outcome["evalue"]
    elif attempt.kind == "value":
        assert outcome["ok"] is True, outcome
        assert attempt.expect in outcome["value"]
    elif interrupt:
        assert outcome.get("ename") == "KeyboardInterrupt", outcome
        assert outcome["elapsed"] < INTERRUPT_AFTER_S + SLACK_S, outcome
    else:
        assert outcome.get("ename") == "TimeoutError", outcome
        assert outcome["elapsed"] < LIMIT_S + SLACK_S, outcome
