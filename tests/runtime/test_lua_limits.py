"""Interrupt, timeout and memory limit of the Lua engine: nothing in user code can swallow them,
they reach work the count hook cannot see (C loops, display, callbacks after a cell), and the
runtime keeps working (with its globals) afterwards. Also the Python engine's timeout."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, call, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.engines.lua import LuaEngine
from llmspell.runtime.engines.lua.limits import LuaLimits
from llmspell.runtime.errors import ScriptStopping

# A limit that user code could swallow would hang the cell: fail instead of waiting forever.
pytestmark = pytest.mark.timeout(30)
# The runaways here never end by themselves; a stop given after 0.3 s must end them well before
# this. The bound is wide because a loaded machine may take seconds to schedule the stop: it
# tells a stop that reached the runaway from one that waited for it (which never comes).
STOPPED_WITHIN_S = 10.0

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
    assert elapsed < STOPPED_WITHIN_S
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
    assert time.monotonic() - started < STOPPED_WITHIN_S
    assert rt.execute("return kept").value == 1


def test_timeout_applies_per_cell_not_per_runtime(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(engines__lua__timeout_s=1.5)
    sub = call(rt, "Event.subscribe", "never.*")
    wait = f'return Event.receive("{sub}", %d) == nil and "waited"'
    # three cells of 0.6 s each: 1.8 s together, more than the limit; 0.9 s of slack each
    for _ in range(3):
        assert rt.execute(wait % 600).value == "waited"
    assert error_of(rt, wait % 60_000).ename == "TimeoutError", "the limit is in force"


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


# --- work the count hook cannot see ------------------------------------------------------------

CATASTROPHIC_PATTERN = (
    'string.find(string.rep("a", 32), string.rep("a?", 32) .. string.rep("a", 32) .. "b")'
)

C_RUNAWAYS = {
    "catastrophic pattern": CATASTROPHIC_PATTERN,
    "pattern in gsub": 'string.gsub(string.rep("a", 28), string.rep("a?", 28) .. "b", "")',
    "pattern in gmatch": (
        'for _ in string.gmatch(string.rep("a", 28), string.rep("a?", 28) .. "b") do end'
    ),
    "quadratic plain find": (
        'string.find(string.rep("a", 4e6), string.rep("a", 2e6) .. "b", 1, true)'
    ),
    "table.move over a huge range": "table.move({}, 1, math.maxinteger - 1, 2)",
    "table.insert with a lying __len": (
        "local t = setmetatable({}, {__len = function() return 1e15 end,"
        " __index = rawlen, __newindex = rawequal})\n"
        "table.insert(t, 1, 5)"
    ),
    "table.sort with a lying __len": (
        "local t = setmetatable({}, {__len = function() return 2^31 - 2 end,"
        " __index = rawlen, __newindex = rawequal})\n"
        "table.sort(t)"
    ),
    "error swallowed by load's reader": "while true do load(function() while true do end end) end",
    "error swallowed by coroutine.close": (
        "while true do\n"
        "  local co = coroutine.create(function()\n"
        "    local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
        "    coroutine.yield()\n"
        "  end)\n"
        "  coroutine.resume(co)\n"
        "  coroutine.close(co)\n"
        "end"
    ),
    "result with a looping __tostring": (
        "return setmetatable({}, {__tostring = function() while true do end end})"
    ),
}


@pytest.mark.parametrize("code", C_RUNAWAYS.values(), ids=C_RUNAWAYS.keys())
def test_timeout_stops_work_the_count_hook_cannot_see(make_runtime: MakeRuntime, code: str) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.3)
    started = time.monotonic()
    err = error_of(rt, code)
    assert err.ename == "TimeoutError"
    assert time.monotonic() - started < STOPPED_WITHIN_S
    assert rt.execute("return 1").value == 1


@pytest.mark.parametrize(
    "code",
    [C_RUNAWAYS["catastrophic pattern"], C_RUNAWAYS["result with a looping __tostring"]],
    ids=["pattern", "__tostring"],
)
def test_interrupt_stops_work_the_count_hook_cannot_see(lua: ScriptRuntime, code: str) -> None:
    started = time.monotonic()
    with after(0.3, lua.interrupt):
        err = error_of(lua, code)
    assert err.ename == "KeyboardInterrupt"
    assert time.monotonic() - started < STOPPED_WITHIN_S


def test_string_rep_of_nothing_returns_at_once(lua: ScriptRuntime) -> None:
    assert lua.execute("return #string.rep('', math.maxinteger)").value == 0
    assert lua.execute("return #string.rep('', math.maxinteger, '')").value == 0
    assert lua.execute("return string.rep('ab', 3, ',')").value == "ab,ab,ab"


def test_a_large_string_rep_is_built_in_blocks_with_the_same_result(lua: ScriptRuntime) -> None:
    code = (
        "local big = string.rep('ab', 1e7, ',')\n"
        "return #big, big:sub(1, 8), big:sub(-5), big == string.rep('ab,', 1e7 - 1) .. 'ab'"
    )
    assert lua.execute(code).value == [3 * 10**7 - 1, "ab,ab,ab", "ab,ab", True]
    err = error_of(lua, "string.rep('x', math.maxinteger)")
    assert "resulting string too large" in err.evalue


def test_long_table_operations_still_give_the_c_results(lua: ScriptRuntime) -> None:
    code = (
        "local t = {} for i = 1, 100000 do t[i] = i end\n"
        "table.move(t, 1, 60000, 30001)\n"  # overlapping, moved backwards in pieces
        "local ok = t[30001] == 1 and t[90000] == 60000 and t[30000] == 30000\n"
        "table.insert(t, 1, 0)\n"
        "ok = ok and t[1] == 0 and t[2] == 1 and #t == 100001\n"
        "local removed = table.remove(t, 1)\n"
        "ok = ok and removed == 0 and t[1] == 1 and #t == 100000\n"
        "local r = {} for i = 1, 60000 do r[i] = (i * 7919) % 60000 end\n"
        "table.sort(r)\n"
        "for i = 2, #r do ok = ok and r[i - 1] <= r[i] end\n"
        "table.sort(r, function(a, b) return a > b end)\n"
        "return ok and r[1] == 59999"
    )
    assert lua.execute(code).value is True


def test_a_result_is_shown_from_its_own_fields_not_its_index_metamethod(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime(engines__lua__timeout_s=1)
    code = "return setmetatable({a = 1}, {__index = function() while true do end end})"
    assert rt.execute(code).bundle["text/plain"] == "{a = 1}"
    code = "return setmetatable({}, {__pairs = function() while true do end end, __len = error})"
    assert rt.execute(code).bundle["text/plain"] == "{}"


def test_completion_and_inspection_run_no_script_code(lua: ScriptRuntime) -> None:
    lua.execute(
        "spin = function() while true do end end\n"
        "t = setmetatable({alpha = 1}, {__pairs = spin, __index = spin, __tostring = spin})\n"
        "u = setmetatable({}, {__index = setmetatable({beta = 2}, {__index = spin})})"
    )
    assert lua.complete("t.").matches == ["t.alpha"]
    assert lua.complete("u.").matches == ["u.beta"]
    page = lua.inspect("t")
    assert page is not None and "alpha = 1" in page["text/plain"]
    assert lua.inspect("u.x") is None
    assert lua.inspect("u.beta") is not None
    assert lua.execute("?t").pages[0].startswith("type: table")


def test_a_stream_pulled_after_its_cell_ended_is_still_limited(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.3)
    stream = rt.execute("return Streaming.create(function() while true do end end)").value
    started = time.monotonic()
    with pytest.raises(ScriptStopping, match=r"time limit of 0\.3 s"):
        stream.next()
    assert time.monotonic() - started < STOPPED_WITHIN_S
    assert rt.execute("return 2").value == 2


def test_interrupt_stops_a_stream_pulled_outside_a_cell(lua: ScriptRuntime) -> None:
    stream = lua.execute("return Streaming.create(function() while true do end end)").value
    with after(0.3, lua.interrupt), pytest.raises(ScriptStopping, match="interrupted"):
        stream.next()


def test_an_error_object_with_a_looping_tostring_is_stopped(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(engines__lua__timeout_s=0.3)
    code = "error(setmetatable({}, {__tostring = function() while true do end end}))"
    assert error_of(rt, code).ename == "TimeoutError"


def test_a_huge_cell_can_be_interrupted_while_it_compiles(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cell reaches Lua's parser in 1 MB pieces and the parser asks the limits before each
    one. The interrupt comes from another thread while the parser reads the cell's third
    piece of 36 — when, not after how long, so this machine's speed does not matter — and
    no piece is read after it."""
    lua: ScriptRuntime | None = None
    reads: list[bool] = []  # per check while the whole cell compiles: interrupted yet?
    compiling = threading.Event()
    check, compile_chunk = LuaLimits.check, LuaEngine._compile_chunk

    def counting_check(self: LuaLimits) -> bool:
        if compiling.is_set():
            if len(reads) == 2:
                assert lua is not None
                sender = threading.Thread(target=lua.interrupt)
                sender.start()
                sender.join()
            reads.append(self.stopping)
        return check(self)

    def watched_compile(self: LuaEngine, source: bytes, chunk: bytes) -> Any:
        if not source.startswith(b"x = 1"):  # the attempt to compile it as an expression
            return compile_chunk(self, source, chunk)
        compiling.set()
        try:
            return compile_chunk(self, source, chunk)
        finally:
            compiling.clear()

    monkeypatch.setattr(LuaLimits, "check", counting_check)
    monkeypatch.setattr(LuaEngine, "_compile_chunk", watched_compile)
    lua = make_runtime()
    err = error_of(lua, "x = 1\n" * 6_000_000)
    assert err.ename == "KeyboardInterrupt"
    # the parser stopped at its next question (a few more checks on the way out, not the
    # 33 pieces left)
    assert reads[:3] == [False, False, True] and len(reads) < 10
    assert lua.execute("return x").value is None, "nothing of the cell ran"


# --- the Python engine (item 9) ----------------------------------------------------------------


def test_python_timeout_is_raised_again_when_the_script_catches_it(
    make_runtime: MakeRuntime,
) -> None:
    py = make_runtime("python", engines__python__timeout_s=0.3)
    for body in ("for i in range(1000):\n            pass", "sum(range(10**6))", "time.sleep(60)"):
        loop = f"while True:\n    try:\n        {body}\n    except BaseException:\n        pass"
        code = f"import time\n{loop}"
        started = time.monotonic()
        assert error_of(py, code).ename == "TimeoutError"
        assert time.monotonic() - started < STOPPED_WITHIN_S
    assert py.execute("1 + 1").value == 2


def test_python_timeout_interrupts_a_blocking_sleep(make_runtime: MakeRuntime) -> None:
    py = make_runtime("python", engines__python__timeout_s=0.3)
    started = time.monotonic()
    assert error_of(py, "import time\ntime.sleep(60)").ename == "TimeoutError"
    assert time.monotonic() - started < STOPPED_WITHIN_S


def test_python_interrupt_breaks_a_blocking_sleep(py: ScriptRuntime) -> None:
    started = time.monotonic()
    with after(0.3, py.interrupt):
        assert error_of(py, "import time\ntime.sleep(60)").ename == "KeyboardInterrupt"
    assert time.monotonic() - started < STOPPED_WITHIN_S
    assert py.execute("'still here'").value == "still here"
