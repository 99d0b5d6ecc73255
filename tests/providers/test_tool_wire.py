"""Tool names on the vendors' wire (only [a-zA-Z0-9_-], at most 64 characters) map back to
llmspell's names, whatever the names; tool-call arguments arrive as JSON text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from llmspell.runtime.providers import ChatRequest, Message, ToolCallRequest, ToolSpec
from llmspell.runtime.providers.tool_wire import ToolNames, tool_call_from_json

WIRE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
names = st.lists(st.text(min_size=1, max_size=80), max_size=12, unique=True)


@given(names)
def test_every_name_gets_a_distinct_valid_wire_name_that_maps_back(tool_names: list[str]) -> None:
    mapping = ToolNames(tool_names)
    wire = [mapping.wire(name) for name in tool_names]
    assert all(WIRE_NAME.fullmatch(w) for w in wire)
    assert len(set(wire)) == len(wire)
    assert [mapping.local(w) for w in wire] == tool_names


@given(names)
def test_valid_names_are_sent_unchanged(tool_names: list[str]) -> None:
    mapping = ToolNames(tool_names)
    for name in tool_names:
        if WIRE_NAME.fullmatch(name):
            assert mapping.wire(name) == name


def test_a_renamed_tool_does_not_take_the_name_of_another() -> None:
    mapping = ToolNames(["file.read", "file_read", "file read"])
    assert [mapping.wire(n) for n in ("file.read", "file_read", "file read")] == [
        "file_read_2",
        "file_read",
        "file_read_3",
    ]
    assert mapping.local("never_offered") == "never_offered"


def test_a_request_maps_the_names_of_earlier_calls_and_results_too() -> None:
    request = ChatRequest(
        model="m",
        messages=(
            Message("user", "hi"),
            Message("assistant", tool_calls=(ToolCallRequest("1", "old.tool"),)),
            Message("tool", "x", tool_call_id="1", name="old.tool"),
        ),
        tools=(ToolSpec("new.tool", "", {}),),
    )
    mapping = ToolNames.of(request)
    assert (mapping.wire("new.tool"), mapping.wire("old.tool")) == ("new_tool", "old_tool")


def test_arguments_are_a_json_object_or_kept_as_invalid_text() -> None:
    assert tool_call_from_json("1", "t", '{"a": [1]}').arguments == {"a": [1]}
    assert tool_call_from_json("1", "t", "  ") == ToolCallRequest("1", "t")
    for text in ('{"a": ', "[1, 2]", '"text"', "null", "12"):
        call = tool_call_from_json("1", "t", text)
        assert (call.arguments, call.invalid_arguments) == ({}, text)
