"""Widgets in a real kernel, the client playing the front end: a widget's comm_open carries its
state, comm_msg updates and clicks run the script's callbacks between cells (output parented on
the comm_msg, or into an Output widget), a script's write is sent as an update, and a callback
that never ends is stopped by the time limit or an interrupt while the kernel lives on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_kernel_behaviour import KernelPair, Messages, StartKernel, collect, result_text, run

pytestmark = pytest.mark.slow

TIMEOUT_S = 2
VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def kernel(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelPair]:
    home = tmp_path_factory.mktemp("widgets-kernel")
    env = {"LLMSPELL_ENGINES__LUA__TIMEOUT_S": str(TIMEOUT_S)}
    with start_kernel(home, "llmspell", extra_env=env) as pair:
        yield pair


def opened(outputs: Messages, model: str) -> dict[str, Any]:
    """The comm_open of a model among a cell's messages: its comm id and state."""
    for msg in outputs:
        content = msg["content"]
        if msg["msg_type"] == "comm_open" and content["data"]["state"]["_model_name"] == model:
            assert content["target_name"] == "jupyter.widget"
            return {"comm_id": content["comm_id"], **content["data"]["state"]}
    raise AssertionError(f"no {model} opened: {[m['msg_type'] for m in outputs]}")


def send_comm_msg(kc: Any, comm_id: str, data: dict[str, Any], timeout: float = 30) -> Messages:
    """Send a comm_msg as a front end does; the IOPub messages it caused."""
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    kc.shell_channel.send(msg)
    return collect(kc, msg["header"]["msg_id"], timeout)


def click(kc: Any, comm_id: str, timeout: float = 30) -> Messages:
    return send_comm_msg(kc, comm_id, {"method": "custom", "content": {"event": "click"}}, timeout)


def printed(outputs: Messages, name: str = "stdout") -> str:
    return "".join(
        m["content"]["text"]
        for m in outputs
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def test_a_slider_arrives_with_its_state_and_shows_as_a_widget_view(kernel: KernelPair) -> None:
    reply, outputs = run(
        kernel[1], 's = Widget.slider{min = 0, max = 10, value = 3, description = "n"}\ns'
    )
    assert reply["status"] == "ok", reply
    state = opened(outputs, "IntSliderModel")
    assert (state["min"], state["max"], state["value"], state["description"]) == (0, 10, 3, "n")
    [result] = [m for m in outputs if m["msg_type"] == "execute_result"]
    assert result["content"]["data"][VIEW]["model_id"] == state["comm_id"]
    assert result["content"]["data"]["text/plain"].startswith("Widget.slider(value=3")


def test_an_update_from_the_frontend_runs_on_change_and_sets_value(kernel: KernelPair) -> None:
    kc = kernel[1]
    _, outputs = run(
        kc,
        "t = Widget.slider{max = 10, value = 1}\n"
        "t:on_change(function(v, old) print('from', old, 'to', v) end)\ndisplay(t)",
    )
    comm_id = opened(outputs, "IntSliderModel")["comm_id"]
    messages = send_comm_msg(
        kc, comm_id, {"method": "update", "state": {"value": 7}, "buffer_paths": []}
    )
    assert printed(messages) == "from\t1\tto\t7\n"
    _, outputs = run(kc, "t.value")
    assert result_text(outputs) == ["7"]


def test_a_reconnecting_frontend_gets_every_widget_state_over_the_control_comm(
    kernel: KernelPair,
) -> None:
    kc = kernel[1]
    _, outputs = run(kc, 'kept = Widget.text{value = "still here"}')
    text_id = opened(outputs, "TextModel")["comm_id"]
    control = "control-comm-of-a-reloaded-page"
    msg = kc.session.msg(
        "comm_open",
        {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
        metadata={"version": "1.0.0"},
    )
    kc.shell_channel.send(msg)
    collect(kc, msg["header"]["msg_id"])
    messages = send_comm_msg(kc, control, {"method": "request_states"})
    [states] = [
        m["content"]["data"]["states"]
        for m in messages
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == control
    ]
    assert states[text_id]["state"]["value"] == "still here"


def test_writing_value_in_a_cell_sends_an_update(kernel: KernelPair) -> None:
    kc = kernel[1]
    _, outputs = run(kc, "p = Widget.progress{max = 3}\nfor i = 1, 3 do p.value = i end")
    comm_id = opened(outputs, "IntProgressModel")["comm_id"]
    sent = [
        m["content"]["data"]["state"]["value"]
        for m in outputs
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm_id
        and "value" in m["content"]["data"].get("state", {})
    ]
    assert sent == [1, 2, 3]


def test_a_click_runs_on_click_and_output_goes_into_an_output_widget(kernel: KernelPair) -> None:
    kc = kernel[1]
    _, outputs = run(
        kc,
        'b = Widget.button{description = "Go"}\nout = Widget.output{}\nclicks = 0\n'
        "b:on_click(function() clicks = clicks + 1; print('click', clicks) end, {output = out})\n"
        "Widget.vbox{b, out}",
    )
    button, out = opened(outputs, "ButtonModel"), opened(outputs, "OutputModel")
    messages = click(kc, button["comm_id"])
    assert printed(messages) == "", "the output went into the Output widget, not the stream"
    [update] = [
        m["content"]["data"]["state"]
        for m in messages
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == out["comm_id"]
    ]
    assert update["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "click\t1\n"}]
    _, outputs = run(kc, "clicks")
    assert result_text(outputs) == ["1"]


def test_a_callback_that_loops_forever_stops_at_the_time_limit(kernel: KernelPair) -> None:
    kc = kernel[1]
    _, outputs = run(
        kc, "spin = Widget.button{}\nspin:on_click(function() while true do end end)\nspin"
    )
    started = time.monotonic()
    messages = click(kc, opened(outputs, "ButtonModel")["comm_id"], timeout=60)
    # the loop never ends by itself: an answer at all shows the limit stopped it
    assert time.monotonic() - started < 60
    assert "TimeoutError: execution exceeded the time limit" in printed(messages, "stderr")
    _, outputs = run(kc, "1 + 1")
    assert result_text(outputs) == ["2"]


def test_an_interrupt_stops_a_running_callback(kernel: KernelPair) -> None:
    kc = kernel[1]
    _, outputs = run(
        kc,
        "slow = Widget.button{}\n"
        "slow:on_click(function() print('running') while true do end end)\nslow",
    )
    msg = kc.session.msg(
        "comm_msg",
        {
            "comm_id": opened(outputs, "ButtonModel")["comm_id"],
            "data": {"method": "custom", "content": {"event": "click"}},
        },
    )
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    deadline = time.monotonic() + 30
    while True:  # the callback has started once it printed
        got = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if got["parent_header"].get("msg_id") == msg_id and got["msg_type"] == "stream":
            break
    kernel[0].interrupt_kernel()
    stopped = collect(kc, msg_id, timeout=30)
    assert "KeyboardInterrupt" in printed(stopped, "stderr")
    _, outputs = run(kc, "2 + 2")
    assert result_text(outputs) == ["4"]


@pytest.fixture(scope="module")
def python_kernel(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelPair]:
    home = tmp_path_factory.mktemp("widgets-python-kernel")
    env = {"LLMSPELL_ENGINES__PYTHON__TIMEOUT_S": str(TIMEOUT_S)}
    with start_kernel(home, "llmspell-python", extra_env=env) as pair:
        yield pair


def test_python_engine_callbacks_run_on_updates_and_stop_at_the_time_limit(
    python_kernel: KernelPair,
) -> None:
    kc = python_kernel[1]
    _, outputs = run(
        kc,
        "s = Widget.slider({'max': 10})\n"
        "s.on_change(lambda v, old, w: print('now', v))\n"
        "def forever(w):\n    while True:\n        pass\n"
        "b = Widget.button()\nb.on_click(forever)\ndisplay(Widget.hbox([s, b]))",
    )
    messages = send_comm_msg(
        kc,
        opened(outputs, "IntSliderModel")["comm_id"],
        {"method": "update", "state": {"value": 4}, "buffer_paths": []},
    )
    assert printed(messages) == "now 4\n"
    messages = click(kc, opened(outputs, "ButtonModel")["comm_id"], timeout=60)
    assert "TimeoutError" in printed(messages, "stderr")
    _, outputs = run(kc, "s.value * 2")
    assert result_text(outputs) == ["8"]
