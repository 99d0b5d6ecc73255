"""`Session` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written, but for session ids,
which are UUIDs here) and returns the documented fields; the session object is its id, which
has the appendix's instance methods; see docs/reference/compatibility.md."""

from __future__ import annotations

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime

APPENDIX_FUNCTIONS = [
    "create",
    "builder",
    "get",
    "list",
    "get_current",
    "set_current",
    "save",
    "load",
    "delete",
    "complete",
    "suspend",
    "resume",
    "can_replay",
    "replay",
    "get_replay_metadata",
    "list_replayable",
]
USER_ID = "0b5c3c52-6a42-4f0e-9a57-4b1f2f9f7a11"  # the appendix's "user-123": ids are UUIDs
REPLAY_FIELDS = {
    "session_id",
    "correlation_id",
    "hooks_replayed",
    "successful_replays",
    "failed_replays",
    "total_duration",
}


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(Session.{name})") == "function", name


def test_create_with_an_id_and_metadata(lua: ScriptRuntime) -> None:
    session_id, username = run(
        lua,
        f"""
        local session = Session.create({{
            id = "{USER_ID}",
            metadata = {{username = "alice", created_at = os.time()}}
        }})
        return session, Session.get("{USER_ID}").metadata.username
        """,
    )
    assert (session_id, username) == (USER_ID, "alice")


def test_create_with_an_id_that_is_not_a_uuid_says_ids_are_uuids(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, 'Session.create({id = "user-123"})')
    assert info.value.evalue == ("Session.create: session id must be a UUID string, got 'user-123'")


def test_create_with_an_id_in_use_is_refused(lua: ScriptRuntime) -> None:
    run(lua, f'Session.create({{id = "{USER_ID}"}})')
    with pytest.raises(ScriptError) as info:
        run(lua, f'Session.create({{id = "{USER_ID}"}})')
    assert info.value.evalue == f"Session.create: session {USER_ID} already exists"


def test_the_appendix_builder_chain(lua: ScriptRuntime) -> None:
    record = run(
        lua,
        """
        local session = Session.builder()
            :name("my-session")
            :description("User session")
            :tag("production")
            :tag("user-session")
            :build()
        return Session.get(session)
        """,
    )
    assert (record["name"], record["description"]) == ("my-session", "User session")
    assert record["tags"] == ["production", "user-session"]


def test_list_with_the_appendix_filter_user_and_active(lua: ScriptRuntime) -> None:
    names = run(
        lua,
        """
        Session.create({name = "a", metadata = {user = "alice"}})
        Session.create({name = "b", metadata = {username = "alice"}})
        local done = Session.create({name = "c", metadata = {user = "alice"}})
        Session.complete(done)
        Session.create({name = "d", metadata = {user = "bob"}})
        local names = {}
        for _, s in ipairs(Session.list({user = "alice", active = true})) do
            names[#names + 1] = s.name
        end
        table.sort(names)
        local inactive = Session.list({user = "alice", active = false})
        return {names, #inactive, inactive[1].name}
        """,
    )
    assert names == [["a", "b"], 1, "c"]


def test_current_session_get_and_set(lua: ScriptRuntime) -> None:
    current = run(
        lua,
        f"""
        Session.create({{id = "{USER_ID}"}})
        Session.set_current("{USER_ID}")
        return Session.get_current()
        """,
    )
    assert current == USER_ID


def test_lifecycle_save_load_suspend_resume_complete_delete(lua: ScriptRuntime) -> None:
    statuses = run(
        lua,
        f"""
        Session.create({{id = "{USER_ID}"}})
        local out = {{Session.save("{USER_ID}"), Session.load("{USER_ID}")}}
        Session.suspend("{USER_ID}")
        out[#out + 1] = Session.get("{USER_ID}").status
        Session.resume("{USER_ID}")
        out[#out + 1] = Session.get("{USER_ID}").status
        Session.complete("{USER_ID}", {{total_queries = 10, duration = 3600}})
        local record = Session.get("{USER_ID}")
        out[#out + 1] = record.status
        out[#out + 1] = record.metadata.summary.total_queries
        out[#out + 1] = Session.delete("{USER_ID}")
        return out
        """,
    )
    assert statuses == [True, USER_ID, "suspended", "active", "completed", 10, True]


def test_complete_still_takes_a_text_summary(lua: ScriptRuntime) -> None:
    summary = run(
        lua,
        """
        local id = Session.create({})
        Session.complete(id, "all done")
        return Session.get(id).metadata.summary
        """,
    )
    assert summary == "all done"


RECORDED = f"""
Session.create({{id = "{USER_ID}"}})
Session.set_current("{USER_ID}")
Hook.register("BeforeStateWrite", function(ctx) return "continue" end)
State.save("user:123", "k", 1)
Session.set_current(nil)
"""


def test_replay_with_the_appendix_options_returns_the_appendix_fields(
    lua: ScriptRuntime,
) -> None:
    lua.execute(RECORDED)
    can, results = run(
        lua,
        f"""
        local can = Session.can_replay("{USER_ID}")
        local results = Session.replay("{USER_ID}", {{
            mode = "exact",
            compare_results = true,
            timeout_seconds = 300,
            stop_on_error = false,
            metadata = {{replay_reason = "testing", replayed_by = "admin"}}
        }})
        return can, results
        """,
    )
    assert can is True
    assert set(results) >= REPLAY_FIELDS
    assert results["session_id"] == USER_ID
    assert (results["hooks_replayed"], results["successful_replays"]) == (1, 1)
    assert results["failed_replays"] == 0
    assert results["total_duration"] >= 0
    assert results["metadata"] == {"replay_reason": "testing", "replayed_by": "admin"}


def test_compare_results_fails_a_recording_whose_hook_now_answers_otherwise(
    lua: ScriptRuntime,
) -> None:
    lua.execute(RECORDED)
    results = run(
        lua,
        f"""
        for _, h in ipairs(Hook.list()) do Hook.unregister(h.id) end
        Hook.register("BeforeStateWrite", function(ctx) return "skip" end)
        return Session.replay("{USER_ID}", {{compare_results = true}})
        """,
    )
    assert (results["successful_replays"], results["failed_replays"]) == (0, 1)
    assert "returned skip, recorded continue" in results["errors"][0]["error"]


def test_simulate_and_debug_modes(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    assert (
        run(lua, f'return Session.replay("{USER_ID}", {{mode = "simulate"}}).hooks_replayed') == 1
    )
    trace = run(lua, f'return Session.replay("{USER_ID}", {{mode = "debug"}}).trace')
    assert [step["point"] for step in trace] == ["BeforeStateWrite"]


def test_get_replay_metadata_and_list_replayable(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    meta, replayable = run(
        lua,
        f"""
        Session.create({{}})  -- nothing recorded: not replayable
        return Session.get_replay_metadata("{USER_ID}"), Session.list_replayable()
        """,
    )
    assert meta["session_id"] == USER_ID
    assert meta["can_replay"] is True
    assert meta["recorded_hooks"] == 1
    assert meta["hook_points"] == ["BeforeStateWrite"]
    assert meta["first_recorded_at"] == meta["last_recorded_at"] is not None
    assert replayable == [USER_ID]


def test_an_unknown_replay_option_is_refused_by_name(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    with pytest.raises(ScriptError) as info:
        run(lua, f'Session.replay("{USER_ID}", {{speed = 2}})')
    assert info.value.evalue.startswith("Session.replay: unknown option 'speed'; allowed: ")


INSTANCE_METHODS = [
    "get_id",
    "get_name",
    "get_status",
    "get_created_at",
    "get_tags",
    "add_tag",
    "has_tag",
    "store_value",
    "get_value",
]


def test_the_appendix_instance_methods_work_on_what_create_returns(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local session = Session.builder():name("my-session"):tag("production"):build()
        local id = session:get_id()
        local name = session:get_name()
        local status = session:get_status()
        local created = session:get_created_at()
        session:add_tag("important")
        session:add_tag("important")  -- once only
        local tags = {}
        for i, tag in ipairs(session:get_tags()) do tags[i] = tag end
        session:store_value("last_query", "weather")
        return {id == session, name, status, created == Session.get(session).created_at, tags,
          session:has_tag("production"), session:has_tag("nope"), session:get_value("last_query"),
          State.load("session:" .. session, "last_query"), session:get_value("missing")}
        """,
    )
    assert out == [
        True,
        "my-session",
        "active",
        True,
        ["production", "important"],
        True,
        False,
        "weather",
        "weather",
    ]


def test_the_session_is_its_id_so_string_uses_keep_working(lua: ScriptRuntime) -> None:
    kind, same, joined, current = run(
        lua,
        """
        local session = Session.create({name = "n"})
        Session.set_current(session)
        return type(session), Session.get_current() == session, "session:" .. session,
          Session.get_current():get_name()
        """,
    )
    assert kind == "string"
    assert same is True
    assert joined.startswith("session:") and len(joined) == len("session:") + 36
    assert current == "n"


def test_records_from_get_and_list_have_the_methods_and_their_fields(
    lua: ScriptRuntime,
) -> None:
    status, field, listed, keys = run(
        lua,
        """
        local id = Session.create({name = "rec"})
        Session.suspend(id)
        local record = Session.get(id)
        local keys = 0
        for _ in pairs(record) do keys = keys + 1 end
        return record:get_status(), record.status, Session.list()[1]:get_name(), keys
        """,
    )
    # the record's own fields only (description and parent_id are nil): methods are not keys
    assert (status, field, listed, keys) == ("suspended", "suspended", "rec", 8)


def test_every_appendix_instance_method_is_a_function_of_a_session(lua: ScriptRuntime) -> None:
    for name in INSTANCE_METHODS:
        kinds = run(
            lua,
            f"local s = Session.create({{}}); return type(s.{name}), type(Session.get(s).{name})",
        )
        assert kinds == ["function", "function"], name


def test_an_instance_method_on_a_string_that_is_no_session_says_so(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, 'return ("user-123"):get_status()')
    assert info.value.evalue == (
        "session:get_status: session id must be a UUID string, got 'user-123'"
    )
    with pytest.raises(ScriptError) as info:
        run(lua, "local id = Session.create({}); return id:add_tag(5)")
    assert "session:add_tag: tag must be a string, got integer" in info.value.evalue


def test_the_python_engine_session_has_the_methods_and_is_a_string(
    isolated_env: object,
) -> None:
    from llmspell.runtime import load_config

    rt = ScriptRuntime.with_engine(load_config(profile="memory", env={}).config, "python")
    try:
        out = rt.execute(
            """
s = Session.create({"name": "py", "tags": ["a"]})
s.add_tag("b")
s.store_value("k", 1)
(isinstance(s, str), s.get_tags(), s.get_value("k"), Session.get(s).get_name())
"""
        ).value
    finally:
        rt.close()
    assert out == (True, ["a", "b"], 1, "py")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{timeout_seconds = -1}", "timeout_seconds must be > 0, got -1"),
        ('{timeout_seconds = "300"}', "timeout_seconds must be a number, got string"),
        ('{compare_results = "yes"}', "compare_results must be a boolean, got string"),
    ],
)
def test_bad_replay_options_are_refused_saying_what_is_allowed(
    lua: ScriptRuntime, options: str, message: str
) -> None:
    lua.execute(RECORDED)
    with pytest.raises(ScriptError) as info:
        run(lua, f'Session.replay("{USER_ID}", {options})')
    assert info.value.evalue == f"Session.replay: {message}"
