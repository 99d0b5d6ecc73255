"""`Workflow` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is
there, takes the documented arguments (the appendix's examples run as written, or fail with an
error that says why) and returns the documented fields; see docs/reference/compatibility.md."""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

# --- Workflow Result Structure -----------------------------------------------------------------


def test_a_result_carries_the_documented_fields_beside_llmspells(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local wf = Workflow.sequential{name = "pipe", steps = {
            {name = "calc", type = "tool", tool = "calculator", input = {input = "6 * 7"}},
            {name = "say", type = "lua", fn = function() return "done" end},
        }}
        return wf:execute({data = "input data", options = {verbose = true}})
        """,
    )
    assert out["success"] is True and out["status"] == "completed"
    assert out["workflow_type"] == "sequential" == out["type"]
    assert out["metadata"]["extra"]["execution_id"] == out["execution_id"]
    assert out["metadata"]["extra"]["agent_outputs"] == {}
    assert out["text"] == "done"
    assert out["outputs"]["calc"]["result"] == 42


def test_a_failed_run_has_status_failed(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        return Workflow.sequential{name = "bad", steps = {
            {name = "boom", type = "lua", fn = function() error("no") end},
        }}:execute()
        """,
    )
    assert out["success"] is False and out["status"] == "failed" and out["text"] == ""


def test_agent_outputs_and_text_come_from_the_agent_steps(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        Agent.builder():name("writer"):model("mock"):max_history(0):build()
        local result = Workflow.sequential{name = "pipe", steps = {
            {name = "draft", agent = "writer", prompt = "write about cats"},
        }}:execute({})
        local outputs = result.metadata and result.metadata.extra
            and result.metadata.extra.agent_outputs or {}
        local ids = {}
        for agent_id, output in pairs(outputs) do ids[#ids + 1] = agent_id end
        return {result, ids}
        """,
    )
    result, ids = out
    assert ids == ["draft"]
    draft = result["metadata"]["extra"]["agent_outputs"]["draft"]
    assert draft == result["outputs"]["draft"]
    assert isinstance(draft["text"], str) and draft["text"]
    assert result["text"] == draft["text"]


# --- every function of the appendix ---------------------------------------------------------

APPENDIX_FUNCTIONS = [
    "sequential",
    "parallel",
    "conditional",
    "loop",
    "create",
    "from_yaml",
    "from_file",
    "list",
    "get",
    "save",
    "delete",
    "types",
    "setDefaultErrorHandler",
    "enableDebug",
    "isDebugEnabled",
]
OBJECT_METHODS = ["execute", "execute_async", "validate", "get_status"]


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in [*APPENDIX_FUNCTIONS, "remove", "clear"]:
        assert run(lua, f"return type(Workflow.{name})") == "function", name


def test_every_appendix_workflow_method_is_there(lua: ScriptRuntime) -> None:
    for name in OBJECT_METHODS:
        code = f"""
        local wf = Workflow.sequential{{name = "m", steps = {{{{type = "lua", fn = function() end}}}}}}
        return type(wf.{name})
        """
        assert run(lua, code) == "function", name


# --- Workflow Creation -------------------------------------------------------------------------


def test_create_takes_the_appendix_config(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local workflow = Workflow.create({
            name = "my-workflow",
            type = "sequential",
            steps = {
                {id = "step1", action = {tool = "calculator", params = {input = "2 + 3"}}},
                {id = "step2", action = {tool = "calculator", params = {input = "{{step.step1.result}} * 2"}}},
            }
        })
        return workflow:execute({})
        """,
    )
    assert out["success"] is True and out["workflow"] == "my-workflow"
    assert out["outputs"]["step1"]["result"] == 5 and out["outputs"]["step2"]["result"] == 10


def test_create_refuses_an_unknown_type_by_name(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="type must be one of sequential, parallel"):
        run(lua, 'return Workflow.create({name = "x", type = "dag", steps = {}})')


APPENDIX_YAML = """
local yaml = [[
name: my-workflow
type: sequential
steps:
  - id: fetch
    tool: web-fetch
  - id: process
    agent: processor
]]
local workflow = Workflow.from_yaml(yaml)
"""


def test_from_yaml_as_the_appendix_writes_it(lua: ScriptRuntime) -> None:
    out = run(
        lua, APPENDIX_YAML + "return {tostring(workflow), Workflow.get('my-workflow') ~= nil}"
    )
    assert out == ["<Workflow my-workflow (sequential)>", True]


def test_a_workflow_from_yaml_runs_its_tool_steps(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local w = Workflow.from_yaml([[
name: sums
type: sequential
steps:
  - id: add
    tool: calculator
    params: {input: "{{input.expr}}"}
  - id: twice
    tool: calculator
    params: {input: "{{step.add.result}} * 2"}
]])
        return w:execute({expr = "20 + 1"}).outputs.twice.result
        """,
    )
    assert out == 42


def test_from_yaml_refuses_aliases_and_what_is_not_a_workflow(lua: ScriptRuntime) -> None:
    bomb = "a: &a [x, x]\\nb: &b [*a, *a]\\nc: [*b, *b]\\n"
    with pytest.raises(ScriptError, match=r"Workflow.from_yaml: not a workflow's YAML: .*aliases"):
        run(lua, f'return Workflow.from_yaml("{bomb}")')
    with pytest.raises(ScriptError, match=r"the YAML must be a mapping .*, got list"):
        run(lua, 'return Workflow.from_yaml("- a\\n- b\\n")')
    with pytest.raises(ScriptError, match=r"Workflow.from_yaml: not a workflow's YAML"):
        run(lua, 'return Workflow.from_yaml("name: [unclosed")')


def test_from_file_reads_a_yaml_file_under_the_allowed_paths(
    isolated_env: Path, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "workflows").mkdir(parents=True)
    (allowed / "workflows" / "pipeline.yaml").write_text(
        "name: pipeline\nsteps:\n  - id: one\n    tool: calculator\n    params: {input: '6 * 7'}\n"
    )
    (tmp_path / "outside.yaml").write_text("name: outside\nsteps: []\n")
    config = with_overrides(
        load_config(profile="memory", env={}).config, {"tools.allowed_paths": [str(allowed)]}
    )
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        path = allowed / "workflows" / "pipeline.yaml"
        out = run(rt, f'return Workflow.from_file("{path}"):execute({{}}).outputs.one.result')
        assert out == 42
        with pytest.raises(
            ScriptError, match=r"from_file: path .* is outside tools\.allowed_paths"
        ):
            run(rt, f'return Workflow.from_file("{tmp_path / "outside.yaml"}")')
    finally:
        rt.close()


def test_list_get_save_delete_as_the_appendix_writes_them(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local workflow = Workflow.sequential{name = "data-pipeline",
            steps = {{name = "a", type = "lua", fn = function() return 1 end}}}
        local listed = Workflow.list()
        local got = Workflow.get("data-pipeline")
        local saved = Workflow.save("my-pipeline", workflow)
        local names = {}
        for _, w in ipairs(Workflow.list()) do names[#names + 1] = w.name end
        local deleted = Workflow.delete("my-pipeline")
        local again = Workflow.delete("my-pipeline")
        return {listed, got:execute().success, saved, names, deleted, again,
                Workflow.get("my-pipeline") == nil}
        """,
    )
    listed, ran, saved, names, deleted, again, gone = out
    assert listed == [
        {"name": "data-pipeline", "type": "sequential", "description": "", "steps": ["a"]}
    ]
    assert ran is True and saved is True and names == ["data-pipeline", "my-pipeline"]
    assert deleted is True and again is False and gone is True


def test_remove_and_clear_forget_workflows(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local step = {{type = "lua", fn = function() end}}
        Workflow.sequential{name = "a", steps = step}
        Workflow.parallel{name = "b", steps = step}
        Workflow.builder():name("c"):add_step(step[1]):build()
        local removed = Workflow.remove("a")
        local left = #Workflow.list()
        return {removed, left, Workflow.clear(), #Workflow.list()}
        """,
    )
    assert out == [True, 2, 2, 0]


def test_save_refuses_what_is_not_a_workflow(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="workflow must be a workflow, got table"):
        run(lua, 'return Workflow.save("x", {})')


# --- Workflow Execution ------------------------------------------------------------------------


def test_execute_async_calls_back_with_the_result_or_the_error(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local ok = Workflow.sequential{name = "ok", steps = {{type = "lua", fn = function() return 1 end}}}
        local bad = Workflow.sequential{name = "bad", steps = {{type = "lua", fn = function() error("boom") end}}}
        local seen = {}
        ok:execute_async({}, function(result, error)
            seen.ok = {result and result.success, error}
        end)
        bad:execute_async({}, function(result, error)
            seen.bad = {result == nil, error}
        end)
        return seen
        """,
    )
    assert out["ok"] == [True]
    assert out["bad"][0] is True and "boom" in out["bad"][1]


def test_validate_and_get_status_as_the_appendix_writes_them(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local wf = Workflow.sequential{name = "s", steps = {{type = "lua", fn = function() end}}}
        local is_valid, errors = wf:validate()
        local before = wf:get_status().state
        local result = wf:execute()
        local status = wf:get_status()
        return {valid = is_valid, errors = type(errors), before = before, state = status.state,
                same = status.execution_id == result.execution_id}
        """,
    )
    assert out == {
        "valid": True,
        "errors": "nil",
        "before": "created",
        "state": "completed",
        "same": True,
    }


# --- Workflow Utility Methods ------------------------------------------------------------------


def test_types_lists_the_workflow_kinds(lua: ScriptRuntime) -> None:
    assert run(lua, "return Workflow.types()") == ["sequential", "parallel", "conditional", "loop"]


def test_debug_flag_as_the_appendix_writes_it(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local before = Workflow.isDebugEnabled()
        Workflow.enableDebug()
        return {before, Workflow.isDebugEnabled()}
        """,
    )
    assert out == [False, True]


HANDLED = """
local calls = 0
local function flaky()
    calls = calls + 1
    if calls < 3 then error("not yet") end
    return "done after " .. calls
end
local function make(name, strategy)
    return Workflow.sequential{name = name, error_strategy = strategy, steps = {
        {name = "flaky", type = "lua", fn = flaky},
        {name = "after", type = "lua", fn = function() return "after ran" end},
    }}
end
"""


def test_the_default_error_handler_as_the_appendix_writes_it_retries(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        HANDLED
        + """
        local seen = {}
        Workflow.setDefaultErrorHandler(function(error, context)
            print("Workflow error:", error.message)
            table.insert(seen, {error.step, error.attempt, context.workflow})
            return "retry"  -- or "skip", "fail"
        end)
        local r = make("retried"):execute({})
        return {r.success, r.outputs.flaky.result, r.steps[1].attempts, seen}
        """,
    )
    success, result, attempts, seen = out
    assert success is True and result == "done after 3" and attempts == 3
    assert seen == [["flaky", 1, "retried"], ["flaky", 2, "retried"]]


def test_the_default_error_handler_skips_and_fails(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        HANDLED
        + """
        Workflow.setDefaultErrorHandler(function() return "skip" end)
        local skipped = make("skipped"):execute({})
        calls = 0
        Workflow.setDefaultErrorHandler(function() return "fail" end)
        local failed = make("failed"):execute({})
        return {skipped.outputs.after and skipped.outputs.after.result, skipped.success,
                failed.outputs.after == nil, failed.success}
        """,
    )
    assert out == ["after ran", False, True, False]


def test_a_workflow_with_its_own_error_strategy_is_not_asked_about(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        HANDLED
        + """
        local asked = 0
        Workflow.setDefaultErrorHandler(function() asked = asked + 1 return "retry" end)
        local r = make("own", "fail_fast"):execute({})
        Workflow.setDefaultErrorHandler(nil)
        calls = 0
        local plain = make("plain"):execute({})
        return {r.success, asked, plain.success}
        """,
    )
    assert out == [False, 0, False]


def test_a_handler_answer_outside_retry_skip_fail_fails_the_step_saying_so(
    lua: ScriptRuntime,
) -> None:
    out = run(
        lua,
        HANDLED
        + """
        Workflow.setDefaultErrorHandler(function() return "later" end)
        return make("odd"):execute({}).error
        """,
    )
    assert "returned 'later'; allowed: retry, skip, fail" in out
    with pytest.raises(ScriptError, match=r"handler must be a function or nil, got string"):
        run(lua, 'Workflow.setDefaultErrorHandler("retry")')


# --- Workflow Builders -------------------------------------------------------------------------


def test_the_sequential_builder_as_the_appendix_writes_it(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local workflow = Workflow.sequential()
            :name("data-pipeline")
            :step("load", {tool = "calculator", params = {input = "6 * 7"}})
            :step("process", {tool = "calculator", params = {input = "{{step.load.result}} + 1"}})
            :on_error("retry")
            :max_retries(3)
            :build()
        return workflow:execute({})
        """,
    )
    assert out["success"] is True and out["workflow"] == "data-pipeline"
    assert out["outputs"]["process"]["result"] == 43


def test_a_run_within_its_builder_timeout_succeeds(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        return Workflow.sequential():name("quick")
            :step("a", {tool = "calculator", params = {input = "1 + 1"}})
            :timeout(30000):build():execute({})
        """,
    )
    assert out["success"] is True and out["outputs"]["a"]["result"] == 2


def test_a_run_past_its_timeout_ends_failed_with_the_reason_and_skips_later_steps(
    lua: ScriptRuntime,
) -> None:
    out = run(
        lua,
        """
        local function slow()
            local t = os.clock()
            while os.clock() - t < 0.3 do end
            return "slow done"
        end
        local ran_last = false
        local w = Workflow.sequential{name = "slow", timeout_ms = 100, steps = {
            {name = "slow", type = "lua", fn = slow},
            {name = "last", type = "lua", fn = function() ran_last = true end},
        }}
        local r = w:execute({})
        return {r, ran_last}
        """,
    )
    result, ran_last = out
    assert result["success"] is False and result["status"] == "failed"
    assert result["error"] == "the workflow ran past its timeout of 100 ms"
    assert ran_last is False
    assert [s["name"] for s in result["steps"]] == ["slow"]  # the step that ran, kept


def test_a_timeout_that_is_not_a_positive_integer_is_refused(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"WorkflowBuilder.timeout: ms must be >= 1, got 0"):
        run(lua, 'return Workflow.sequential():name("x"):timeout(0)')
    with pytest.raises(ScriptError, match=r"timeout_ms must be an integer from 1"):
        run(
            lua,
            'return Workflow.sequential{name = "x", timeout_ms = -5, '
            'steps = {{name = "a", type = "lua", fn = function() end}}}',
        )


def test_the_parallel_builder_as_the_appendix_writes_it(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local workflow = Workflow.parallel()
            :name("multi-search")
            :branch("web", {tool = "calculator", params = {input = "1 + 1"}})
            :branch("docs", {tool = "calculator", params = {input = "2 + 2"}})
            :merge_strategy("combine")
            :build()
        return workflow:execute({})
        """,
    )
    assert out["success"] is True and out["workflow_type"] == "parallel"
    assert out["outputs"]["web"]["result"] == 2 and out["outputs"]["docs"]["result"] == 4


def test_merge_strategies_first_and_vote_give_the_merged_result(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local function three(strategy)
            return Workflow.parallel():name("m-" .. strategy)
                :branch("a", {tool = "calculator", params = {input = "1 + 1"}})
                :branch("b", {tool = "calculator", params = {input = "3 - 1"}})
                :branch("c", {tool = "calculator", params = {input = "2 + 5"}})
                :merge_strategy(strategy):build():execute({})
        end
        return {three("combine"), three("first"), three("vote")}
        """,
    )
    combine, first, vote = out
    assert set(combine["merged"]) == {"a", "b", "c"}
    assert first["merged"]["result"] in (2, 7)  # whichever branch finished first
    assert vote["merged"]["result"] == 2  # two of three branches agree
    assert vote["text"] == "2"


def test_an_unknown_merge_strategy_is_refused_naming_the_allowed_ones(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"must be one of combine, first, vote, got 'best'"):
        run(lua, 'return Workflow.parallel():merge_strategy("best")')


def test_pattern_3_a_conditional_on_a_key_and_value(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local router = Workflow.conditional()
            :name("smart-router")
            :condition("step:validation:output", "success")
            :when_true({ type = "tool", tool = "calculator", input = {input = "1 + 1"} })
            :when_false({ type = "tool", tool = "calculator", input = {input = "2 + 2"} })
            :build()
        local yes = router:execute({["step:validation:output"] = "success"})
        local no = router:execute({["step:validation:output"] = "failure"})
        return {yes.outputs.when_true.result, no.outputs.when_false.result}
        """,
    )
    assert out == [2, 4]


def test_pattern_4_a_loop_of_a_body_step_and_max_iterations(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local processor = Workflow.loop()
            :name("batch-processor")
            :max_iterations(3)
            :body_step({ type = "tool", tool = "uuid-generator" })
            :build()
        local r = processor:execute({})
        return {r.success, #r.outputs.step1}  -- a step without a name is step<position>
        """,
    )
    assert out == [True, 3]


def test_a_key_condition_on_a_loop_is_refused(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"a loop's condition is a function"):
        run(lua, 'return Workflow.loop():condition("k", 1)')


def test_the_conditional_builder_as_the_appendix_writes_it(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local workflow = Workflow.conditional()
            :name("smart-router")
            :condition(function(context)
                return context.input_type == "code"
            end)
            :when_true({tool = "calculator", params = {input = "1 + 1"}})
            :when_false({tool = "calculator", params = {input = "2 + 2"}})
            :build()
        return {workflow:execute({input_type = "code"}), workflow:execute({input_type = "text"})}
        """,
    )
    code, text = out
    assert code["outputs"]["when_true"]["result"] == 2 and "when_false" not in code["outputs"]
    assert text["outputs"]["when_false"]["result"] == 4


def test_the_loop_builder_runs_while_its_condition_holds(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local workflow = Workflow.loop()
            :name("data-processor")
            :condition(function(context, index)
                return index <= context.items
            end)
            :body({tool = "calculator", params = {input = "1 + 1"}})
            :max_iterations(100)
            :build()
        return workflow:execute({items = 3})
        """,
    )
    assert out["success"] is True and len(out["outputs"]["body"]) == 3


def test_the_loop_builder_with_update_as_the_appendix_writes_it(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        Tool.register{name = "process-item", description = "doubles n",
            fn = function(p) return (p.n or 1) * 2 end}
        local workflow = Workflow.loop()
            :name("data-processor")
            :condition(function(context)
                return context.items_remaining > 0
            end)
            :body({
                tool = "process-item",
                params = {n = 21},
                update = function(context, result)
                    context.items_remaining = context.items_remaining - 1
                    table.insert(context.results, result)
                end
            })
            :max_iterations(100)
            :build()
        local r = workflow:execute({items_remaining = 3, results = {}})
        return {r.success, #r.outputs.body, r.outputs.body[3].result}
        """,
    )
    assert out == [True, 3, 42]  # the update counted down: three iterations, not 100


def test_a_failing_update_fails_the_loop_at_that_iteration(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local r = Workflow.loop():name("bad-update")
            :condition(function(context) return true end)
            :body({tool = "calculator", params = {input = "1 + 1"},
                   update = function(context, result) error("no room") end})
            :max_iterations(5):build():execute({})
        return {r.success, r.error, #r.outputs.body}
        """,
    )
    success, error, iterations = out
    assert success is False and iterations == 1
    assert "the loop's update failed" in error and "no room" in error


def test_an_update_that_is_not_a_function_is_refused(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"update must be a function, got string"):
        run(
            lua,
            'return Workflow.loop():name("u"):max_iterations(2)'
            ':body({tool = "calculator", update = "x"}):build()',
        )
