"""Kernel behaviour beyond protocol conformance: interrupts, the memory limit, streaming,
stdin, auto-display, history across kernel sessions, a broken config."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

Messages = list[dict[str, Any]]
KernelPair = tuple[Any, Any]  # (KernelManager, BlockingKernelClient), see conftest.start_kernel
StartKernel = Callable[..., Any]


def collect(kc: Any, msg_id: str, timeout: float = 15) -> Messages:
    """IOPub messages of one request (without status/execute_input), up to its idle status."""
    out: Messages = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out
        if msg["msg_type"] not in ("status", "execute_input"):
            out.append(msg)


def reply_to(kc: Any, msg_id: str, timeout: float = 15) -> dict[str, Any]:
    """The shell reply to `msg_id` (skipping late kernel_info replies from start-up)."""
    while True:
        reply: dict[str, Any] = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply
        assert reply["msg_type"] == "kernel_info_reply"


def run(kc: Any, code: str, timeout: float = 15, **kwargs: Any) -> tuple[dict[str, Any], Messages]:
    """Execute `code`; return the reply content and the cell's output messages."""
    msg_id = kc.execute(code, **kwargs)
    reply = reply_to(kc, msg_id, timeout)
    return reply["content"], collect(kc, msg_id, timeout)


# A cell under an interrupt test prints this first: an interrupt sent before the kernel starts
# the cell is dropped (as between cells), so the test waits for it, however busy the machine.
RUNNING = 'print("running") '
# How long an interrupted cell may take to answer: its loop never ends by itself, so anything
# under this shows the interrupt reached it; wide, as a loaded machine may be slow to schedule.
INTERRUPT_REPLY_S = 30


def wait_until_running(kc: Any, msg_id: str, timeout: float = 30) -> None:
    """Wait for the cell's first output, `running` (see RUNNING)."""
    deadline = time.monotonic() + timeout
    printed = ""  # the Python engine may send the text and the newline apart
    while not printed.endswith("\n"):
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            printed += msg["content"]["text"]
    assert printed == "running\n"


def result_text(outputs: Messages) -> list[str]:
    return [
        m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"
    ]


@pytest.fixture(scope="module")
def lua(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelPair]:
    """One Lua kernel for this module, with a small memory limit."""
    home = tmp_path_factory.mktemp("lua-kernel")
    extra = {"LLMSPELL_ENGINES__LUA__MAX_MEMORY_MB": "64"}
    with start_kernel(home, "llmspell", extra_env=extra) as pair:
        reply, _ = run(pair[1], "keep = 42")
        assert reply["status"] == "ok"
        yield pair


@pytest.mark.parametrize(
    "code", ["while true do end", "pcall(function() while true do end end)"], ids=["loop", "pcall"]
)
def test_runaway_loop_is_interrupted_and_globals_survive(lua: KernelPair, code: str) -> None:
    km, kc = lua
    msg_id = kc.execute(RUNNING + code)
    wait_until_running(kc, msg_id)
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    outputs = collect(kc, msg_id)
    assert [m["msg_type"] for m in outputs] == ["error"]
    assert result_text(run(kc, "keep")[1]) == ["42"]


def test_interrupt_request_on_the_control_channel_interrupts(lua: KernelPair) -> None:
    _, kc = lua
    msg_id = kc.execute(RUNNING + "while true do end")
    wait_until_running(kc, msg_id)
    kc.control_channel.send(kc.session.msg("interrupt_request", {}))
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert kc.get_control_msg(timeout=INTERRUPT_REPLY_S)["msg_type"] == "interrupt_reply"
    collect(kc, msg_id)
    assert result_text(run(kc, "keep")[1]) == ["42"]


def test_interrupt_between_cells_is_harmless(lua: KernelPair) -> None:
    km, kc = lua
    km.interrupt_kernel()
    time.sleep(0.2)
    reply, outputs = run(kc, "keep + 1")
    assert reply["status"] == "ok"
    assert result_text(outputs) == ["43"]


def test_exceeding_the_memory_limit_fails_the_cell_not_the_kernel(lua: KernelPair) -> None:
    km, kc = lua
    code = 't = {} for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end'
    reply, outputs = run(kc, code, timeout=60)
    assert reply["status"] == "error"
    assert reply["ename"] == "MemoryError"
    assert [m["msg_type"] for m in outputs] == ["error"]
    assert km.is_alive()
    assert run(kc, "t = nil collectgarbage()")[0]["status"] == "ok"
    assert result_text(run(kc, "keep")[1]) == ["42"]


def test_print_streams_before_the_cell_finishes(lua: KernelPair) -> None:
    _, kc = lua
    code = 'print("first") local t0 = os.clock() while os.clock() - t0 < 1 do end print("second")'
    msg_id = kc.execute(code)
    first = kc.get_iopub_msg(timeout=10)
    while first["msg_type"] != "stream":
        first = kc.get_iopub_msg(timeout=10)
    assert first["content"] == {"name": "stdout", "text": "first\n"}
    reply = reply_to(kc, msg_id, timeout=10)
    assert reply["content"]["status"] == "ok"
    # the kernel's own send times: "first" left a CPU second (on a busy machine, more) before
    # the reply, however late this process got to read either
    assert (reply["header"]["date"] - first["header"]["date"]).total_seconds() > 0.5
    rest = collect(kc, msg_id)
    assert [m["content"]["text"] for m in rest if m["msg_type"] == "stream"] == ["second\n"]


def test_io_read_asks_the_frontend_when_stdin_is_allowed(lua: KernelPair) -> None:
    _, kc = lua
    msg_id = kc.execute('answer = io.read("l")', allow_stdin=True)
    request = kc.get_stdin_msg(timeout=10)
    assert request["msg_type"] == "input_request"
    assert request["content"]["password"] is False
    kc.input("Ada")
    assert reply_to(kc, msg_id, timeout=10)["content"]["status"] == "ok"
    collect(kc, msg_id)
    assert result_text(run(kc, "answer")[1]) == ['"Ada"']


def test_io_read_without_stdin_is_a_clear_error(lua: KernelPair) -> None:
    _, kc = lua
    reply, outputs = run(kc, "io.read()", allow_stdin=False)
    assert reply["status"] == "error"
    assert "allow_stdin" in reply["evalue"]
    assert [m["msg_type"] for m in outputs] == ["error"]


def test_interrupt_while_waiting_for_input(lua: KernelPair) -> None:
    km, kc = lua
    msg_id = kc.execute("io.read()", allow_stdin=True)
    kc.get_stdin_msg(timeout=10)  # the cell runs: it waits for the input
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    collect(kc, msg_id)
    assert result_text(run(kc, "keep")[1]) == ["42"]


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("1 + 1", ["2"]),
        ("1 + 1;", []),
        ("x = 1", []),
        ("nil", []),
        ("local a = 20\na + 2", ["22"]),
    ],
)
def test_last_expression_is_displayed_unless_suppressed(
    lua: KernelPair, code: str, shown: list[str]
) -> None:
    reply, outputs = run(lua[1], code)
    assert reply["status"] == "ok"
    assert result_text(outputs) == shown


def test_display_json_sends_json_text_with_the_data_in_metadata(lua: KernelPair) -> None:
    reply, outputs = run(lua[1], "Display.json{a = {1, 2}}")
    assert reply["status"] == "ok"
    (shown,) = outputs
    assert shown["msg_type"] == "display_data"
    assert shown["content"]["data"] == {"text/plain": '{\n  "a": [\n    1,\n    2\n  ]\n}'}
    assert shown["content"]["metadata"] == {"llmspell": {"json": {"a": [1, 2]}}}


def test_errors_name_the_cell_and_line(lua: KernelPair) -> None:
    _, kc = lua
    msg_id = kc.execute("local x = nil\nx.y = 1")
    reply = reply_to(kc, msg_id, timeout=10)["content"]
    count = reply["execution_count"]
    assert reply["ename"] == "LuaError"
    assert reply["evalue"].startswith(f"[cell {count}]:2:")
    (error,) = collect(kc, msg_id)
    assert error["msg_type"] == "error"
    assert error["content"]["evalue"] == reply["evalue"]


def test_silent_execution_publishes_nothing_and_is_not_counted(lua: KernelPair) -> None:
    _, kc = lua
    before = run(kc, "1")[0]["execution_count"]
    reply, outputs = run(kc, 'print("quiet") quiet = 1', silent=True)
    assert reply["status"] == "ok"
    assert outputs == []
    assert run(kc, "quiet")[0]["execution_count"] == before + 1


def test_history_keeps_stored_cells_with_their_output(lua: KernelPair) -> None:
    _, kc = lua
    run(kc, "20 + 22")
    run(kc, "hidden = 1", store_history=False)
    reply = kc.history(hist_access_type="tail", n=1, output=True, raw=True, reply=True)
    ((_, _, (source, output)),) = reply["content"]["history"]
    assert (source, output) == ("20 + 22", "42")


def test_kernel_info_names_llmspell_and_its_runtime(lua: KernelPair) -> None:
    _, kc = lua
    info = kc.kernel_info(reply=True)["content"]
    assert info["implementation"] == "llmspell"
    assert info["language_info"]["name"] == "lua"
    assert "lua" in info["banner"].lower()
    assert "kernel subshells" not in info["supported_features"]


def test_history_persists_across_kernel_sessions(start_kernel: StartKernel, tmp_path: Path) -> None:
    with start_kernel(tmp_path, "llmspell") as (_, kc):
        run(kc, "marker = 1")
        first_session = kc.history(hist_access_type="tail", n=1, reply=True)["content"]
    ((session, line, source),) = first_session["history"]
    assert source == "marker = 1"
    with start_kernel(tmp_path, "llmspell") as (_, kc):
        run(kc, "marker2 = 2")
        tail = kc.history(hist_access_type="tail", n=2, output=False, raw=True, reply=True)
        previous = kc.history(hist_access_type="range", session=-1, start=1, reply=True)
        found = kc.history(hist_access_type="search", pattern="marker*", reply=True)
    entries = tail["content"]["history"]
    assert [e[2] for e in entries] == ["marker = 1", "marker2 = 2"]
    assert entries[0][:2] == [session, line]
    assert entries[1][0] > session
    assert previous["content"]["history"] == [[session, line, "marker = 1"]]
    assert [e[2] for e in found["content"]["history"]] == ["marker = 1", "marker2 = 2"]


def test_a_broken_config_is_reported_by_every_cell(
    start_kernel: StartKernel, tmp_path: Path
) -> None:
    extra = {"LLMSPELL_STORAGE__BACKEND": "floppy"}
    with start_kernel(tmp_path, "llmspell", extra_env=extra) as (_, kc):
        for _ in range(2):
            reply, outputs = run(kc, "1 + 1")
            assert reply["status"] == "error"
            assert reply["ename"] == "ConfigError"
            assert "storage.backend" in reply["evalue"]
            assert [m["msg_type"] for m in outputs] == ["error"]


@pytest.fixture(scope="module")
def py(start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelPair]:
    """One Python-engine kernel for this module."""
    with start_kernel(tmp_path_factory.mktemp("py-kernel"), "llmspell-python") as pair:
        assert run(pair[1], "keep = 42")[0]["status"] == "ok"
        yield pair


def test_python_engine_runaway_loop_is_interrupted(py: KernelPair) -> None:
    km, kc = py
    msg_id = kc.execute(RUNNING.strip() + "\nwhile True:\n    pass")
    wait_until_running(kc, msg_id)
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert [m["msg_type"] for m in collect(kc, msg_id)] == ["error"]
    assert result_text(run(kc, "keep")[1]) == ["42"]


def test_python_engine_prints_as_it_runs_and_reads_stdin(py: KernelPair) -> None:
    _, kc = py
    code = 'print("first")\nname = input("who? ")\nprint("hi", name)'
    msg_id = kc.execute(code, allow_stdin=True)
    streamed = ""
    while not streamed.endswith("\n"):
        msg = kc.get_iopub_msg(timeout=10)
        if msg["msg_type"] == "stream":
            streamed += msg["content"]["text"]
    assert streamed == "first\n"
    request = kc.get_stdin_msg(timeout=10)
    assert request["content"]["prompt"] == "who? "
    kc.input("Ada")
    assert reply_to(kc, msg_id)["content"]["status"] == "ok"
    texts = [m["content"]["text"] for m in collect(kc, msg_id) if m["msg_type"] == "stream"]
    assert "".join(texts) == "hi Ada\n"


@pytest.mark.parametrize("code", ["import sys\nsys.exit(1)", "raise SystemExit('stop')"])
def test_python_engine_sys_exit_fails_the_cell_and_the_kernel_lives_on(
    py: KernelPair, code: str
) -> None:
    km, kc = py
    reply, outputs = run(kc, code)
    assert (reply["status"], reply["ename"]) == ("error", "SystemExit")
    assert [m["msg_type"] for m in outputs] == ["error"]
    assert km.is_alive()
    assert result_text(run(kc, "keep")[1]) == ["42"]


def test_python_engine_input_without_stdin_names_input_not_a_lua_function(py: KernelPair) -> None:
    _, kc = py
    reply, _ = run(kc, "input()", allow_stdin=False)
    assert (reply["status"], reply["ename"]) == ("error", "EOFError")
    assert reply["evalue"].startswith("input: this frontend does not accept input")
    assert "io.read" not in str(reply)


# --- help, tracebacks, magics and rich output as a newcomer meets them ------------------------


@pytest.mark.parametrize("code", ["help(State.load)", "?State.load"])
def test_help_is_also_output_for_a_client_without_a_pager(lua: KernelPair, code: str) -> None:
    _, kc = lua
    reply, outputs = run(kc, code, allow_stdin=False)  # as nbclient / nbconvert send it
    (page,) = reply["payload"]
    assert page["source"] == "page"
    shown = [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]
    assert shown == [page["data"]]
    assert shown[0]["text/plain"].startswith("State.load(scope, key)\n")


def test_help_is_only_a_pager_payload_for_an_interactive_client(lua: KernelPair) -> None:
    _, kc = lua
    reply, outputs = run(kc, "help(State.load)", allow_stdin=True)
    assert reply["payload"][0]["data"]["text/plain"].startswith("State.load(scope, key)")
    assert outputs == []


def test_tracebacks_are_coloured_and_evalue_is_plain(lua: KernelPair) -> None:
    _, kc = lua
    msg_id = kc.execute("local t = nil\nprint(t.x)")
    reply = reply_to(kc, msg_id)["content"]
    count = reply["execution_count"]
    assert reply["evalue"] == f"[cell {count}]:2: attempt to index a nil value (local 't')"
    assert reply["traceback"][0] == (
        f"\x1b[0;31mLuaError\x1b[0m: \x1b[0;32m[cell {count}]:2:\x1b[0m attempt to index a nil "
        "value (local 't')"
    )
    (error,) = collect(kc, msg_id)
    assert error["content"]["traceback"] == reply["traceback"]


def test_an_interrupted_cell_says_where_it_stopped(lua: KernelPair) -> None:
    km, kc = lua
    msg_id = kc.execute(RUNNING + "local n = 0\nwhile true do\n  n = n + 1\nend")
    wait_until_running(kc, msg_id)
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)["content"]
    count = reply["execution_count"]
    assert reply["evalue"] == f"execution interrupted at [cell {count}]:3"
    collect(kc, msg_id)


def test_magics_run_in_the_kernel(lua: KernelPair) -> None:
    _, kc = lua
    reply, outputs = run(kc, "newcomer_value = 7\n%who number")
    assert reply["status"] == "ok"
    texts = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
    assert "newcomer_value" in texts.split()


def test_shell_escape_is_refused_by_the_sandboxed_kernel(lua: KernelPair) -> None:
    reply, _ = run(lua[1], "!echo hi")
    assert (reply["status"], reply["ename"]) == ("error", "PermissionError")


def test_python_engine_shows_repr_html_as_html(py: KernelPair) -> None:
    _, kc = py
    code = "class Card:\n    def _repr_html_(self):\n        return '<b>card</b>'\nCard()"
    reply, outputs = run(kc, code)
    assert reply["status"] == "ok"
    (result,) = [m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result"]
    assert result["text/html"] == "<b>card</b>"
    assert result["text/plain"].startswith("<__llmspell__.Card object")


def test_python_engine_completes_module_names_after_import(py: KernelPair) -> None:
    _, kc = py
    msg_id = kc.complete("import jso", 10)
    reply = reply_to(kc, msg_id)["content"]
    assert "json" in reply["matches"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (7, 10)


def test_python_tracebacks_are_coloured_the_same_way() -> None:
    from llmspell.kernel.errors import coloured_traceback
    from llmspell.runtime import ScriptError

    lines = [
        "Traceback (most recent call last):",
        '  File "[cell 2]", line 3, in <module>',
        "ZeroDivisionError: division by zero",
    ]
    assert coloured_traceback(ScriptError("ZeroDivisionError", "division by zero", lines)) == [
        "Traceback (most recent call last):",
        '  \x1b[0;32mFile "[cell 2]", line 3\x1b[0m, in <module>',
        "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
    ]


def test_load_replaces_the_cell_with_the_file_through_a_payload(
    start_kernel: StartKernel, tmp_path: Path
) -> None:
    (tmp_path / "loaded.lua").write_text("print('from the file')\n", encoding="utf-8")
    with start_kernel(tmp_path) as (_, kc):  # the kernel's working dir: the sandbox reads it
        reply, outputs = run(kc, "%run loaded.lua\n%load loaded.lua")
    assert reply["status"] == "ok", reply
    assert "from the file\n" in [m["content"].get("text") for m in outputs]
    (next_input,) = [p for p in reply["payload"] if p["source"] == "set_next_input"]
    assert next_input == {
        "source": "set_next_input",
        "text": "-- %load loaded.lua\nprint('from the file')\n",
        "replace": True,
    }
