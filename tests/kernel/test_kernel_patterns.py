"""A kernel stays responsive to cells whose patterns used to backtrack for hours holding the GIL
(JSON Schema `pattern`, `Event.subscribe` globs, name globs in storage queries): the cell gets
its execute_reply, then the kernel answers kernel_info and runs the next cell."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_kernel_behaviour import KernelPair, StartKernel, result_text, run

pytestmark = pytest.mark.slow

# Each finishes in milliseconds; minutes, hours or days with a backtracking matcher.
REPLY_S = 60

CELLS = {
    "schema-pattern": (
        "Tool.execute('json-processor', {operation = 'validate',"
        " input = JSON.stringify(string.rep('a', 40) .. '!'),"
        " schema = {type = 'string', pattern = '^(a+)+$'}}).result",
        "false",
    ),
    "subscription-glob": (
        "local sub = Event.subscribe(('*a'):rep(10) .. 'b')\n"
        "Event.publish(string.rep('a', 200), 1)\n"
        "Event.publish(string.rep('a', 30) .. 'b', 2)\n"
        "return Event.receive(sub, 0).data",
        "2",
    ),
    "storage-glob": (
        "Session.create{name = string.rep('a', 200)}\n"
        "Session.create{name = string.rep('a', 30) .. 'b'}\n"
        "return #Session.list{name = ('*a'):rep(12) .. 'b'}"
        " + #Event.query{pattern = ('*a'):rep(10) .. 'c'}",
        "1",
    ),
}


@pytest.fixture(scope="module")
def lua(
    start_kernel: StartKernel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelPair]:
    with start_kernel(tmp_path_factory.mktemp("patterns-kernel")) as pair:
        yield pair


@pytest.mark.parametrize("case", list(CELLS))
def test_a_catastrophic_pattern_cell_replies_and_the_kernel_keeps_answering(
    lua: KernelPair, case: str
) -> None:
    _, kc = lua
    code, expected = CELLS[case]
    reply, outputs = run(kc, code, timeout=REPLY_S)
    assert reply["status"] == "ok", reply
    assert result_text(outputs) == [expected]
    info: Any = kc.kernel_info(reply=True, timeout=REPLY_S)
    assert info["content"]["status"] == "ok"
    assert result_text(run(kc, "6 * 7", timeout=REPLY_S)[1]) == ["42"]
