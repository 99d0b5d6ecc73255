"""Every shell and control request of the messaging spec gets a reply, also with missing,
malformed or odd fields (an error reply naming what is wrong), and one-way comm messages to
unknown targets leave a kernel that still answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow

KernelPair = tuple[Any, Any]  # (KernelManager, BlockingKernelClient), see conftest.start_kernel


@pytest.fixture(scope="module")
def lua(start_kernel: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelPair]:
    with start_kernel(tmp_path_factory.mktemp("replies-kernel"), "llmspell") as pair:
        yield pair


def request(kc: Any, channel: str, msg_type: str, content: Any, **fields: Any) -> dict[str, Any]:
    """Send a raw request (no client-side defaults) on `channel`; its reply message."""
    msg = raw_message(kc, msg_type, content)
    msg.update(fields)
    getattr(kc, f"{channel}_channel").send(msg)
    while True:
        reply: dict[str, Any] = getattr(kc, f"get_{channel}_msg")(timeout=15)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply


def raw_message(kc: Any, msg_type: str, content: Any) -> dict[str, Any]:
    """A message whose content may be any JSON (the client library only sends objects)."""
    msg: dict[str, Any] = kc.session.msg(msg_type, {})
    msg["content"] = content if isinstance(content, dict) else json.dumps(content).encode()
    return msg


def still_answers(kc: Any) -> None:
    reply = request(kc, "shell", "execute_request", {"code": "return 6 * 7", "silent": False})
    assert reply["content"]["status"] == "ok"


BOTH = ("shell", "control")


@pytest.mark.parametrize("channel", BOTH)
@pytest.mark.parametrize(
    "content",
    [
        {"hist_access_type": "tail", "n": 3},
        {"hist_access_type": "tail"},
        {"hist_access_type": "range"},
        {"hist_access_type": "range", "session": -5, "start": 4, "stop": 1},
        {"hist_access_type": "search"},
        {"hist_access_type": "search", "pattern": "x*", "unique": True, "n": 2},
        {"hist_access_type": "tail", "n": None, "output": None, "raw": None},
        {"hist_access_type": "tail", "n": 2, "output": True, "raw": False, "extra": 1},
    ],
    ids=str,
)
def test_a_history_request_without_output_or_raw_is_answered(
    lua: KernelPair, channel: str, content: dict[str, Any]
) -> None:
    _, kc = lua
    reply = request(kc, channel, "history_request", content)
    assert reply["msg_type"] == "history_reply"
    assert reply["content"]["status"] == "ok", reply["content"]
    assert isinstance(reply["content"]["history"], list)


@pytest.mark.parametrize(
    ("channel", "msg_type", "content", "wrong"),
    [
        ("shell", "history_request", {"hist_access_type": "tail", "n": -1}, "content.n must be"),
        ("shell", "history_request", {"hist_access_type": "bogus"}, "tail, range, search"),
        ("shell", "history_request", {"hist_access_type": "search", "pattern": 5}, "pattern"),
        ("shell", "history_request", [], "content must be an object"),
        ("control", "kernel_info_request", [1], "content must be an object"),
        ("shell", "comm_info_request", {"target_name": 5}, "content.target_name must be"),
        ("shell", "comm_info_request", "x", "content must be an object"),
        ("shell", "inspect_request", {"code": "x", "cursor_pos": 1, "omit_sections": 3}, "omit"),
        ("shell", "shutdown_request", {}, "content.restart is missing"),
        ("control", "shutdown_request", {"restart": "yes"}, "content.restart must be"),
        ("control", "interrupt_request", None, "content must be an object"),
        ("shell", "is_complete_request", {"code": None}, "content.code must be"),
    ],
)
def test_a_malformed_request_of_any_type_gets_an_error_reply(
    lua: KernelPair, channel: str, msg_type: str, content: Any, wrong: str
) -> None:
    _, kc = lua
    reply = request(kc, channel, msg_type, content)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["evalue"].startswith(f"{msg_type}: ")
    assert wrong in reply["content"]["evalue"]
    still_answers(kc)


def test_execute_request_with_metadata_that_is_not_an_object_gets_an_error_reply(
    lua: KernelPair,
) -> None:
    _, kc = lua
    reply = request(kc, "shell", "execute_request", {"code": "1"}, metadata=[1, 2])
    assert reply["content"]["status"] == "error"
    assert "metadata must be an object" in reply["content"]["evalue"]
    still_answers(kc)


@pytest.mark.parametrize(
    "content",
    [
        {"seq": 7, "type": "request", "command": "initialize", "arguments": {}},
        {"seq": 8, "type": "request", "command": "debugInfo"},
        {},
        {"seq": "x", "command": 5},
    ],
    ids=["initialize", "debugInfo", "empty", "odd"],
)
def test_a_debug_request_gets_a_failed_debug_reply(lua: KernelPair, content: Any) -> None:
    _, kc = lua
    reply = request(kc, "control", "debug_request", content)
    assert reply["msg_type"] == "debug_reply"
    body = reply["content"]
    assert body["type"] == "response"
    assert body["success"] is False
    seq, command = content.get("seq"), content.get("command")
    assert body["request_seq"] == (seq if isinstance(seq, int) else 0)
    assert body["command"] == (command if isinstance(command, str) else "")
    assert "no debugger" in body["message"]
    still_answers(kc)


@pytest.mark.parametrize(
    ("msg_type", "content"),
    [
        ("create_subshell_request", {}),
        ("list_subshell_request", {}),
        ("delete_subshell_request", {"subshell_id": "nope"}),
        ("delete_subshell_request", {}),
    ],
)
def test_a_subshell_request_is_refused_with_a_reply(
    lua: KernelPair, msg_type: str, content: dict[str, Any]
) -> None:
    _, kc = lua
    reply = request(kc, "control", msg_type, content)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"]["status"] == "error"
    assert "subshells" in reply["content"]["evalue"]


@pytest.mark.parametrize(
    ("channel", "msg_type", "content", "reply_field"),
    [
        ("shell", "kernel_info_request", {}, "implementation"),
        ("control", "kernel_info_request", {}, "implementation"),
        ("shell", "connect_request", {}, "status"),
        ("shell", "comm_info_request", {}, "comms"),
        ("shell", "comm_info_request", {"target_name": "nope"}, "comms"),
        ("control", "usage_request", {}, "pid"),
        ("control", "interrupt_request", {}, "status"),
        ("shell", "is_complete_request", {"code": "if x then"}, "indent"),
        ("shell", "complete_request", {"code": "Sta", "cursor_pos": None}, "matches"),
        (
            "shell",
            "inspect_request",
            {"code": "State", "cursor_pos": 5, "omit_sections": []},
            "found",
        ),
    ],
)
def test_every_well_formed_request_is_answered(
    lua: KernelPair, channel: str, msg_type: str, content: dict[str, Any], reply_field: str
) -> None:
    _, kc = lua
    reply = request(kc, channel, msg_type, content)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"].get("status") != "error", reply["content"]
    assert reply_field in reply["content"]


@pytest.mark.parametrize(
    ("msg_type", "content"),
    [
        ("comm_open", {"comm_id": "c1", "target_name": "no-such-target", "data": {}}),
        ("comm_open", {}),
        ("comm_open", [1]),
        ("comm_msg", {"comm_id": "unknown", "data": {"x": 1}}),
        ("comm_msg", {}),
        ("comm_close", {"comm_id": "unknown", "data": {}}),
        ("comm_close", "x"),
    ],
)
def test_a_comm_message_to_an_unknown_target_leaves_a_kernel_that_answers(
    lua: KernelPair, msg_type: str, content: Any
) -> None:
    _, kc = lua
    kc.shell_channel.send(raw_message(kc, msg_type, content))
    still_answers(kc)
    info = request(kc, "shell", "comm_info_request", {})
    assert info["content"] == {"status": "ok", "comms": {}}
