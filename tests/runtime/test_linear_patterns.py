"""Patterns from scripts are matched in time linear in the text: JSON Schema `pattern` and
`patternProperties` (RE2), `Event.subscribe` globs on publish, and name globs in storage queries.

Each catastrophic case below backtracked for minutes or hours inside Python's `re`, holding the
GIL, so neither the time limit nor an interrupt could stop it. A test allows 5 s for what now
takes milliseconds, and then checks the runtime still runs code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from runtime_helpers import error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.tools.json_schema import SchemaProblem, compile_schema

pytestmark = pytest.mark.timeout(120)

RUNAWAY_S = 5
EVIL = "^(a+)+$"
NOT_QUITE = "a" * 40 + "!"
MANY_STARS = "('*a'):rep(10) .. 'b'"


def validate(lua: ScriptRuntime, schema: dict[str, Any], document: Any) -> dict[str, Any]:
    """json-processor's `validate` on `document`, both passed as JSON."""
    params = {"operation": "validate", "input": json.dumps(document), "schema": schema}
    code = f"return Tool.execute('json-processor', JSON.parse({json.dumps(json.dumps(params))}))"
    return lua.execute(code).value  # type: ignore[no-any-return]


@pytest.fixture
def stopwatch(lua: ScriptRuntime) -> Iterator[None]:
    """Fails a test that took RUNAWAY_S or more, then checks the runtime still works."""
    started = time.monotonic()
    yield
    assert time.monotonic() - started < RUNAWAY_S
    assert lua.execute("return 6 * 7").value == 42


# --- JSON Schema ------------------------------------------------------------------------------


@pytest.mark.usefixtures("stopwatch")
def test_json_processor_matches_a_catastrophic_pattern_in_linear_time(lua: ScriptRuntime) -> None:
    out = validate(lua, {"type": "string", "pattern": EVIL}, NOT_QUITE)
    assert out["success"] is True and out["result"] is False
    assert out["metadata"]["errors"] == [f"(root): {NOT_QUITE!r} does not match {EVIL!r}"]
    assert validate(lua, {"type": "string", "pattern": EVIL}, "a" * 40)["result"] is True


@pytest.mark.usefixtures("stopwatch")
def test_json_processor_matches_catastrophic_property_patterns_in_linear_time(
    lua: ScriptRuntime,
) -> None:
    schema = {"patternProperties": {EVIL: {"type": "integer"}}, "additionalProperties": False}
    out = validate(lua, schema, {NOT_QUITE: 1, "aaa": "x"})
    assert sorted(out["metadata"]["errors"]) == [
        f"(root): {NOT_QUITE!r} does not match any of the regexes: {EVIL!r}",
        "aaa: 'x' is not of type 'integer'",
    ]


@pytest.mark.usefixtures("stopwatch")
def test_a_registered_tool_matches_its_schema_pattern_in_linear_time(lua: ScriptRuntime) -> None:
    lua.execute(
        "Tool.register{name = 'echo', description = '', fn = function(p) return p.text end,"
        f" schema = {{type = 'object', properties = {{text = {{pattern = '{EVIL}'}}}}}}}}"
    )
    err = error_of(lua, "Tool.execute('echo', {text = string.rep('a', 40) .. '!'})")
    assert (
        err.evalue == f"Tool.execute: echo: parameter 'text': {NOT_QUITE!r} does not match {EVIL!r}"
    )
    assert lua.execute("return Tool.execute('echo', {text = 'aaa'}).result").value == "aaa"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("(?=a)b", "invalid perl operator: (?="),
        ("(?<!a)b", "invalid perl operator: (?<"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_naming_it_and_what_is_supported(
    lua: ScriptRuntime, pattern: str, reason: str
) -> None:
    out = validate(lua, {"type": "string", "pattern": pattern}, "b")
    assert out["success"] is False
    assert out["error"].startswith(f"schema uses pattern {pattern!r}, which RE2 cannot run")
    assert reason in out["error"] and "no backreferences (\\1) or lookaround" in out["error"]
    err = error_of(
        lua,
        "Tool.register{name = 'x', fn = function() end,"
        f" schema = {{patternProperties = {{[{json.dumps(pattern)}] = {{}}}}}}}}",
    )
    assert err.evalue.startswith(f"Tool.register: schema of tool 'x' uses pattern {pattern!r}")


def test_a_pattern_longer_than_the_limit_is_refused_naming_the_limit(lua: ScriptRuntime) -> None:
    assert validate(lua, {"pattern": "a" * 1000}, "a" * 1000)["result"] is True
    out = validate(lua, {"pattern": "a" * 1001}, "x")
    assert "uses a pattern of 1001 characters" in out["error"]
    assert "at most 1000 characters" in out["error"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"properties": {"x": {"$schema": "http://json-schema.org/draft-07/schema#"}}},
            "has $schema 'http://json-schema.org/draft-07/schema#' at /properties/x: "
            "$schema may only be at the top",
        ),
        (
            {"$defs": {"x": {"$id": "https://json-schema.org/draft/2020-12/schema"}}},
            "has $id 'https://json-schema.org/draft/2020-12/schema' at /$defs/x",
        ),
        (
            {"$ref": "https://json-schema.org/draft/2020-12/schema"},
            "only references inside the schema are supported",
        ),
        (
            {"unevaluatedProperties": False, "patternProperties": {"^a": {}}},
            "combines unevaluatedProperties with patternProperties",
        ),
    ],
    ids=["nested-schema", "nested-id", "remote-ref", "unevaluated"],
)
def test_schemas_that_would_reach_a_backtracking_matcher_are_refused(
    schema: dict[str, Any], message: str
) -> None:
    # jsonschema validates a subschema naming a `$schema` (directly or through a reference to
    # a meta-schema) with its stock validator, and unevaluatedProperties with Python's `re`.
    with pytest.raises(SchemaProblem) as info:
        compile_schema(schema)
    assert message in str(info.value)


def test_the_top_level_schema_and_id_are_accepted_and_references_stay_inside() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://example.com/s.json",
        "properties": {"a": {"$ref": "#/$defs/evil"}, "b": {"$ref": "#"}},
        "$defs": {"evil": {"pattern": EVIL}},
    }
    started = time.monotonic()
    errors = [e.message for e in compile_schema(schema).iter_errors({"a": NOT_QUITE})]
    assert time.monotonic() - started < RUNAWAY_S
    assert errors == [f"{NOT_QUITE!r} does not match {EVIL!r}"]


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        ({"type": "string", "pattern": "^[a-z]+-\\d{2}$"}, "ab-12"),
        ({"type": "string", "pattern": "^[a-z]+-\\d{2}$"}, "ab-1"),
        ({"pattern": "b"}, "abc"),
        ({"patternProperties": {"^x": {"type": "integer"}}}, {"x1": 1, "x2": "s", "y": 2}),
        (
            {"patternProperties": {"^x": {}}, "additionalProperties": False},
            {"x": 1, "y": 2, "z": 3},
        ),
        ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}),
        ({"properties": {"a": {}}, "additionalProperties": {"type": "string"}}, {"b": 2}),
        ({"patternProperties": {"": {"type": "string"}}}, {"k": 1}),
    ],
)
def test_ordinary_patterns_validate_as_jsonschema_does(
    schema: dict[str, Any], document: Any
) -> None:
    def described(errors: Any) -> list[tuple[str, str]]:
        return sorted(("/".join(map(str, e.absolute_path)), e.message) for e in errors)

    expected = described(Draft202012Validator(schema).iter_errors(document))
    assert described(compile_schema(schema).iter_errors(document)) == expected


# --- Event.subscribe globs --------------------------------------------------------------------


@pytest.mark.usefixtures("stopwatch")
def test_a_subscription_glob_of_many_stars_is_matched_on_publish_in_linear_time(
    lua: ScriptRuntime,
) -> None:
    received = lua.execute(
        f"local sub = Event.subscribe({MANY_STARS})\n"
        "Event.publish(string.rep('a', 200), 1)\n"
        "Event.publish(string.rep('a', 30) .. 'b', 2)\n"
        "local first, second = Event.receive(sub, 0), Event.receive(sub, 0)\n"
        "return {first.data, second == nil}"
    ).value
    assert received == [2, True]


# --- name globs in storage queries --------------------------------------------------------------


@pytest.mark.usefixtures("stopwatch")
def test_session_and_event_queries_by_a_glob_of_many_stars_run_in_linear_time(
    lua: ScriptRuntime,
) -> None:
    found = lua.execute(
        "Session.create{name = string.rep('a', 200)}\n"
        "Session.create{name = string.rep('a', 30) .. 'b'}\n"
        "Event.publish(string.rep('a', 200), 1)\n"
        "local sessions = Session.list{name = ('*a'):rep(12) .. 'b'}\n"
        f"local events = Event.query{{pattern = {MANY_STARS}}}\n"
        "return {#sessions, sessions[1].name, #events}"
    ).value
    assert found == [1, "a" * 30 + "b", 0]


def test_a_name_glob_longer_than_the_limit_is_refused_naming_the_function(
    lua: ScriptRuntime,
) -> None:
    err = error_of(lua, "Session.list{name = string.rep('*', 1001)}")
    assert err.evalue.startswith("Session.list: ")
    assert "glob pattern may be at most 1000 characters, got 1001" in err.evalue
