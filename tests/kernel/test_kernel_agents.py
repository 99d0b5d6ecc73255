"""Agents in the kernel: a streamed reply reaches the notebook piece by piece (stream messages
as they arrive, not one block at the end), an interrupt cancels a model call at once and leaves
the kernel usable, and a result's display shows its token usage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.llm_servers import FakeLLMServer, Hang
from test_kernel_behaviour import KernelPair, StartKernel, collect, reply_to, run

pytestmark = pytest.mark.slow

CONFIG = """
[providers.slow]
type = "mock"
delay_ms = 1600

[providers.stuck]
type = "mock"
delay_ms = 600000
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def kernel(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory, server: FakeLLMServer
) -> Iterator[KernelPair]:
    home = tmp_path_factory.mktemp("agent-kernel")
    (home / "llmspell.toml").write_text(
        CONFIG
        + f'[providers.remote]\ntype = "openai"\nbase_url = "{server.openai_url}"\n'
        + 'api_key_env = "KERNEL_TEST_KEY"\nmax_retries = 0\n'
    )
    with start_kernel(home, "llmspell", extra_env={"KERNEL_TEST_KEY": "sk-kernel"}) as pair:
        reply, _ = run(
            pair[1], 'keep = 42; slow = Agent.builder():name("slow"):model("slow"):build()'
        )
        assert reply["status"] == "ok", reply
        yield pair


def timed_outputs(kc: Any, msg_id: str, timeout: float = 30) -> list[tuple[float, dict[str, Any]]]:
    """(arrival time, message) of a request's IOPub output, up to its idle status."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out
        if msg["msg_type"] not in ("status", "execute_input"):
            out.append((time.monotonic(), msg))


def test_a_streamed_reply_arrives_piece_by_piece_as_stream_messages(kernel: KernelPair) -> None:
    _, kc = kernel
    words = "one two three four five six seven eight"
    msg_id = kc.execute(f'slow:invokeStream("{words}");')
    outputs = timed_outputs(kc, msg_id)
    assert reply_to(kc, msg_id)["content"]["status"] == "ok"
    streams = [(t, m["content"]["text"]) for t, m in outputs if m["msg_type"] == "stream"]
    assert "".join(text for _, text in streams) == f"You said: {words}\n"
    assert len(streams) >= 9  # one message per piece, not one block at the end
    # the pieces were spread over the reply's 1.6 s, not sent together at its end
    assert streams[-1][0] - streams[0][0] > 0.5


def test_a_callback_sees_each_piece_before_the_next_arrives(kernel: KernelPair) -> None:
    _, kc = kernel
    reply, outputs = run(
        kc,
        'local n = 0; slow:invokeStream("a b c d", function(p) n = n + 1; print(n, p) end)',
        timeout=30,
    )
    assert reply["status"] == "ok"
    printed = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
    assert printed == "1\tYou \n2\tsaid: \n3\ta \n4\tb \n5\tc \n6\td\n"


def test_interrupting_a_model_call_returns_control_at_once_and_the_kernel_goes_on(
    kernel: KernelPair,
) -> None:
    km, kc = kernel
    # the baseline: how long an interrupt of a plain Lua loop takes on this machine right now
    baseline_id = kc.execute("while true do end")
    time.sleep(0.3)
    started = time.monotonic()
    km.interrupt_kernel()
    reply_to(kc, baseline_id, timeout=10)
    baseline = time.monotonic() - started
    collect(kc, baseline_id)

    msg_id = kc.execute(
        'Agent.builder():name("stuck"):model("stuck"):build():invokeStream("hello?")'
    )
    time.sleep(0.5)
    started = time.monotonic()
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=10)
    elapsed = time.monotonic() - started
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 1.0 + baseline, f"{elapsed:.2f} s (a plain loop took {baseline:.2f} s)"
    collect(kc, msg_id)
    after, outputs = run(kc, "keep")
    assert after["status"] == "ok"
    assert [
        m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"
    ] == ["42"]


def test_interrupting_a_streamed_http_call_closes_the_connection(
    kernel: KernelPair, server: FakeLLMServer
) -> None:
    km, kc = kernel
    server.script(Hang(after_text="Let me think"))
    msg_id = kc.execute(
        'Agent.builder():name("remote"):model("remote/fake-small"):build():invokeStream("hi")'
    )
    first = kc.get_iopub_msg(timeout=30)
    while first["msg_type"] != "stream":  # the reply has started: the request is in flight
        first = kc.get_iopub_msg(timeout=30)
    assert first["content"]["text"].startswith("Let")
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id, timeout=10)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert server.wait_for_disconnect(timeout_s=10)  # the HTTP request was cancelled, not left
    collect(kc, msg_id)
    assert run(kc, "return keep + 1")[0]["status"] == "ok"
    assert server.chat_requests[-1].headers["authorization"] == "Bearer sk-kernel"


def test_a_result_is_displayed_with_its_token_usage(kernel: KernelPair) -> None:
    _, kc = kernel
    reply, outputs = run(kc, 'Agent.builder():name("fast"):model("mock"):build():execute("hi")')
    assert reply["status"] == "ok"
    (result,) = [m for m in outputs if m["msg_type"] == "execute_result"]
    html = result["content"]["data"]["text/html"]
    assert "You said: hi" in html and "prompt +" in html and "completion tokens" in html
    assert "mock/mock-1" in html
