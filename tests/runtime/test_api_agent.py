"""`Agent` on the offline mock provider: the builder and the reference's argument forms, the
result table, conversations kept in agent state, tool calling through `Tool` with hooks,
memory, streaming, hooks around execution, the reference's helpers, and agent steps in
workflows. (Vendor wire formats are tested against fake servers in tests/providers.)"""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of, memory_config

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.config import with_overrides
from llmspell.runtime.providers import ProviderManager


def value(rt: ScriptRuntime, code: str) -> Any:
    return rt.execute(code).value


def last_request(rt: ScriptRuntime, name: str = "mock") -> dict[str, Any]:
    request = rt.infrastructure.get(ProviderManager).last_request(name)
    assert request is not None
    return request.as_dict()


# --- building and executing ---------------------------------------------------------------


def test_builder_settings_reach_the_request_and_execute_returns_the_documented_table(
    lua: ScriptRuntime,
) -> None:
    out = value(
        lua,
        """
      local a = Agent.builder():name("helper"):type("llm"):description("helps")
        :model("mock/mock-2"):system_prompt("Be brief."):temperature(0.3):max_tokens(50)
        :capability("reasoning"):context_window(500):build()
      return a:execute{text = "Hello there"}
    """,
    )
    assert set(out) == {"success", "text", "tool_calls", "usage", "metadata"}
    assert out["success"] is True and out["text"] == "You said: Hello there"
    assert out["tool_calls"] == {}  # an empty Lua table
    assert out["usage"]["prompt_tokens"] > 0 and out["usage"]["completion_tokens"] == 4
    assert out["usage"]["total_tokens"] == out["usage"]["prompt_tokens"] + 4
    meta = out["metadata"]
    assert (meta["agent"], meta["provider"], meta["model"]) == ("helper", "mock", "mock-2")
    assert meta["rounds"] == 1 and meta["finish_reason"] == "stop" and meta["duration_ms"] > 0
    sent = last_request(lua)
    assert sent["model"] == "mock-2" and sent["temperature"] == 0.3 and sent["max_tokens"] == 50
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][-1] == {"role": "user", "content": "Hello there"}


@pytest.mark.parametrize(
    "argument",
    [
        '"Say hi"',
        '{text = "Say hi"}',
        '{prompt = "Say hi"}',
        '{input = "Say hi"}',
        '{message = "Say hi"}',
        '{text = "Say hi", temperature = 0.9, max_tokens = 500}',
    ],
)
def test_execute_accepts_the_reference_input_forms(lua: ScriptRuntime, argument: str) -> None:
    out = value(
        lua, f'return Agent.builder():name("f"):model("mock"):build():execute({argument}).text'
    )
    assert out == "You said: Say hi"


def test_per_call_settings_override_the_agents(lua: ScriptRuntime) -> None:
    lua.execute(
        'Agent.builder():name("o"):model("mock"):temperature(0.1):build()'
        ':execute{text = "x", temperature = 0.9, max_tokens = 500}'
    )
    sent = last_request(lua)
    assert (sent["temperature"], sent["max_tokens"]) == (0.9, 500)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ('{texts = "x"}', "unknown input field 'texts'; allowed: text, prompt"),
        ("{}", "input needs the prompt in exactly one of text, prompt"),
        ('{text = "a", prompt = "b"}', "(got text, prompt)"),
        ('""', "the prompt must be a non-empty string"),
        ("42", "input must be a string or a table"),
        ('{text = "x", temperature = 7}', "temperature must be from 0 to 2, got 7"),
        ('{text = "x", session_id = 5}', "session_id must be a non-empty string"),
    ],
)
def test_bad_input_is_refused_naming_what_is_allowed(
    lua: ScriptRuntime, argument: str, message: str
) -> None:
    lua.execute('a = Agent.builder():name("b"):model("mock"):build()')
    error = error_of(lua, f"a:execute({argument})")
    assert error.evalue.startswith("Agent.execute:") and message in error.evalue


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            'Agent.builder():name("x"):model("nope/m"):build()',
            "unknown provider 'nope' in model 'nope/m'; providers: mock",
        ),
        (
            'Agent.builder():name("x"):build()',
            "needs a model: :model('provider/model') (providers: mock)",
        ),
        (
            'Agent.builder():name("x"):model("mock"):allow_tool("nope"):build()',
            "no tool named 'nope'; tools: archive-handler, base64-encoder",
        ),
        ('Agent.builder():temperature("hot")', "temperature must be a number"),
        (
            'Agent.builder():type("tool")',
            "type must be one of llm, composite, got 'tool' (wrap an agent as a tool",
        ),
        (
            'Agent.builder():name("bad name!"):model("mock"):build()',
            "name must be 1-128 characters",
        ),
        ('Agent.create{model = "mock", colour = "red"}', "unknown setting 'colour'; allowed:"),
    ],
)
def test_bad_settings_are_refused_with_what_is_allowed(
    lua: ScriptRuntime, code: str, message: str
) -> None:
    assert message in error_of(lua, code).evalue


def test_create_and_register_take_a_table_of_the_builders_settings(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local a = Agent.create{name = "t1", model = "mock", system_prompt = "S", tools = {"calculator"}, memory_enabled = false}
      local b = Agent.register("t2", {model = "mock", allowed_tools = {"uuid-generator"}, capabilities = {"x"}})
      return {Agent.get_info("t1"), Agent.get_info("t2"), b:execute("hi").text}
    """,
    )
    first, second, text = out
    assert first["tools"] == ["calculator"] and first["system_prompt"] == "S"
    # a bare "mock" is the built-in mock provider's default model: the provider is named
    assert first["provider"] == "mock" and second["provider"] == "mock"
    assert second["tools"] == ["uuid-generator"] and second["capabilities"] == ["x"]
    assert text == "You said: hi"


# --- conversations and agent state -----------------------------------------------------------


def test_the_conversation_is_sent_with_the_next_call_and_reset_forgets_it(
    lua: ScriptRuntime,
) -> None:
    lua.execute(
        'a = Agent.builder():name("chat"):model("mock"):build()'
        '; a:execute("My name is Ada"); r = a:execute("What is my name?")'
    )
    assert value(lua, "return r.text") == "From what I know: My name is Ada"
    roles = [m["role"] for m in last_request(lua)["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert value(lua, "return #a:history()") == 4
    assert value(lua, "return a:reset()") == 4
    lua.execute('a:execute("again")')
    assert [m["role"] for m in last_request(lua)["messages"]] == ["user"]


def test_conversations_are_kept_per_session_and_bounded_by_max_history(
    lua: ScriptRuntime,
) -> None:
    lua.execute(
        """
      a = Agent.builder():name("s"):model("mock"):max_history(4):build()
      for _, word in ipairs{"alpha", "bravo", "charlie", "delta", "echo"} do
        a:execute{text = word, session_id = "one"}
      end
      a:execute{text = "other", session_id = "two"}
    """
    )
    one = value(lua, 'return a:history("one")')
    assert [m["content"] for m in one] == ["delta", "You said: delta", "echo", "You said: echo"]
    assert len(value(lua, 'return a:history("two")')) == 2
    lua.execute(
        'b = Agent.builder():name("stateless"):model("mock"):max_history(0):build(); b:execute("x"); b:execute("y")'
    )
    assert len(last_request(lua)["messages"]) == 1


def test_an_agent_and_its_conversation_outlive_the_runtime(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    db = str(tmp_path / "agents.db")
    first = make_runtime(storage__backend="sqlite", storage__path=db)
    first.execute(
        'local a = Agent.builder():name("keeper"):model("mock"):system_prompt("S"):build()'
        '; a:execute("The code word is heliotrope"); a:set_state({mood = "calm"})'
    )
    first.close()
    second = make_runtime(storage__backend="sqlite", storage__path=db)
    out = value(
        second,
        'local a = Agent.get("keeper"); local r = a:execute("What is the code word?")'
        "; return {r.text, a:get_state(), Agent.get_details('keeper')}",
    )
    text, state, details = out
    assert text == "From what I know: The code word is heliotrope"
    assert state == {"mood": "calm"}
    assert details["system_prompt"] == "S" and details["usage"]["calls"] == 2
    assert details["messages"] == 4 and details["state_version"] >= 4


def test_get_state_set_state_round_trip_and_refuse_non_data(lua: ScriptRuntime) -> None:
    lua.execute('a = Agent.builder():name("st"):model("mock"):build()')
    assert value(lua, "return a:get_state()") == {}
    lua.execute('a:set_state({context = "updated", n = 2})')
    assert value(lua, "return a:get_state()") == {"context": "updated", "n": 2}
    assert "must be data" in error_of(lua, "a:set_state({f = print})").evalue


# --- tools ------------------------------------------------------------------------------------


def test_a_tool_call_runs_through_tool_with_hooks_and_its_result_goes_back_to_the_model(
    lua: ScriptRuntime,
) -> None:
    out = value(
        lua,
        """
      seen = {}
      Hook.register("BeforeToolExecution", function(ctx) seen[#seen + 1] = ctx.component end)
      Provider.script("mock", {
        {tool_calls = {{name = "calculator", arguments = {input = "6 * 7"}}}},
        "The answer is 42.",
      })
      local a = Agent.builder():name("calc"):model("mock"):allow_tool("calculator"):build()
      return a:execute("What is 6 times 7?")
    """,
    )
    assert out["text"] == "The answer is 42." and out["metadata"]["rounds"] == 2
    (call,) = out["tool_calls"]
    assert (call["name"], call["arguments"], call["success"], call["result"]) == (
        "calculator", {"input": "6 * 7"}, True, 42,
    )  # fmt: skip
    assert value(lua, "return seen") == ["calculator"]
    sent = last_request(lua)
    assert [t["name"] for t in sent["tools"]] == ["calculator"]
    assert sent["tools"][0]["parameters"]["type"] == "object"
    assistant, result = sent["messages"][-2:]
    assert assistant["tool_calls"][0]["name"] == "calculator"
    assert result == {
        "role": "tool", "content": '{"result": 42}', "tool_call_id": assistant["tool_calls"][0]["id"], "name": "calculator",
    }  # fmt: skip


def test_tool_failures_go_back_to_the_model_as_results_not_exceptions(
    lua: ScriptRuntime,
) -> None:
    out = value(
        lua,
        """
      Tool.register{name = "boom", description = "fails", fn = function() error("kaboom") end}
      Hook.register("BeforeToolExecution", function(ctx)
        if ctx.component == "uuid-generator" then return {type = "cancel", reason = "no ids today"} end
      end)
      Provider.script("mock", {
        {tool_calls = {
          {name = "calculator", arguments = {input = "1 +"}},
          {name = "boom", arguments = {}},
          {name = "calculator", arguments = {wrong = 1}},
          {name = "uuid-generator", arguments = {operation = "generate"}},
          {name = "hash-calculator", arguments = {operation = "hash", algorithm = "md5", input = "x"}},
        }},
        "done",
      })
      local a = Agent.builder():name("t"):model("mock"):tools({"calculator", "boom", "uuid-generator"}):build()
      return a:execute("go")
    """,
    )
    assert out["text"] == "done"
    calls = out["tool_calls"]
    assert [c["success"] for c in calls] == [False] * 5
    assert "kaboom" in calls[1]["error"]
    assert "parameter 'input' is required" in calls[2]["error"]
    assert "cancelled by hook: no ids today" in calls[3]["error"]
    assert (
        "is not available to this agent; tools: calculator, boom, uuid-generator"
        in calls[4]["error"]
    )
    results = [m for m in last_request(lua)["messages"] if m["role"] == "tool"]
    assert len(results) == 5 and all(m["is_error"] for m in results)


def test_tool_rounds_stop_at_the_limit_with_a_request_for_text(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(agents__max_tool_rounds=2)
    out = value(
        rt,
        """
      local again = {tool_calls = {{name = "calculator", arguments = {input = "1+1"}}}}
      Provider.script("mock", {again, again, again})
      return Agent.builder():name("loop"):model("mock"):allow_tool("calculator"):build():execute("go")
    """,
    )
    assert out["metadata"]["rounds"] == 3 and len(out["tool_calls"]) == 2
    assert last_request(rt)["tool_choice"] == "none"


# --- memory -----------------------------------------------------------------------------------


def test_memory_answers_a_follow_up_from_what_an_earlier_execute_stored(
    lua: ScriptRuntime,
) -> None:
    out = value(
        lua,
        """
      local sid = Session.create{name = "chat"}
      local a = Agent.builder():name("mem"):model("mock"):memory(true):max_history(0):build()
      a:execute{text = "I keep my bicycle in the garden shed", session_id = sid}
      a:execute{text = "The weather is nice today", session_id = sid}
      local r = a:execute{text = "Where is my bicycle kept?", session_id = sid}
      return {r, #Memory.episodic.session(sid)}
    """,
    )
    result, stored = out
    assert result["text"] == "From what I know: I keep my bicycle in the garden shed"
    assert result["metadata"]["context_chunks"] >= 1 and stored == 6
    system = last_request(lua)["messages"][0]
    assert system["role"] == "system" and "Relevant context from memory:" in system["content"]
    assert "garden shed" in system["content"]
    # max_history(0): the earlier turns came from memory, not from the conversation
    assert len(last_request(lua)["messages"]) == 2


# --- streaming --------------------------------------------------------------------------------


def test_invoke_stream_calls_the_function_per_piece_in_every_documented_form(
    lua: ScriptRuntime,
) -> None:
    out = value(
        lua,
        """
      local a = Agent.builder():name("st"):model("mock"):build()
      local p1, p2 = {}, {}
      local r1 = a:invokeStream("tell me a story", function(piece) p1[#p1 + 1] = piece end)
      local r2 = a:invokeStream({text = "another one"}, {max_tokens = 20}, function(piece) p2[#p2 + 1] = piece end)
      return {p1, r1.text, p2, r2.text}
    """,
    )
    p1, text1, p2, text2 = out
    assert p1 == ["You ", "said: ", "tell ", "me ", "a ", "story"] and "".join(p1) == text1
    assert "".join(p2) == text2 == "You said: another one"
    assert last_request(lua)["max_tokens"] == 20


def test_invoke_stream_without_a_function_prints_the_pieces(lua: ScriptRuntime) -> None:
    res = lua.execute('Agent.builder():name("p"):model("mock"):build():invokeStream("hi there")')
    assert res.stdout == "You said: hi there\n"


def test_execute_async_calls_back_with_the_result_or_the_error(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local a = Agent.builder():name("as"):model("mock"):build()
      local got = {}
      a:execute_async("hello", function(result, err) got.text = result.text; got.err = err end)
      a:execute_async({bogus = 1}, function(result, err) got.result2 = result; got.err2 = err end)
      return got
    """,
    )
    assert out["text"] == "You said: hello" and "err" not in out
    assert "result2" not in out and out["err2"].startswith("Agent.execute: unknown input field")


# --- hooks around execution ------------------------------------------------------------------


def test_agent_hooks_modify_input_and_result_and_cancel(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      Hook.register("BeforeAgentExecution", function(ctx)
        return {type = "modified", data = {input = ctx.data.input .. "!"}}
      end)
      Hook.register("AfterAgentExecution", function(ctx)
        local d = ctx.data; d.text = d.text .. " (checked)"; return {type = "modified", data = d}
      end)
      return Agent.builder():name("h"):model("mock"):build():execute("hi").text
    """,
    )
    assert out == "You said: hi! (checked)"
    lua.execute(
        'Hook.register("BeforeAgentExecution", function() return {type = "cancel", reason = "quiet hours"} end, "highest")'
    )
    error = error_of(lua, 'Agent.get("h"):execute("hello")')
    assert error.evalue == "Agent.execute: cancelled by hook: quiet hours"


def test_a_provider_failure_fires_agent_error_and_raises_a_clear_error(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime(
        providers={
            "down": {
                "type": "openai",
                "base_url": "http://127.0.0.1:9/v1",
                "max_retries": 0,
                "api_key_env": "LLMSPELL_TEST_NO_SUCH_KEY",
            }
        }
    )
    rt.execute(
        'errors = {}; Hook.register("AgentError", function(ctx) errors[#errors + 1] = ctx.data.error end)'
    )
    error = error_of(rt, 'Agent.builder():name("d"):model("down/m"):build():execute("hi")')
    assert error.ename == "ProviderError"
    assert (
        "provider 'down' needs an API key: set LLMSPELL_TEST_NO_SUCH_KEY or run `llmspell keys add down`"
        in error.evalue
    )
    assert value(rt, "return errors")[0] == error.evalue.removeprefix("Agent.execute: ")
    assert value(rt, 'return Agent.get_details("d").last_run.success') is False


# --- the reference's helpers -------------------------------------------------------------------


def test_list_get_discover_info_and_remove(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      Agent.builder():name("a1"):model("mock"):capability("code-generation"):build()
      Agent.builder():name("a2"):model("mock/m"):allow_tool("calculator"):build()
      return {Agent.list(), Agent.discover_by_capability("code-generation"), Agent.get("zzz") == nil,
              Agent.get_info("a2"), Agent.list_capabilities(), #Agent.list_instances(),
              Agent.remove("a1"), #Agent.discover()}
    """,
    )
    listed, coders, missing, info, capabilities, instances, removed, left = out
    assert [a["name"] for a in listed] == ["a1", "a2"]
    assert set(listed[0]) >= {
        "name",
        "type",
        "model",
        "provider",
        "tools",
        "capabilities",
        "memory",
        "calls",
    }
    assert [a["name"] for a in coders] == ["a1"] and missing is True
    assert (info["model"], info["provider"], info["tools"]) == ("mock/m", "mock", ["calculator"])
    assert {"chat", "code-generation", "memory", "streaming", "tool_calling"} <= set(capabilities)
    assert (instances, removed, left) == (2, True, 1)


def test_templates_make_agents(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local names = {}
      for _, t in ipairs(Agent.list_templates()) do names[#names + 1] = t.name end
      local a = Agent.create_from_template("code-assistant", {model = "mock", name = "coder"})
      return {names, Agent.get_info("coder"), a:execute("write hello world").text}
    """,
    )
    names, info, text = out
    assert "code-assistant" in names and "summarizer" in names
    assert info["template"] == "code-assistant" and info["temperature"] == 0.2
    assert "programmer" in info["system_prompt"] and text.startswith("You said:")
    assert (
        "no agent template 'nope'; templates:"
        in error_of(lua, 'Agent.create_from_template("nope", {model = "mock"})').evalue
    )


def test_composites_run_their_members_in_sequence_in_parallel_and_by_vote(
    lua: ScriptRuntime,
) -> None:
    out = value(
        lua,
        """
      Agent.builder():name("m1"):model("mock"):max_history(0):build()
      Agent.builder():name("m2"):model("mock"):max_history(0):build()
      local seq = Agent.create_composite{name = "seq", agents = {"m1", "m2"}, strategy = "sequential"}
      local par = Agent.create_composite{name = "par", agents = {"m1", "m2"}, strategy = "parallel"}
      Provider.script("mock", {"Paris.", "paris", "Lyon"})
      Agent.builder():name("m3"):model("mock"):max_history(0):build()
      local vote = Agent.create_composite{name = "vote", agents = {"m1", "m2", "m3"}, strategy = "vote"}
      local v = vote:execute("capital of France?")
      return {seq:execute("hi"), par:execute("yo"), v, Agent.get_hierarchy("vote")}
    """,
    )
    seq, par, vote, tree = out
    assert seq["text"] == "You said: You said: hi"
    assert par["text"] == "[m1] You said: yo\n\n[m2] You said: yo"
    assert vote["text"] == "Paris." and vote["metadata"]["strategy"] == "vote"
    assert [m["agent"] for m in vote["metadata"]["members"]] == ["m1", "m2", "m3"]
    assert tree == {"name": "vote", "type": "composite", "children": [
        {"name": n, "type": "llm", "children": {}} for n in ("m1", "m2", "m3")
    ]}  # fmt: skip


def test_an_agent_wrapped_as_a_tool_is_callable_by_tool_and_by_other_agents(
    make_runtime: MakeRuntime,
) -> None:
    lua = make_runtime(providers={"inner": {"type": "mock"}})
    out = value(
        lua,
        """
      Agent.builder():name("expert"):model("inner"):description("knows things"):build()
      local name = Agent.wrap_as_tool("expert")
      local direct = Tool.execute(name, {text = "question"})
      Provider.script("mock", {{tool_calls = {{name = "expert", arguments = {text = "inner"}}}}, "outer done"})
      local boss = Agent.builder():name("boss"):model("mock"):allow_tool("expert"):build()
      return {name, direct.result, boss:execute("delegate")}
    """,
    )
    name, direct, boss = out
    assert name == "expert" and direct == "You said: question"
    assert boss["text"] == "outer done" and boss["tool_calls"][0]["result"] == "You said: inner"


def test_contexts_inherit_and_shared_memory_is_kept_in_state(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      Agent.create_context("session-123", {user = "alice", preferences = {theme = "dark"}})
      Agent.create_child_context("session-123", "sub", {task = "weather"})
      Agent.update_context("session-123", {last_query = "weather?"})
      local child = Agent.get_context_data("sub")
      Agent.remove_context("session-123")
      local ok = pcall(Agent.get_context_data, "sub")
      Agent.set_shared_memory("api_results", {data = {1, 2}})
      return {child, ok, Agent.get_shared_memory("api_results"), State.load("agent_shared", "api_results")}
    """,
    )
    child, ok, shared, state = out
    assert child == {
        "user": "alice",
        "preferences": {"theme": "dark"},
        "task": "weather",
        "last_query": "weather?",
    }
    assert ok is False and shared == state == {"data": [1, 2]}


# --- workflows --------------------------------------------------------------------------------


def test_agent_steps_run_agents_with_placeholders_in_sequence(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local w = Agent.builder():name("writer"):model("mock"):max_history(0):build()
      local wf = Workflow.sequential{name = "pipe", steps = {
        {name = "draft", agent = "writer", prompt = "write about {{input.topic}}"},
        {name = "polish", type = "agent", agent = w, input = {text = "polish: {{step.draft.result}}"}},
        {name = "plain", agent = "writer"},
      }}
      return wf:execute{topic = "owls"}
    """,
    )
    assert out["success"] is True, out.get("error")
    assert out["outputs"]["draft"]["result"] == "You said: write about owls"
    assert out["outputs"]["polish"]["text"] == "You said: polish: You said: write about owls"
    assert out["outputs"]["plain"]["text"] == 'You said: {"topic": "owls"}'
    assert out["outputs"]["draft"]["usage"]["completion_tokens"] > 0


def test_a_failing_agent_step_fails_the_run_per_its_strategy(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        'return Workflow.sequential{name = "w", steps = {{name = "s", agent = "ghost", input = "x"}}}:execute()',
    )
    assert out["success"] is False and "no agent named 'ghost'" in out["error"]
    error = error_of(
        lua,
        'Workflow.sequential{name = "w", steps = {{name = "s", tool = "calculator", prompt = "x"}}}',
    )
    assert "prompt is for agent steps; use input" in error.evalue


def test_parallel_agent_steps_have_their_requests_in_flight_together(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime(providers={"slow": {"type": "mock", "delay_ms": 400}})
    out = value(
        rt,
        """
      for i = 1, 4 do Agent.builder():name("p" .. i):model("slow"):build() end
      local steps = {}
      for i = 1, 4 do steps[i] = {name = "s" .. i, agent = "p" .. i, input = "q" .. i} end
      return Workflow.parallel{name = "fan", steps = steps}:execute()
    """,
    )
    assert out["success"] is True
    assert [out["outputs"][f"s{i}"]["text"] for i in range(1, 5)] == [
        f"You said: q{i}" for i in range(1, 5)
    ]
    spans = sorted((s["offset_ms"], s["offset_ms"] + s["duration_ms"]) for s in out["steps"])
    # every step started before the first one ended: the four requests overlapped
    assert all(start < spans[0][1] for start, _ in spans)


# --- consolidation in llm mode ------------------------------------------------------------------


def _consolidation_runtime(make_runtime: MakeRuntime) -> ScriptRuntime:
    return make_runtime(memory__llm_model="mock/consolidator")


def test_llm_consolidation_applies_the_models_decisions(make_runtime: MakeRuntime) -> None:
    rt = _consolidation_runtime(make_runtime)
    decisions = '{"decisions": [{"op": "ADD", "entity": {"name": "Gus", "type": "person"}, "properties": {"city": "Bonn"}}]}'
    out = value(
        rt,
        f"""
      Memory.episodic.add("s", "user", "Gus lives in Bonn.")
      Provider.script("mock", {{{lua_quote(decisions)}}})
      local report = Memory.consolidate{{mode = "llm"}}
      return {{report, Memory.semantic.query{{name = "Gus"}}[1].properties.city}}
    """,
    )
    report, city = out
    assert (report["entities_added"], report["mode"], city) == (1, "llm", "Bonn")
    prompt = last_request(rt)["messages"][0]["content"]
    assert "Gus lives in Bonn." in prompt and last_request(rt)["model"] == "consolidator"


def test_an_invalid_reply_is_asked_for_again_once_then_reported(
    make_runtime: MakeRuntime,
) -> None:
    rt = _consolidation_runtime(make_runtime)
    good = '{"decisions": [{"op": "ADD", "entity": {"name": "Ida", "type": "person"}}]}'
    rt.execute('Memory.episodic.add("s", "user", "Ida is here.")')
    rt.execute(f'Provider.script("mock", {{"Sure! Here you go", {lua_quote(good)}}})')
    assert value(rt, 'return Memory.consolidate{mode = "llm"}.entities_added') == 1
    assert "could not be used" in last_request(rt)["messages"][0]["content"]
    rt.execute('Memory.episodic.add("s", "user", "Jo is here.")')
    rt.execute('Provider.script("mock", {"not json", "still not json"})')
    error = error_of(rt, 'Memory.consolidate{mode = "llm"}')
    assert "the LLM's consolidation reply was invalid twice" in error.evalue
    assert value(rt, "return Memory.stats().semantic_entities") == 1


def lua_quote(text: str) -> str:
    from runtime_helpers import lua_string

    return lua_string(text)


# --- the Python engine ------------------------------------------------------------------------


def test_the_python_engine_has_the_same_agents(py: ScriptRuntime) -> None:
    out = value(
        py,
        """
a = Agent.builder().name("py").model("mock").allow_tool("calculator").build()
pieces = []
streamed = a.invokeStream("hello", lambda piece: pieces.append(piece))
Provider.script("mock", [{"tool_calls": [{"name": "calculator", "arguments": {"input": "2+2"}}]}, "four"])
result = a.execute({"text": "add"})
[pieces, streamed["text"], result["text"], result["tool_calls"][0]["result"], Agent.get("py").info()["name"]]
""",
    )
    assert out == [["You ", "said: ", "hello"], "You said: hello", "four", 4, "py"]


def test_config_defaults_apply(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(agents__default_model="mock/dflt")
    assert (
        value(rt, 'return Agent.builder():name("d"):build():execute("x").metadata.model') == "dflt"
    )
    config = with_overrides(memory_config(), {"agents.max_history_messages": 2})
    assert config.agents.max_history_messages == 2


def test_the_time_limit_stops_a_model_call_that_does_not_answer(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime(
        engines__lua__timeout_s=0.5, providers={"stuck": {"type": "mock", "delay_ms": 600000}}
    )
    rt.execute('a = Agent.builder():name("s"):model("stuck"):build()')
    error = error_of(rt, 'a:execute("hello?")')
    assert error.ename == "TimeoutError"
    assert rt.execute("return 1 + 1").value == 2
    assert value(rt, 'return Agent.get_details("s").usage.calls') == 0


def test_max_concurrency_bounds_the_agent_requests_in_flight(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(providers={"slow": {"type": "mock", "delay_ms": 300}})
    out = value(
        rt,
        """
      Agent.builder():name("b"):model("slow"):max_history(0):build()
      local steps = {}
      for i = 1, 4 do steps[i] = {name = "s" .. i, agent = "b", input = "q" .. i} end
      return Workflow.parallel{name = "two_at_a_time", steps = steps, max_concurrency = 2}:execute()
    """,
    )
    assert out["success"] is True
    spans = [(s["offset_ms"], s["offset_ms"] + s["duration_ms"]) for s in out["steps"]]
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most == 2
