"""Agents in the kernel: a streamed reply reaches the notebook piece by piece (stream messages
as they arrive, not one block at the end), an interrupt cancels a model call at once and leaves
the kernel usable, and a result's display shows its token usage."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fakes.llm_servers import FakeLLMServer, Hang
from test_kernel_behaviour import (
    INTERRUPT_REPLY_S,
    RUNNING,
    KernelPair,
    StartKernel,
    collect,
    reply_to,
    run,
    wait_until_running,
)

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


def test_a_streamed_reply_arrives_piece_by_piece_as_stream_messages(kernel: KernelPair) -> None:
    _, kc = kernel
    words = "one two three four five six seven eight"
    msg_id = kc.execute(f'slow:invokeStream("{words}");')
    outputs = collect(kc, msg_id, timeout=30)
    assert reply_to(kc, msg_id)["content"]["status"] == "ok"
    streams = [m for m in outputs if m["msg_type"] == "stream"]
    assert "".join(m["content"]["text"] for m in streams) == f"You said: {words}\n"
    assert len(streams) >= 9  # one message per piece, not one block at the end
    # the kernel sent the pieces over the reply's 1.6 s, not together at its end (its own send
    # times: however late this process got to read them)
    sent = [m["header"]["date"] for m in streams]
    assert (sent[-1] - sent[0]).total_seconds() > 0.5


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
    msg_id = kc.execute(
        RUNNING + 'Agent.builder():name("stuck"):model("stuck"):build():invokeStream("hello?")'
    )
    wait_until_running(kc, msg_id)
    time.sleep(0.5)  # most likely inside the call by now; an interrupt just before it stops it too
    km.interrupt_kernel()
    # the model answers after 600 s: a reply within INTERRUPT_REPLY_S is the interrupt's
    reply = reply_to(kc, msg_id, timeout=INTERRUPT_REPLY_S)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
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
