"""Kernel start-up: kernel_info is answered before the runtime is built, and requests that need
the runtime wait for it (interruptibly), or report why it could not be built."""

from __future__ import annotations

import queue
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

StartKernel = Callable[..., Any]  # see conftest.start_kernel

# Installed into the kernel process (PYTHONPATH): ScriptRuntime construction waits until the
# test creates the gate file, so the test decides when the runtime exists.
GATED_RUNTIME = textwrap.dedent(
    """
    import os
    import time

    from llmspell.runtime import script_runtime

    _build = script_runtime.ScriptRuntime.__init__

    def _gated(self, *args, **kwargs):
        while not os.path.exists(os.environ["RUNTIME_GATE_FILE"]):
            time.sleep(0.02)
        _build(self, *args, **kwargs)

    script_runtime.ScriptRuntime.__init__ = _gated
    """
)


def gated_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of a kernel whose runtime is built only once the returned file exists."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GATED_RUNTIME)
    gate = tmp_path / "gate"
    return {"PYTHONPATH": str(site), "RUNTIME_GATE_FILE": str(gate)}, gate


def reply_to(kc: Any, msg_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def result_text(kc: Any, msg_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_result":
            return str(msg["content"]["data"]["text/plain"])


def test_kernel_info_is_answered_before_the_runtime_is_built(
    start_kernel: StartKernel, tmp_path: Path
) -> None:
    env, gate = gated_env(tmp_path)
    # start_kernel waits for a kernel_info_reply: with the gate shut, the runtime is not built
    with start_kernel(tmp_path / "home", "llmspell", extra_env=env) as (_, kc):
        info = kc.kernel_info(reply=True, timeout=60)["content"]
        assert info["status"] == "ok"
        assert info["language_info"]["name"] == "lua"
        assert "Lua 5.4 engine, starting" in info["banner"]
        msg_id = kc.execute("6 * 7")  # waits for the runtime
        gate.touch()
        assert reply_to(kc, msg_id)["content"]["status"] == "ok"
        assert result_text(kc, msg_id) == "42"
        # once built, the banner names storage and tenant
        assert "tenant: default" in kc.kernel_info(reply=True, timeout=60)["content"]["banner"]


def test_an_interrupt_ends_a_cell_waiting_for_the_runtime(
    start_kernel: StartKernel, tmp_path: Path
) -> None:
    env, gate = gated_env(tmp_path)
    with start_kernel(tmp_path / "home", "llmspell", extra_env=env) as (km, kc):
        # stop_on_error=False: the error reply must not abort the next request
        msg_id = kc.execute("x = 1", stop_on_error=False)
        # An interrupt sent before the cell starts waiting is dropped (the kernel ignores
        # SIGINT between requests), so interrupt until the cell answers.
        reply = None
        deadline = time.monotonic() + 60
        while reply is None and time.monotonic() < deadline:
            km.interrupt_kernel()
            try:
                reply = reply_to(kc, msg_id, timeout=1)
            except queue.Empty:  # not answered yet
                continue
        assert reply is not None, "the waiting cell did not end on interrupt"
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert "while the llmspell runtime was starting" in reply["content"]["evalue"]
        gate.touch()
        msg_id = kc.execute("x = 2; return x * 21")
        assert reply_to(kc, msg_id)["content"]["status"] == "ok"
        assert result_text(kc, msg_id) == "42"


def test_a_config_error_is_the_first_cells_error(start_kernel: StartKernel, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[storage]\nbackend = "floppy"\n')
    with start_kernel(
        tmp_path / "home", "llmspell", extra_env={"LLMSPELL_CONFIG": str(config)}
    ) as (
        km,
        kc,
    ):
        reply = reply_to(kc, kc.execute("1 + 1", stop_on_error=False))["content"]
        assert reply["status"] == "error"
        assert reply["ename"] == "ConfigError"
        assert "the llmspell runtime could not start" in reply["evalue"]
        assert "floppy" in reply["evalue"]
        assert km.is_alive()
        # every cell says it, and the kernel keeps answering
        second = kc.execute("2 + 2", stop_on_error=False)
        assert reply_to(kc, second)["content"]["ename"] == "ConfigError"
        assert kc.kernel_info(reply=True, timeout=60)["content"]["status"] == "ok"
