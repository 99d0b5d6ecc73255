"""Requests the kernel must answer even when they are malformed or hostile: an error reply
naming the field, the protocol's execution_count, completion and inspection that run no
script code, and a Python kernel that a deployment has turned off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow

KernelPair = tuple[Any, Any]  # (KernelManager, BlockingKernelClient), see conftest.start_kernel
StartKernel = Callable[..., Any]


def reply_to(kc: Any, msg_id: str, timeout: float = 15) -> dict[str, Any]:
    while True:
        reply: dict[str, Any] = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def send(kc: Any, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """Send a raw shell request (no client-side defaults) and return its reply content."""
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return reply_to(kc, msg["header"]["msg_id"])["content"]


@pytest.fixture(scope="module")
def lua(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelPair]:
    with start_kernel(tmp_path_factory.mktemp("requests-kernel"), "llmspell") as pair:
        yield pair


@pytest.mark.parametrize(
    ("msg_type", "content", "field"),
    [
        ("execute_request", {"silent": False}, "content.code is missing"),
        ("execute_request", {"code": "1", "user_expressions": ["1"]}, "user_expressions"),
        ("execute_request", {"code": "1", "allow_stdin": "x"}, "content.allow_stdin must be"),
        ("execute_request", {"code": 5}, "content.code must be a string"),
        ("history_request", {"hist_access_type": "range", "session": "x"}, "content.session"),
        ("history_request", {"output": True}, "content.hist_access_type is missing"),
        ("complete_request", {"code": "x", "cursor_pos": -1}, "content.cursor_pos must be"),
        ("complete_request", {"code": "x", "cursor_pos": 5}, "past the end of code"),
        ("inspect_request", {"code": "x"}, "content.cursor_pos is missing"),
        ("is_complete_request", {}, "content.code is missing"),
    ],
)
def test_a_malformed_request_gets_an_error_reply_naming_the_field(
    lua: KernelPair, msg_type: str, content: dict[str, Any], field: str
) -> None:
    _, kc = lua
    reply = send(kc, msg_type, content)
    assert reply["status"] == "error"
    assert reply["ename"] == "ValueError"
    assert reply["evalue"].startswith(f"{msg_type}: ")
    assert field in reply["evalue"]
    ok = send(kc, "execute_request", {"code": "1 + 1", "silent": False})
    assert ok["status"] == "ok"


def test_only_requests_that_store_history_advance_the_execution_count(lua: KernelPair) -> None:
    _, kc = lua
    first = send(kc, "execute_request", {"code": "1", "silent": False, "store_history": True})
    unstored = send(kc, "execute_request", {"code": "2", "silent": False, "store_history": False})
    silent = send(kc, "execute_request", {"code": "3", "silent": True})
    second = send(kc, "execute_request", {"code": "4", "silent": False})
    assert unstored["execution_count"] == first["execution_count"]
    assert silent["execution_count"] == first["execution_count"]
    assert second["execution_count"] == first["execution_count"] + 1


def test_completion_and_inspection_never_run_a_scripts_metamethods(lua: KernelPair) -> None:
    _, kc = lua
    setup = (
        "spin = function() while true do end end\n"
        "t = setmetatable({alpha = 1}, {__pairs = spin, __index = spin, __tostring = spin})"
    )
    assert send(kc, "execute_request", {"code": setup, "silent": False})["status"] == "ok"
    started = time.monotonic()
    completion = send(kc, "complete_request", {"code": "t.", "cursor_pos": 2})
    inspection = send(kc, "inspect_request", {"code": "t.x", "cursor_pos": 3, "detail_level": 0})
    assert time.monotonic() - started < 5
    assert completion["matches"] == ["t.alpha"]
    assert inspection["status"] == "ok"


def test_a_python_kernel_turned_off_refuses_every_cell(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("python-off")
    extra = {"LLMSPELL_ENGINES__PYTHON__ENABLED": "false"}
    with start_kernel(home, "llmspell-python", extra_env=extra) as (_, kc):
        reply = send(kc, "execute_request", {"code": "1 + 1", "silent": False})
    assert reply["status"] == "error"
    assert "the Python engine is disabled (engines.python.enabled = false)" in reply["evalue"]
