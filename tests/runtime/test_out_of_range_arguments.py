"""Every global that takes a number of seconds, a time, a count or a path refuses values beyond
what it can hold (math.huge, NaN, 1e300, 2^63, a 100 kB string) with a clear error naming the
limit, never an "internal error" or a Python exception, and stores nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from runtime_helpers import error_of, memory_config
from sqlalchemy import select

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import ConfigError
from llmspell.storage import registry

BAD = {
    "huge": "math.huge",
    "-huge": "-math.huge",
    "nan": "(0/0)",
    "1e300": "1e300",
    "-1e300": "-1e300",
    "2^63": "2^63",
    "100kB": 'string.rep("a", 102400)',
}
NUMBERS = frozenset(BAD) - {"100kB"}
# A 100 kB name inside the allowed directory: the path check, not "outside allowed_paths".
LONG_PATH = 'ROOT .. "/" .. string.rep("a", 102400)'

# (id, Lua code with $X for the bad value ($P for a path), values the call accepts)
CALLS: list[tuple[str, str, frozenset[str]]] = [
    # lifetimes and waits
    ("Event.publish ttl_s", 'Event.publish("t.a", {}, {ttl_s = $X})', frozenset()),
    ("RAG.create_session_collection", "RAG.create_session_collection(sid, $X)", frozenset()),
    ("RAG.ingest ttl_s", 'RAG.ingest({{id = "d", content = "hi"}}, {ttl_s = $X})', frozenset()),
    (
        "Workflow retry backoff_ms",
        'Workflow.sequential{name = "q", steps = {{name = "s", fn = function() error("x") end}}, '
        'error_strategy = {type = "retry", max_attempts = 2, backoff_ms = $X}}:execute()',
        frozenset(),
    ),
    # a longer wait is allowed: it lasts until an event comes or the script is interrupted
    ("Event.receive", "Event.receive(sub, $X)", frozenset({"huge", "1e300", "2^63"})),
    # times
    ("Event.query since", "Event.query{since = $X}", frozenset()),
    ("Event.query until", 'Event.query{["until"] = $X}', frozenset()),
    ("Event.prune before", "Event.prune{before = $X}", frozenset()),
    ("Artifact.query created_after", "Artifact.query{created_after = $X}", frozenset()),
    ("Artifact.query created_before", "Artifact.query{created_before = $X}", frozenset()),
    (
        "Memory.episodic.search since",
        'Memory.episodic.search(sid, "q", 5, {since = $X})',
        frozenset(),
    ),
    ("Memory.episodic.forget before", "Memory.episodic.forget{before = $X}", frozenset()),
    (
        "Memory.semantic.add_entity valid_from",
        'Memory.semantic.add_entity{name = "E2", type = "t", valid_from = $X}',
        frozenset(),
    ),
    (
        "Memory.semantic.add_entity valid_to",
        'Memory.semantic.add_entity{name = "E3", type = "t", valid_to = $X}',
        frozenset(),
    ),
    (
        "Memory.semantic.update_entity valid_from",
        "Memory.semantic.update_entity(eid, {a = 2}, {valid_from = $X})",
        frozenset(),
    ),
    (
        "Memory.semantic.add_relationship valid_from",
        'Memory.semantic.add_relationship{from = eid, to = eid, type = "r", valid_from = $X}',
        frozenset(),
    ),
    (
        "Memory.semantic.get_entity as_of",
        "Memory.semantic.get_entity(eid, {as_of = $X})",
        frozenset(),
    ),
    ("Memory.semantic.query known_at", "Memory.semantic.query{known_at = $X}", frozenset()),
    (
        "Memory.semantic.neighbors as_of",
        "Memory.semantic.neighbors(eid, {as_of = $X})",
        frozenset(),
    ),
    # counts
    ("Event.query limit", "Event.query{limit = $X}", frozenset()),
    ("Session.list limit", "Session.list{limit = $X}", frozenset()),
    ("Session.list offset", "Session.list{offset = $X}", frozenset()),
    ("Artifact.get sequence", "Artifact.get(sid, $X)", frozenset()),
    ("Artifact.get_version", 'Artifact.get_version(sid, "a.txt", $X)', frozenset()),
    ("Artifact.query limit", "Artifact.query{limit = $X}", frozenset()),
    ("Artifact.query min_size", "Artifact.query{min_size = $X}", frozenset()),
    ("State.history limit", 'State.history("global", "k", $X)', frozenset()),
    ("Memory.episodic.search limit", 'Memory.episodic.search(sid, "q", $X)', frozenset()),
    ("Memory.episodic.session limit", "Memory.episodic.session(sid, $X)", frozenset()),
    ("Memory.semantic.query limit", "Memory.semantic.query{limit = $X}", frozenset()),
    (
        "Memory.semantic.neighbors depth",
        "Memory.semantic.neighbors(eid, {depth = $X})",
        frozenset(),
    ),
    (
        "Memory.procedural.suggest limit",
        'Memory.procedural.suggest("t", {limit = $X})',
        frozenset(),
    ),
    (
        "Memory.procedural.list min_frequency",
        "Memory.procedural.list{min_frequency = $X}",
        frozenset(),
    ),
    ("Hook.history limit", "Hook.history{limit = $X}", frozenset()),
    (
        "Hook.register priority",
        'Hook.register("BeforeAgentExecution", function() end, $X)',
        frozenset(),
    ),
    ("Context.assemble max_tokens", 'Context.assemble("q", nil, $X)', frozenset()),
    ("RAG.search k", 'RAG.search("q", {k = $X})', frozenset()),
    ("RAG.list_documents limit", "RAG.list_documents{limit = $X}", frozenset()),
    (
        "RAG.ingest chunk_size",
        'RAG.ingest({{id = "d", content = "hi"}}, {chunk_size = $X})',
        frozenset(),
    ),
    ("Workflow.executions limit", "Workflow.executions{limit = $X}", frozenset()),
    (
        "WorkflowBuilder.max_concurrency",
        'Workflow.builder():name("w"):parallel():max_concurrency($X)',
        frozenset(),
    ),
    (
        "Workflow.loop range stop",
        'Workflow.loop{name = "l", range = {0, $X}, body = {{name = "s", fn = function() end}}}'
        ":execute()",
        # a range that ends before it starts runs no iteration
        frozenset({"-1e300"}),
    ),
    (
        "Workflow retry max_attempts",
        'Workflow.sequential{name = "q", steps = {{name = "s", fn = function() error("x") end}}, '
        'error_strategy = {type = "retry", max_attempts = $X}}:execute()',
        frozenset(),
    ),
    (
        "AgentBuilder.max_tokens",
        'Agent.builder():name("a"):model("mock"):max_tokens($X)',
        frozenset(),
    ),
    (
        "AgentBuilder.context_window",
        'Agent.builder():name("a"):model("mock"):context_window($X)',
        frozenset(),
    ),
    ("JSON.stringify indent", "JSON.stringify({}, {indent = $X})", frozenset()),
    # paths (a number is refused as not a path)
    ("Artifact.store_file", 'Artifact.store_file(sid, $P, "text")', frozenset()),
    ("RAG.ingest_file", "RAG.ingest_file($P)", frozenset()),
    ("Display.image", "Display.image($P)", frozenset()),
    ("require", "require($P)", frozenset()),
]
# Tools report a failure in their result: {success = false, error = ...}
TOOL_CALLS: list[tuple[str, str]] = [
    ("datetime-handler", '{operation = "parse", input = $X}'),
    ("datetime-handler", '{operation = "add", input = 0, amount = $X}'),
    ("file-operations", '{operation = "read", path = $P}'),
    ("file-operations", '{operation = "write", path = $P, input = "x"}'),
    ("csv-analyzer", '{operation = "head", path = $P}'),
]
# What only a bug shows: the words of a Python exception instead of a sentence about the value.
PYTHON_WORDS = re.compile(
    r"internal error|Traceback|Errno|\b\w+Error: |OverflowError|OSError|TypeError|"
    r"cannot convert|too large to convert|out of range for platform|Invalid value NaN|\bNone\b"
)


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptRuntime]:
    root = tmp_path_factory.mktemp("allowed")
    config = memory_config({"tools.allowed_paths": [str(root)], "engines.lua.timeout_s": 20})
    with ScriptRuntime.with_engine(config, "lua") as runtime:
        runtime.execute(
            f"ROOT = {str(root)!r}\n"
            'sid = Session.create{name = "s"}\n'
            'sub = Event.subscribe("t.*")\n'
            'Artifact.store(sid, "text", "a.txt", "hi")\n'
            'eid = Memory.semantic.add_entity{name = "E", type = "t"}\n'
            'State.save("global", "k", 1)\n'
            'Event.publish("t.first", {n = 1})\n'
        )
        yield runtime


def stored(runtime: ScriptRuntime) -> dict[str, list[Any]]:
    """Every row of every table: what a refused call must leave as it was."""
    engine = runtime.infrastructure.storage.database("kv").engine
    with engine.connect() as conn:
        return {t.name: conn.execute(select(t)).all() for t in registry.metadata().sorted_tables}


def lua_code(template: str, value: str) -> str:
    path = LONG_PATH if value == "100kB" else BAD[value]
    return template.replace("$X", BAD[value]).replace("$P", path)


def assert_clear(message: str) -> None:
    assert not PYTHON_WORDS.search(message), message
    assert len(message) < 600, f"the message repeats the value: {message[:300]}"


REFUSED = [
    pytest.param(template, value, id=f"{name}-{value}")
    for name, template, accepted in CALLS
    for value in BAD
    if value not in accepted
]
ACCEPTED = [
    pytest.param(template, value, id=f"{name}-{value}")
    for name, template, accepted in CALLS
    for value in sorted(accepted)
]


@pytest.mark.parametrize(("template", "value"), REFUSED)
def test_an_out_of_range_argument_is_a_clear_error_and_stores_nothing(
    rt: ScriptRuntime, template: str, value: str
) -> None:
    before = stored(rt)
    with pytest.raises(ScriptError) as caught:
        rt.execute(lua_code(template, value))
    error = caught.value
    # require is Lua's own (its errors are Lua errors); a non-string path is refused as a path
    assert error.ename in ("ValidationError", "PermissionError", "LuaError"), error
    assert error.ename != "LuaError" or template.startswith("require"), error
    assert_clear(error.evalue)
    assert stored(rt) == before


@pytest.mark.parametrize(("template", "value"), ACCEPTED)
def test_a_value_a_call_allows_is_accepted(rt: ScriptRuntime, template: str, value: str) -> None:
    # a wait as long as that returns at once when an event is there already
    rt.execute('Event.publish("t.waiting", {n = 2})')
    rt.execute(lua_code(template, value))


@pytest.mark.parametrize("value", list(BAD))
@pytest.mark.parametrize(("tool", "params"), TOOL_CALLS)
def test_a_tool_given_an_out_of_range_argument_fails_clearly_and_stores_nothing(
    rt: ScriptRuntime, tool: str, params: str, value: str
) -> None:
    before = stored(rt)
    try:
        result = rt.execute(f'return Tool.execute("{tool}", {lua_code(params, value)})').value
    except ScriptError as exc:  # refused before it ran: a parameter of the wrong type
        assert exc.ename == "ValidationError", exc
        assert_clear(exc.evalue)
    else:
        assert result["success"] is False, result
        assert_clear(result["error"])
    assert stored(rt) == before


def test_a_path_too_long_for_the_file_system_names_the_limit(rt: ScriptRuntime) -> None:
    error = error_of(rt, lua_code("RAG.ingest_file($P)", "100kB"))
    assert "must be at most 4096 bytes long (the file system's limit)" in error.evalue
    one_name = 'RAG.ingest_file(ROOT .. "/" .. string.rep("b", 300) .. "/doc.txt")'
    error = error_of(rt, one_name)
    assert "the file system's limit is 255 bytes per name" in error.evalue


def test_a_time_beyond_year_9999_names_the_range(rt: ScriptRuntime) -> None:
    error = error_of(rt, "Event.query{since = 1e300}")
    assert error.evalue == (
        "Event.query: since must be Unix seconds from -62135596800 to 253402300799 "
        "(years 1 to 9999), got 1e+300"
    )
    late = error_of(rt, 'Event.query{since = "9999-12-31T23:00:00-02:00"}')
    assert "must be a time in the years 1 to 9999 in UTC" in late.evalue


def test_a_lifetime_beyond_100_years_names_the_limit(rt: ScriptRuntime) -> None:
    error = error_of(rt, "RAG.create_session_collection(sid, 1e300)")
    assert error.evalue == (
        "RAG.create_session_collection: ttl_s must be more than 0 and at most 3155760000 "
        "seconds (100 years; nil = never), got 1e+300"
    )
    made = rt.execute("return RAG.create_session_collection(sid, 3155760000)").value
    assert made["ttl_s"] == 3155760000


def test_a_count_beyond_what_storage_holds_names_the_limit(rt: ScriptRuntime) -> None:
    error = error_of(rt, "Session.list{limit = 2^63}")
    assert error.evalue == (
        "Session.list: limit must be <= 9223372036854775807 (the largest integer storage "
        "holds), got 9.223372036854776e+18"
    )
    assert rt.execute("return #Session.list{limit = math.maxinteger}").value == 1


def test_llmspell_run_names_the_limit_of_a_too_long_script_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from llmspell.cli import main

    assert main(["--profile", "memory", "run", "a" * 102_400]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "llmspell run: the script's path must be at most 4096 bytes long (the file system's "
        "limit), got 102400 bytes: 'aaaa"
    )
    assert_clear(err)


def test_a_default_event_lifetime_beyond_100_years_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"events\.default_ttl_s = '1e300'.*3155760000"):
        load_config(env={"LLMSPELL_EVENTS__DEFAULT_TTL_S": "1e300"})
