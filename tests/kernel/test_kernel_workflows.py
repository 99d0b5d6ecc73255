"""Workflows in a real kernel: Ctrl-C (SIGINT) stops a running workflow inside a Lua step and
between Python-side steps, the run is recorded as failed, the kernel lives on; a workflow
result displays as an HTML step table with an SVG timeline."""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from test_kernel_behaviour import (
    INTERRUPT_REPLY_S,
    KernelPair,
    StartKernel,
    collect,
    reply_to,
    result_text,
    run,
    wait_until_running,
)

pytestmark = pytest.mark.slow


class _Slow(BaseHTTPRequestHandler):
    requests = threading.Semaphore(0)  # released once per request received

    def do_GET(self) -> None:
        _Slow.requests.release()
        time.sleep(0.2)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def slow_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def kernel(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelPair]:
    home = tmp_path_factory.mktemp("workflow-kernel")
    with start_kernel(
        home, "llmspell", extra_env={"LLMSPELL_TOOLS__NETWORK_ALLOWED": "true"}
    ) as pair:
        yield pair


def interrupted(kernel: KernelPair, code: str) -> None:
    """Run `code`, which prints `running` when it reaches what the test interrupts; send SIGINT
    then (however busy the machine, never before the cell runs) and expect the error reply."""
    km, kc = kernel
    msg_id = kc.execute(code)
    wait_until_running(kc, msg_id)
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert [m["msg_type"] for m in collect(kc, msg_id)] == ["error"]


def last_run(kernel: KernelPair, name: str) -> str:
    _, outputs = run(
        kernel[1],
        f'local r = Workflow.executions{{name = "{name}"}}[1] return r.status .. "/" .. r.error',
    )
    return result_text(outputs)[0]


def test_ctrl_c_inside_a_lua_step_stops_the_workflow_and_records_it(kernel: KernelPair) -> None:
    code = """Workflow.sequential{name = "spin", steps = {
        {name = "ok", fn = function() return 1 end},
        {name = "loop", fn = function() print("running") while true do end end}}}:execute()"""
    interrupted(kernel, code)
    assert last_run(kernel, "spin") == '"failed/interrupted"'
    reply, outputs = run(kernel[1], "1 + 1")
    assert reply["status"] == "ok" and result_text(outputs) == ["2"]


def test_ctrl_c_between_python_side_steps_stops_before_the_next(
    kernel: KernelPair, slow_server: str
) -> None:
    km, kc = kernel
    code = f"""local steps = {{}}
      for i = 1, 20 do steps[i] = {{name = "get" .. i, tool = "http-request", input = {{input = "{slow_server}"}}}} end
      Workflow.sequential{{name = "fetches", steps = steps}}:execute()"""
    while _Slow.requests.acquire(blocking=False):  # requests of earlier tests do not count
        pass
    msg_id = kc.execute(code)
    # interrupt once the third step has started (two are done), however slow the machine is
    for _ in range(3):
        assert _Slow.requests.acquire(timeout=30), "the workflow's steps did not run"
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=30)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    # a run slower than a second also shows its progress display (updated in place)
    shown = [
        m["msg_type"]
        for m in collect(kc, msg_id)
        if m["msg_type"] not in ("display_data", "update_display_data")
        or not m["content"]["transient"]["display_id"].startswith("workflow-")
    ]
    assert shown == ["error"]
    assert last_run(kernel, "fetches") == '"failed/interrupted"'
    _, outputs = run(
        kernel[1],
        'local id = Workflow.executions{name = "fetches"}[1].execution_id return #State.workflow_list(id)',
    )
    done = int(result_text(outputs)[0])
    assert 2 <= done < 20, "it ran some steps, then stopped between two of them"


def test_a_workflow_result_displays_a_step_table_and_timeline(kernel: KernelPair) -> None:
    reply, outputs = run(
        kernel[1],
        'Workflow.parallel{name = "shown", steps = {{name = "a", tool = "calculator", input = {input = "1+1"}},'
        ' {name = "b", fn = function() return "x" end}}}:execute()',
    )
    assert reply["status"] == "ok"
    [result] = [m for m in outputs if m["msg_type"] == "execute_result"]
    html = result["content"]["data"]["text/html"]
    assert "<svg" in html and "<td>a</td>" in html and "<td>b</td>" in html
