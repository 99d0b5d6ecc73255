"""Interrupt, timeout and memory limit of the Lua engine: nothing in user code can swallow them,
and the runtime keeps working (with its globals) afterwards."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime

# A limit that user code could swallow would hang the cell: fail instead of waiting forever.
pytestmark = pytest.mark.timeout(30)

RUNAWAY = {
    "plain loop": "while true do end",
    "inside pcall": "pcall(function() while true do end end)",
    "pcall retried forever": "while true do pcall(function() while true do end end) end",
    "inside xpcall": "xpcall(function() while true do end end, function(e) return e end)",
    "inside coroutine.wrap": "coroutine.wrap(function() while true do end end)()",
    "inside coroutine.resume": (
        "local co = coroutine.create(function() while true do end end)\n"
        "local ok, err = coroutine.resume(co)"
    ),
    "error caught in a loop": "while true do local ok = pcall(error, 'x') end",
    "inside a stream producer": ("Streaming.create(function() while true do end end):next()"),
    "stream producer inside pcall": (
        "pcall(function() Streaming.create(function() while true do end end):collect() end)"
    ),
}


@contextmanager
def after(seconds: float, action: object) -> Iterator[None]:
    timer = threading.Timer(seconds, action)  # type: ignore[arg-type]
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.mark.parametrize("code", RUNAWAY.values(), ids=RUNAWAY.keys())
def test_interrupt_from_another_thread_stops_a_runaway_cell(lua: ScriptRuntime, code: str) -> None:
    lua.execute("kept = 41")
    started = time.monotonic()
    with after(0.3, lua.interrupt):
        err = error_of(lua, code)
    elapsed = time.monotonic() - started
    assert err.ename == "KeyboardInterrupt"
    assert elapsed < 1.3
    assert lua.execute("return kept + 1").value == 42


@pytest.mark.parametrize(
    ("code", "where"),
    [
        ("local n = 0\nwhile true do\n  n = n + 1\nend", "[cell 7]:3"),
        ("pcall(function()\n  while true do end\nend)", "[cell 7]:2"),
        ("spin()", "[cell 6]:2"),
    ],
    ids=["loop", "inside pcall", "in a function of an earlier cell"],
)
def test_an_interrupt_says_where_the_script_stopped(
    lua: ScriptRuntime, code: str, where: str
) -> None:
    lua.execute("function spin()\n  while true do end\nend", name="[cell 6]")
    with after(0.3, lua.interrupt):
        err = error_of(lua, code, name="[cell 7]")
    assert (err.ename, err.evalue) == ("KeyboardInterrupt", f"execution interrupted at {where}")


def test_a_timeout_says_where_the_script_stopped(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.3)
    err = error_of(rt, "local x = 1\nwhile true do x = -x end", name="[cell 2]")
    assert err.evalue == "execution exceeded the time limit of 0.3 s (stopped at [cell 2]:2)"


def test_interrupt_before_a_cell_does_not_fail_the_next_cell(lua: ScriptRuntime) -> None:
    lua.interrupt()
    assert lua.execute("return 1").value == 1


def test_pcall_still_catches_ordinary_errors(lua: ScriptRuntime) -> None:
    code = "local ok, err = pcall(error, 'boom') return ok, err"
    assert lua.execute(code).value == [False, "boom"]


@pytest.mark.parametrize(
    "code",
    [RUNAWAY["plain loop"], RUNAWAY["inside pcall"], RUNAWAY["stream producer inside pcall"]],
)
def test_timeout_fails_the_cell_with_timeout_error(make_runtime: MakeRuntime, code: str) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.3)
    rt.execute("kept = 1")
    started = time.monotonic()
    err = error_of(rt, code)
    assert err.ename == "TimeoutError"
    assert "0.3 s" in err.evalue
    assert time.monotonic() - started < 1.5
    assert rt.execute("return kept").value == 1


def test_timeout_applies_per_cell_not_per_runtime(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.5)
    for _ in range(3):
        rt.execute("local t = os.clock() while os.clock() - t < 0.2 do end")


MEMORY_HOGS = {
    "growing table": "local t = {} for i = 1, 1e9 do t[i] = i end",
    "huge string": "local s = string.rep('x', 256 * 1024 * 1024)",
    "inside pcall": "pcall(function() local t = {} for i = 1, 1e9 do t[i] = {i} end end)",
}


@pytest.mark.parametrize("code", MEMORY_HOGS.values(), ids=MEMORY_HOGS.keys())
def test_memory_limit_fails_the_cell_and_the_runtime_survives(
    make_runtime: MakeRuntime, code: str
) -> None:
    rt = make_runtime(engines__lua__max_memory_mb=32)
    rt.execute("kept = {1, 2, 3}")
    err = error_of(rt, code)
    assert err.ename == "MemoryError"
    assert "max_memory_mb = 32" in err.evalue
    assert rt.execute("return #kept").value == 3
    assert rt.execute("local t = {} for i = 1, 10000 do t[i] = i end return #t").value == 10000


def test_sigint_on_the_main_thread_interrupts_and_restores_the_handler(
    lua: ScriptRuntime,
) -> None:
    assert threading.current_thread() is threading.main_thread()
    calls: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    old = signal.signal(signal.SIGINT, previous)
    try:
        with after(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)):
            err = error_of(lua, "pcall(function() while true do end end)")
        assert err.ename == "KeyboardInterrupt"
        assert signal.getsignal(signal.SIGINT) is previous
        assert calls == []  # the runtime's handler took the signal while the cell ran
    finally:
        signal.signal(signal.SIGINT, old)


def test_sigint_from_a_timer_signal_interrupts_a_cell(lua: ScriptRuntime) -> None:
    def to_sigint(signum: int, frame: FrameType | None) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    old_alarm = signal.signal(signal.SIGALRM, to_sigint)
    old_int = signal.getsignal(signal.SIGINT)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        err = error_of(lua, "while true do end")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
    assert err.ename == "KeyboardInterrupt"
    assert signal.getsignal(signal.SIGINT) is old_int


def test_python_engine_interrupt_and_timeout(make_runtime: MakeRuntime) -> None:
    py = make_runtime("python")
    py.execute("kept = 41")
    with after(0.3, py.interrupt):
        err = error_of(py, "try:\n    while True: pass\nexcept Exception: pass")
    assert err.ename == "KeyboardInterrupt"
    assert py.execute("kept + 1").value == 42

    slow = make_runtime("python", engines__python__timeout_s=0.3)
    err = error_of(slow, "while True: pass")
    assert err.ename == "TimeoutError"
    assert slow.execute("1 + 1").value == 2
