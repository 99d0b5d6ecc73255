"""The installed `llmspell` command in real processes: persistence between runs, stream
handling, and what only a fresh process can show (-v logging, broken pipes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import LLMSPELL, RunCli

pytestmark = pytest.mark.slow


def test_what_one_run_writes_with_the_sqlite_default_the_next_run_reads(
    llmspell: RunCli, isolated_env: Path, tmp_path: Path
) -> None:
    data_home = tmp_path / "fresh-data"
    env = {"XDG_DATA_HOME": str(data_home)}
    (isolated_env / "write.lua").write_text(
        "State.save('global', 'greeting', {text = ARGS[1], n = 1})\n"
        "State.save('global', 'greeting', {text = ARGS[1], n = 2})\n"
        "print(Config.get('storage.backend'))\n"
    )
    (isolated_env / "read.lua").write_text(
        "local g = State.load('global', 'greeting')\n"
        "print(g.text, g.n, #State.history('global', 'greeting'))\n"
    )

    wrote = llmspell("run", "write.lua", "hello", env=env)
    assert (wrote.code, wrote.out, wrote.err) == (0, "sqlite\n", "")
    read = llmspell("run", "read.lua", env=env)
    assert (read.code, read.out, read.err) == (0, "hello\t2\t2\n", "")
    assert (data_home / "llmspell" / "llmspell.db").is_file()


def test_script_error_in_a_process_exits_1_without_a_python_traceback(
    llmspell: RunCli, isolated_env: Path
) -> None:
    (isolated_env / "bad.lua").write_text("local t = nil\nprint(t.x)\n")
    outcome = llmspell("--profile", "memory", "run", "bad.lua")
    assert outcome.code == 1
    assert outcome.err.splitlines()[0] == (
        "LuaError: bad.lua:2: attempt to index a nil value (local 't')"
    )
    assert "Traceback" not in outcome.err


def test_a_non_utf8_argument_is_a_byte_string_in_lua_not_a_traceback(
    isolated_env: Path,
) -> None:
    (isolated_env / "bytes.lua").write_text("print(#ARGS[1], ARGS[1]:byte(1, -1))\n")
    proc = subprocess.run(
        [os.fsencode(LLMSPELL), b"--profile", b"memory", b"run", b"bytes.lua", b"\xff\xfe"],
        capture_output=True,
        cwd=isolated_env,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"2\t255\t254\n", b"")


def test_debug_output_appears_once(llmspell: RunCli) -> None:
    outcome = llmspell("--profile", "memory", "exec", "Debug.warn('careful')")
    assert outcome.err == "[WARN] careful\n"


def test_python_engine_output_reaches_the_terminal(llmspell: RunCli, isolated_env: Path) -> None:
    (isolated_env / "job.py").write_text("print('out', ARGS[1])\nDebug.error('bad')\n")
    outcome = llmspell("--profile", "memory", "run", "job.py", "x")
    assert (outcome.code, outcome.out, outcome.err) == (0, "out x\n", "[ERROR] bad\n")


def test_verbose_shows_python_details_of_a_start_up_failure(llmspell: RunCli) -> None:
    env = {"LLMSPELL_STORAGE__PATH": "/proc/no/such/dir/llmspell.db"}
    quiet = llmspell("exec", "1", env=env)
    assert quiet.code == 1
    assert quiet.err.startswith("llmspell exec: cannot start the runtime: ")
    assert "Traceback" not in quiet.err
    verbose = llmspell("-v", "exec", "1", env=env)
    assert verbose.code == 1
    assert "DEBUG llmspell: start-up failed" in verbose.err
    assert "Traceback (most recent call last)" in verbose.err


def test_a_closed_pipe_ends_config_show_quietly(isolated_env: Path) -> None:
    proc = subprocess.Popen(
        [str(LLMSPELL), "config", "show"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
        cwd=isolated_env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command has started writing
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err


def test_ctrl_c_ends_a_run_with_exit_status_130(isolated_env: Path) -> None:
    (isolated_env / "spin.lua").write_text("print('started')\nwhile true do end\n")
    proc = subprocess.Popen(
        [str(LLMSPELL), "--profile", "memory", "run", "spin.lua"],
        cwd=isolated_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "KeyboardInterrupt" in err


def test_the_python_engine_refuses_to_start_when_it_is_turned_off(llmspell: RunCli) -> None:
    env = {"LLMSPELL_ENGINES__PYTHON__ENABLED": "false"}
    out = llmspell("--profile", "memory", "exec", "--engine", "python", "1 + 1", env=env)
    assert out.code == 1
    assert "the Python engine is disabled (engines.python.enabled = false)" in out.err
    assert llmspell("--profile", "memory", "exec", "1 + 1", env=env).out == "2\n"


def test_a_result_whose_display_never_ends_is_stopped_by_the_timeout(llmspell: RunCli) -> None:
    code = "return setmetatable({}, {__tostring = function() while true do end end})"
    started = time.monotonic()
    out = llmspell(
        "--profile", "memory", "exec", code, env={"LLMSPELL_ENGINES__LUA__TIMEOUT_S": "1"}
    )
    assert out.code == 1
    assert "TimeoutError: execution exceeded the time limit of 1 s" in out.err
    assert time.monotonic() - started < 15


def test_run_prints_a_streamed_reply_as_it_arrives(isolated_env: Path) -> None:
    (isolated_env / "llmspell.toml").write_text(
        '[providers.slow]\ntype = "mock"\ndelay_ms = 2000\n'
    )
    (isolated_env / "stream.lua").write_text(
        'Agent.builder():name("s"):model("slow"):build()'
        ':invokeStream("one two three four five six")\n'
    )
    proc = subprocess.Popen(
        [LLMSPELL, "--profile", "memory", "run", "stream.lua"],
        cwd=isolated_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    arrivals: list[bytes] = []
    while chunk := os.read(proc.stdout.fileno(), 4096):
        arrivals.append(chunk)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert b"".join(arrivals) == b"You said: one two three four five six\n"
    # written piece by piece over the reply's 2 s, not in one block at the end: the reads get
    # it in parts (a busy machine may let several pieces pile up between two reads)
    assert len(arrivals) >= 2


def test_a_script_that_never_uses_storage_does_not_load_sqlalchemy_or_the_agents(
    isolated_env: Path,
) -> None:
    """Cold start (benchmarks/startup_bench.py): `exec 'print(1)'` on the default SQLite only
    checks the file; SQLAlchemy, the providers and asyncio load when a script needs them."""
    probe = (
        "import sys\n"
        "from llmspell.cli import main\n"
        "code = main(['exec', sys.argv[1]])\n"
        "print(code, sorted(m for m in ('sqlalchemy', 'llmspell.runtime.providers', 'asyncio')"
        " if m in sys.modules))\n"
    )
    run = [sys.executable, "-c", probe]
    quiet = subprocess.run([*run, "print(1)"], capture_output=True, text=True, timeout=60)
    assert quiet.stdout == "1\n0 []\n", quiet.stderr
    assert (isolated_env.parent / "xdg").exists()
    used = subprocess.run(
        [*run, 'State.save("global", "k", 1) print(State.load("global", "k"))'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert used.stdout.startswith("1\n0 [") and "'sqlalchemy'" in used.stdout, used.stderr
