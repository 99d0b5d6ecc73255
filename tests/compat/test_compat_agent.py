"""`Agent` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written, against OpenAI and
Anthropic providers that point at a local fake server, or fail with an error that says why) and
returns the documented fields; see docs/reference/compatibility.md."""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import run
from fakes.llm_servers import Error, FakeLLMServer, Reply

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

KEY_ENV = "LLMSPELL_COMPAT_TEST_KEY"
Vendors = Callable[..., ScriptRuntime]


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    monkeypatch.setenv(KEY_ENV, "sk-compat")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def vendors(isolated_env: Path, fake_llm: FakeLLMServer) -> Iterator[Vendors]:
    """`vendors("openai", "anthropic")`: a Lua runtime whose providers of those names (and
    types) answer from the fake server."""
    made: list[ScriptRuntime] = []

    def make(*names: str) -> ScriptRuntime:
        overrides: dict[str, Any] = {}
        for name in names:
            section = {"type": name, "base_url": fake_llm.base_url(name)}
            section |= {"api_key_env": KEY_ENV, "max_retries": 0, "timeout_s": 30}
            overrides[f"providers.{name}"] = section
        config = with_overrides(load_config(profile="memory", env={}).config, overrides)
        rt = ScriptRuntime.with_engine(config, "lua")
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def both(vendors: Vendors) -> ScriptRuntime:
    return vendors("openai", "anthropic")


def sent(server: FakeLLMServer) -> dict[str, Any]:
    """The body of the last chat request the fake server got."""
    body: dict[str, Any] = server.chat_requests[-1].body
    return body


# --- Core Methods ------------------------------------------------------------------------------

BUILDER_EXAMPLE = """
if not Tool.exists("file-reader") then
    Tool.register{name = "file-reader", description = "reads a file", fn = function() return "" end}
end
local agent = Agent.builder()
    :name("assistant")
    :type("llm")  -- or "tool", "composite"
    :model("openai/gpt-4")
    :temperature(0.7)
    :max_tokens(2000)
    :system_prompt("You are a helpful assistant")
    :tool("calculator")
    :tool("file-reader")
    :capability("reasoning")
    :capability("code-generation")
    :memory_enabled(true)
    :context_window(8000)
    :build()
"""


def test_the_builder_example_runs_as_written_and_keeps_every_setting(
    both: ScriptRuntime,
) -> None:
    info = run(both, BUILDER_EXAMPLE + 'return Agent.get_info("assistant")')
    assert info["name"] == "assistant" and info["type"] == "llm"
    assert (info["model"], info["provider"]) == ("openai/gpt-4", "openai")
    assert (info["temperature"], info["max_tokens"], info["context_window"]) == (0.7, 2000, 8000)
    assert info["system_prompt"] == "You are a helpful assistant"
    assert info["tools"] == ["calculator", "file-reader"]
    assert info["capabilities"] == ["reasoning", "code-generation"]
    assert info["memory"] is True


def test_the_common_patterns_builder_with_a_bare_model_uses_the_one_provider(
    vendors: Vendors, fake_llm: FakeLLMServer
) -> None:
    rt = vendors("openai")
    out = run(
        rt,
        """
        local agent = Agent.builder()
            :name("assistant")
            :model("gpt-4")
            :temperature(0.7)
            :build()
        return agent:execute("Hello")
        """,
    )
    assert out["success"] is True and out["text"] == "OK"
    assert sent(fake_llm)["model"] == "gpt-4" and sent(fake_llm)["temperature"] == 0.7


def test_a_bare_model_among_several_providers_asks_for_provider_slash_model(
    both: ScriptRuntime,
) -> None:
    with pytest.raises(
        ScriptError,
        match="model 'gpt-4' names no provider; write 'provider/model' with one of: anthropic, mock, openai",
    ):
        run(both, 'return Agent.builder():name("a"):model("gpt-4"):build()')


def test_builder_type_tool_is_refused_with_the_way_to_make_an_agent_a_tool(
    both: ScriptRuntime,
) -> None:
    with pytest.raises(
        ScriptError,
        match=r"type must be one of llm, composite, got 'tool' \(wrap an agent as a tool with Agent.wrap_as_tool\)",
    ):
        run(both, 'return Agent.builder():name("a"):type("tool"):model("openai/gpt-4"):build()')


def test_builder_type_composite_takes_its_agents_and_strategy(both: ScriptRuntime) -> None:
    out = run(
        both,
        """
        Agent.builder():name("r1"):model("mock"):build()
        Agent.builder():name("r2"):model("mock"):build()
        local team = Agent.builder():name("team"):type("composite"):agents({"r1", "r2"}):strategy("parallel"):build()
        return {Agent.get_info("team"), team:execute({text = "hi"}).text}
        """,
    )
    info, text = out
    assert (info["type"], info["members"], info["strategy"]) == (
        "composite",
        ["r1", "r2"],
        "parallel",
    )
    assert text == "[r1] You said: hi\n\n[r2] You said: hi"
    with pytest.raises(
        ScriptError,
        match=r"a composite agent needs its agents: agents = \{names...\} in a table, :agents\{names...\} on a builder",
    ):
        run(both, 'return Agent.builder():name("t"):type("composite"):build()')


@pytest.mark.parametrize(
    ("provider", "model", "request_model"),
    [
        ("openai", "gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022"),
    ],
)
def test_create_takes_the_patterns_provider_and_model_keys(
    both: ScriptRuntime, fake_llm: FakeLLMServer, provider: str, model: str, request_model: str
) -> None:
    out = run(
        both,
        f"""
        local analyzer = Agent.create({{
            name = "custom-analyzer",
            provider = "{provider}",
            model = "{model}",
            system_prompt = "Analyze the input and extract key insights."
        }})
        return {{Agent.get_info("custom-analyzer"), analyzer:execute({{text = "data"}}).text}}
        """,
    )
    info, text = out
    assert (info["model"], info["provider"], text) == (f"{provider}/{model}", provider, "OK")
    assert sent(fake_llm)["model"] == request_model


def test_builder_provider_and_model_combine_in_either_order(both: ScriptRuntime) -> None:
    out = run(
        both,
        """
        local a = Agent.builder():name("a"):provider("openai"):model("gpt-4"):build()
        local b = Agent.builder():name("b"):model("gpt-4"):provider("openai"):build()
        return {a:info().model, b:info().model}
        """,
    )
    assert out == ["openai/gpt-4", "openai/gpt-4"]


def test_create_rejects_a_provider_that_is_not_a_name(both: ScriptRuntime) -> None:
    with pytest.raises(
        ScriptError, match=r"Agent\.create: provider must be a provider's name, got 3"
    ):
        run(both, 'return Agent.create({name = "x", provider = 3, model = "m"})')


def test_list_and_get(both: ScriptRuntime) -> None:
    out = run(
        both,
        BUILDER_EXAMPLE
        + """
        local rows = {}
        local agents = Agent.list()
        for i, agent_info in ipairs(agents) do rows[i] = {agent_info.name, agent_info.type} end
        local agent = Agent.get("assistant")
        local response
        if agent then response = agent:execute("Hello!") end
        return {rows, response, Agent.get("nobody") == nil}
        """,
    )
    rows, response, missing = out
    assert rows == [["assistant", "llm"]]
    assert response["success"] is True and response["text"] == "OK" and missing is True


# --- Agent Discovery -------------------------------------------------------------------------


def test_discover_and_discover_by_capability(both: ScriptRuntime) -> None:
    out = run(
        both,
        BUILDER_EXAMPLE
        + """
        Agent.builder():name("plain"):model("mock"):build()
        local all, coders = Agent.discover(), Agent.discover_by_capability("code-generation")
        local function names(list) local n = {} for i, a in ipairs(list) do n[i] = a.name end return n end
        return {names(all), names(coders)}
        """,
    )
    assert out == [["assistant", "plain"], ["assistant"]]


# --- Agent Templates ---------------------------------------------------------------------------


def test_templates_list_and_create_from_template(both: ScriptRuntime) -> None:
    out = run(
        both,
        """
        local templates = Agent.list_templates()
        local agent = Agent.create_from_template("code-assistant", {
            model = "openai/gpt-4-turbo"
        })
        return {templates, agent:info()}
        """,
    )
    templates, info = out
    names = [t["name"] for t in templates]
    assert "code-assistant" in names
    assert {"name", "description", "system_prompt", "capabilities", "tools"} <= set(templates[0])
    assert (info["template"], info["model"]) == ("code-assistant", "openai/gpt-4-turbo")
    assert "code-generation" in info["capabilities"]


def test_register_makes_an_agent_under_the_name(
    both: ScriptRuntime, fake_llm: FakeLLMServer
) -> None:
    out = run(
        both,
        """
        Agent.register("custom-agent", {
            type = "llm",
            model = "openai/gpt-4",
            system_prompt = "Custom prompt"
        })
        return Agent.get("custom-agent"):execute({text = "hi"})
        """,
    )
    assert out["text"] == "OK"
    assert sent(fake_llm)["messages"][0] == {"role": "system", "content": "Custom prompt"}


# --- Agent Context Management and Memory -----------------------------------------------------


def test_named_contexts_as_the_appendix_uses_them(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local ctx = Agent.create_context("session-123", {
            user = "alice",
            preferences = {theme = "dark"}
        })
        Agent.update_context("session-123", {
            last_query = "What is the weather?"
        })
        Agent.create_child_context("session-123", "subsession-1", {
            task = "weather-query"
        })
        local data = Agent.get_context_data("session-123")
        local child = Agent.get_context_data("subsession-1")
        local removed = Agent.remove_context("session-123")
        local ok = pcall(Agent.get_context_data, "subsession-1")
        return {ctx, data, child, removed, ok}
        """,
    )
    ctx, data, child, removed, child_left = out
    assert ctx == "session-123"
    assert data == {
        "user": "alice",
        "preferences": {"theme": "dark"},
        "last_query": "What is the weather?",
    }
    assert child == {**data, "task": "weather-query"}
    assert removed is True and child_left is False


def test_shared_memory_round_trips_and_an_unknown_key_is_nil(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local results = {1, 2, 3}
        Agent.set_shared_memory("api_results", {data = results})
        return {Agent.get_shared_memory("api_results"), Agent.get_shared_memory("none") == nil}
        """,
    )
    assert out == [{"data": [1, 2, 3]}, True]


# --- Agent Composition -------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["sequential", "parallel", "vote"])
def test_create_composite_with_each_strategy(lua: ScriptRuntime, strategy: str) -> None:
    out = run(
        lua,
        f"""
        for _, name in ipairs({{"researcher", "writer", "reviewer"}}) do
            Agent.builder():name(name):model("mock"):max_history(0):build()
        end
        local composite = Agent.create_composite({{
            name = "research-team",
            agents = {{"researcher", "writer", "reviewer"}},
            strategy = "{strategy}"
        }})
        return {{composite:execute({{text = "hello"}}), Agent.get_hierarchy("research-team")}}
        """,
    )
    result, tree = out
    assert result["success"] is True and result["text"]
    assert tree["name"] == "research-team" and tree["type"] == "composite"
    assert [c["name"] for c in tree["children"]] == ["researcher", "writer", "reviewer"]


def test_create_composite_of_unknown_agents_names_them(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"Agent\.create_composite: no agent named 'researcher'"):
        run(lua, 'return Agent.create_composite({name = "t", agents = {"researcher"}})')


def test_wrap_as_tool_makes_a_tool_other_agents_and_scripts_call(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        Agent.builder():name("calculator-agent"):model("mock"):max_history(0):build()
        local tool = Agent.wrap_as_tool("calculator-agent")
        return {tool, Tool.exists(tool), Tool.execute(tool, {text = "6 * 7"})}
        """,
    )
    name, exists, result = out
    assert (name, exists) == ("calculator-agent", True)
    assert result["success"] is True and result["result"] == "You said: 6 * 7"


# --- Agent Information -------------------------------------------------------------------------


def test_information_functions(both: ScriptRuntime) -> None:
    out = run(
        both,
        BUILDER_EXAMPLE
        + """
        local info = Agent.get_info("assistant")
        local caps = Agent.list_capabilities()
        for i, cap in ipairs(caps) do assert(type(cap) == "string") end
        agent:execute({text = "hi"})
        return {info, caps, Agent.list_instances(), Agent.get_hierarchy("assistant"),
                Agent.get_details("assistant"), Agent.get_info("nobody") == nil,
                Agent.get_details("nobody") == nil}
        """,
    )
    info, caps, instances, tree, details, no_info, no_details = out
    assert info["model"] == "openai/gpt-4" and info["capabilities"] == [
        "reasoning",
        "code-generation",
    ]
    assert {"chat", "streaming", "tool_calling", "reasoning", "code-generation"} <= set(caps)
    assert [i["name"] for i in instances] == ["assistant"]
    assert tree == {"name": "assistant", "type": "llm", "children": {}}
    assert details["usage"]["calls"] == 1 and details["messages"] == 2
    assert {"state_version", "conversations", "last_run"} <= set(details)
    assert no_info is True and no_details is True


# --- Agent Instance Methods --------------------------------------------------------------------


def test_execute_with_a_table_and_its_parameters(
    both: ScriptRuntime, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script(Reply("Bonjour le monde"))
    out = run(
        both,
        BUILDER_EXAMPLE
        + """
        local response = agent:execute({
            text = "Translate to French: Hello world",
            temperature = 0.9,
            max_tokens = 500
        })
        return response
        """,
    )
    assert out["success"] is True and out["text"] == "Bonjour le monde"
    assert set(out["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    body = sent(fake_llm)
    assert (body["temperature"], body["max_tokens"]) == (0.9, 500)
    assert body["messages"][-1] == {"role": "user", "content": "Translate to French: Hello world"}


def test_execute_with_a_string_works_where_the_reference_fails(lua: ScriptRuntime) -> None:
    out = run(lua, 'return Agent.builder():name("a"):model("mock"):build():execute("Hello world")')
    assert out["text"] == "You said: Hello world"


def test_execute_with_neither_names_what_it_takes(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"Agent\.execute"):
        run(lua, 'return Agent.builder():name("a"):model("mock"):build():execute(42)')


def test_invoke_stream_with_prompt_options_and_callback(
    both: ScriptRuntime, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script(Reply("Once upon a time"))
    out = run(
        both,
        BUILDER_EXAMPLE
        + """
        local chunks = {}
        local result = agent:invokeStream("Tell a story", {}, function(chunk)
            chunks[#chunks + 1] = chunk
        end)
        return {chunks, result}
        """,
    )
    chunks, result = out
    assert len(chunks) > 1 and "".join(chunks) == result["text"] == "Once upon a time"
    assert fake_llm.chat_requests[-1].stream is True


def test_execute_async_calls_back_with_result_or_error(
    both: ScriptRuntime, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script(Reply("Hi there"), Error(500))
    out = run(
        both,
        """
        local agent = Agent.builder():name("a"):model("openai/gpt-4"):build()
        local got = {}
        local returned = agent:execute_async("Hello", function(result, error)
            got.ok = {text = result and result.text, error = error}
        end)
        local failed = agent:execute_async("Hello", function(result, error)
            got.failed = {result = result, error = error}
        end)
        return {got, returned.text, failed == nil}
        """,
    )
    got, returned, failed_is_nil = out
    assert got["ok"] == {"text": "Hi there"} and returned == "Hi there"
    assert "result" not in got["failed"] and "500" in got["failed"]["error"]
    assert failed_is_nil is True


def test_get_state_and_set_state(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local agent = Agent.builder():name("a"):model("mock"):build()
        local before = agent:get_state()
        agent:set_state({context = "updated"})
        return {before, agent:get_state(), Agent.get("a"):get_state()}
        """,
    )
    assert out == [{}, {"context": "updated"}, {"context": "updated"}]
    with pytest.raises(ScriptError, match=r"Agent\.set_state: state must be a table"):
        run(lua, 'Agent.get("a"):set_state("x")')


# --- every function of the appendix ------------------------------------------------------------

APPENDIX_FUNCTIONS = [
    "builder",
    "create",
    "list",
    "get",
    "discover",
    "discover_by_capability",
    "list_templates",
    "create_from_template",
    "register",
    "create_context",
    "get_context_data",
    "update_context",
    "create_child_context",
    "remove_context",
    "set_shared_memory",
    "get_shared_memory",
    "create_composite",
    "wrap_as_tool",
    "get_info",
    "list_capabilities",
    "list_instances",
    "get_hierarchy",
    "get_details",
]
INSTANCE_METHODS = ["execute", "invokeStream", "get_state", "set_state", "execute_async"]
BUILDER_METHODS = [
    "name", "type", "model", "temperature", "max_tokens", "system_prompt", "tool",
    "capability", "memory_enabled", "context_window", "build",
]  # fmt: skip


def test_every_appendix_function_and_method_is_there(lua: ScriptRuntime) -> None:
    names = ", ".join(f'"{n}"' for n in APPENDIX_FUNCTIONS)
    methods = ", ".join(f'"{n}"' for n in INSTANCE_METHODS)
    builder = ", ".join(f'"{n}"' for n in BUILDER_METHODS)
    missing = run(
        lua,
        f"""
        local missing = {{}}
        for _, n in ipairs({{{names}}}) do
            if type(Agent[n]) ~= "function" then missing[#missing + 1] = "Agent." .. n end
        end
        local agent = Agent.builder():name("a"):model("mock"):build()
        for _, n in ipairs({{{methods}}}) do
            if type(agent[n]) ~= "function" then missing[#missing + 1] = "agent:" .. n end
        end
        local b = Agent.builder()
        for _, n in ipairs({{{builder}}}) do
            if type(b[n]) ~= "function" then missing[#missing + 1] = "builder:" .. n end
        end
        return missing
        """,
    )
    assert missing == {}


def test_the_context_integration_pattern_runs_as_written(lua: ScriptRuntime) -> None:
    # the appendix's Context section: `Agent.create(model):prompt(p)` returns the reply text,
    # which the pattern stores in episodic memory ("mock" is the offline model)
    out = run(
        lua,
        """
        local session_id = Session.create({name = "pattern"})
        local user_message = "What did we plan for Friday?"
        Memory.episodic.add(session_id, "user", user_message, {})
        local context = Context.assemble(user_message, "episodic", 4000, session_id)
        local prompt = context.formatted .. "\\n\\nUser: " .. user_message
        local response = Agent.create("mock"):prompt(prompt)
        Memory.episodic.add(session_id, "assistant", response, {})
        local turns = Memory.episodic.session(session_id)
        return {type(response), turns[#turns].content == response, #turns}
        """,
    )
    assert out == ["string", True, 2]


def test_prompt_refuses_what_is_not_text(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"Agent.prompt: text must be a string, got table"):
        run(lua, 'return Agent.create("mock"):prompt({})')
