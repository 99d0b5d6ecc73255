"""Workflows on the Lua engine (and the Python engine where threads matter): every kind, the
builder, placeholders, error strategies, resume, persistence while running, hooks, rendering,
and stopping a run (interrupt) with the run recorded as failed."""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.hooks import HookRegistry
from llmspell.runtime.tools import Tool, ToolRegistry
from llmspell.runtime.workflows.placeholders import PlaceholderError, substitute


def add_python_tool(rt: ScriptRuntime, name: str, run: Any) -> None:
    rt.infrastructure.get(ToolRegistry).add(
        Tool(
            name=name,
            description="test",
            category="test",
            schema={"type": "object"},
            run=run,
            builtin=False,
        )
    )


def value(rt: ScriptRuntime, code: str) -> Any:
    return rt.execute(code).value


# --- kinds ------------------------------------------------------------------------------------


def test_sequential_steps_see_input_and_earlier_results(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local wf = Workflow.sequential{name = "pipe", steps = {
        {name = "calc", type = "tool", tool = "calculator", input = {input = "{{input.expr}}"}},
        {name = "twice", type = "lua", fn = function(i) return i.n * 2 end},
        {name = "say", type = "tool", tool = "template-creator",
         input = {input = "{{x}} and {{y}}", context = {x = "{{step.calc.result}}", y = "{{step.twice.result}}"}}},
      }}
      return wf:execute{expr = "6 * 7", n = 5}
    """,
    )
    assert out["success"] is True and "error" not in out
    assert out["outputs"]["calc"]["result"] == 42
    assert out["outputs"]["twice"] == {"success": True, "result": 10}
    assert out["outputs"]["say"]["result"] == "42 and 10"
    assert [s["name"] for s in out["steps"]] == ["calc", "twice", "say"]
    assert out["workflow"] == "pipe" and out["type"] == "sequential" and out["duration_ms"] > 0


def test_parallel_runs_every_step_and_lua_steps_too(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      return Workflow.parallel{name = "fan", steps = {
        {name = "a", type = "lua", fn = function(input) return input.x + 1 end},
        {name = "b", type = "tool", tool = "calculator", input = {input = "{{input.x}} * 2"}},
      }}:execute{x = 5}
    """,
    )
    assert out["outputs"]["a"]["result"] == 6 and out["outputs"]["b"]["result"] == 10


def test_parallel_python_side_steps_overlap_and_max_concurrency_is_honoured(
    lua: ScriptRuntime,
) -> None:
    lock, running, peak = threading.Lock(), [0], [0]
    # a step goes on only when a whole batch of steps is in at once: steps that ran one after
    # another would break the barrier (the step fails), however fast or slow the machine is
    batch = [threading.Barrier(6, timeout=10)]

    def slow(params: dict[str, Any]) -> bool:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        batch[0].wait()
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return True

    add_python_tool(lua, "slow", slow)
    lua.execute("""
      steps = {}
      for i = 1, 6 do steps[i] = {name = "s" .. i, type = "tool", tool = "slow"} end
    """)
    assert value(lua, 'return Workflow.parallel{name = "p", steps = steps}:execute().success')
    assert peak[0] == 6, "all six steps ran at once"
    peak[0] = 0
    batch[0] = threading.Barrier(2, timeout=10)
    out = value(
        lua, 'return Workflow.parallel{name = "p2", steps = steps, max_concurrency = 2}:execute()'
    )
    assert out["success"] and peak[0] == 2
    offsets = sorted(s["offset_ms"] for s in out["steps"])
    assert offsets[2] >= 90, "the third step started only when one of the first two ended"


def test_script_functions_run_on_the_script_thread_in_parallel_workflows(py: ScriptRuntime) -> None:
    py.execute("""
import threading
seen = []
def record(i):
    seen.append(threading.get_ident())
    return 1
Tool.register({"name": "mine", "description": "", "fn": lambda p: record(p)})
wf = Workflow.parallel({"name": "t", "steps": [
    {"name": "a", "type": "lua", "fn": record},
    {"name": "b", "type": "tool", "tool": "mine"},
    {"name": "c", "type": "lua", "fn": record},
]})
out = wf.execute()
""")
    assert py.execute("out['success']").value is True
    assert py.execute("set(seen) == {threading.get_ident()} and len(seen) == 3").value is True


@pytest.mark.parametrize(
    ("condition", "n", "branch"),
    [
        ("function(input) return input.n > 0 end", 3, "pos"),
        ("function(input) return input.n > 0 end", -3, "neg"),
        ('{type = "input_equals", key = "n", value = 3}', 3, "pos"),
        ('{type = "input_equals", key = "n", value = 3}', 4, "neg"),
        ('{type = "input_exists", key = "n"}', 0, "pos"),
        ('{type = "always"}', -1, "pos"),
        ('{type = "never"}', 1, "neg"),
    ],
)
def test_conditional_runs_only_the_chosen_branch(
    lua: ScriptRuntime, condition: str, n: int, branch: str
) -> None:
    out = value(
        lua,
        f"""
      return Workflow.conditional{{name = "c", condition = {condition},
        then_steps = {{{{name = "pos", type = "lua", fn = function() return "positive" end}}}},
        else_steps = {{{{name = "neg", type = "lua", fn = function() return "negative" end}}}}}}:execute{{n = {n}}}
    """,
    )
    assert list(out["outputs"]) == [branch]


def test_loop_over_a_range_a_collection_and_while_fn(lua: ScriptRuntime) -> None:
    body = '{{name = "sq", type = "lua", fn = function(i) return {item = i.item, index = i.index, k = i.k} end}}'
    ranged = value(
        lua,
        f'return Workflow.loop{{name = "r", range = {{1, 5, 2}}, body = {body}}}:execute{{k = "x"}}',
    )
    assert [o["result"] for o in ranged["outputs"]["sq"]] == [
        {"item": 1, "index": 1, "k": "x"},
        {"item": 3, "index": 2, "k": "x"},
        {"item": 5, "index": 3, "k": "x"},
    ]
    items = value(
        lua,
        f'return Workflow.loop{{name = "c", collection = {{"a", "b"}}, body = {body}}}:execute()',
    )
    assert [o["result"]["item"] for o in items["outputs"]["sq"]] == ["a", "b"]
    counted = value(
        lua,
        """
      return Workflow.loop{name = "w", max_iterations = 10,
        while_fn = function(input, index, previous) return index <= input.limit end,
        body = {{name = "s", type = "lua", fn = function(i) return i.index end}}}:execute{limit = 4}
    """,
    )
    assert [o["result"] for o in counted["outputs"]["s"]] == [1, 2, 3, 4]


def test_loop_max_iterations_is_enforced(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      return Workflow.loop{name = "forever", max_iterations = 3, while_fn = function() return true end,
        body = {{name = "s", type = "lua", fn = function(i) return i.index end}}}:execute()
    """,
    )
    assert out["success"] is False and "max_iterations (3)" in out["error"]
    assert len(out["outputs"]["s"]) == 3
    err = error_of(
        lua,
        'Workflow.loop{name = "big", range = {1, 50}, max_iterations = 10, body = {{fn = print}}}',
    )
    assert "would run 50 iterations; max_iterations is 10" in err.evalue


def test_nested_workflows_and_the_builder_form(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local inner = Workflow.builder():name("inner"):sequential()
        :add_step{name = "double", type = "lua", fn = function(i) return i.v * 2 end}:build()
      local outer = Workflow.sequential{name = "outer", steps = {
        {name = "sub", type = "workflow", workflow = inner, input = {v = "{{input.v}}"}},
        {name = "use", type = "lua", fn = function() return "done" end},
      }}
      return outer:execute{v = 21}
    """,
    )
    assert out["outputs"]["sub"]["result"]["double"]["result"] == 42
    child = out["outputs"]["sub"]["execution_id"]
    runs = value(lua, 'return Workflow.executions{name = "inner"}')
    assert runs[0]["execution_id"] == child and runs[0]["parent_id"] == out["execution_id"]
    built = value(
        lua,
        """
      return Workflow.builder():name("b"):parallel():max_concurrency(1)
        :add_step{name = "x", type = "tool", tool = "calculator", input = {input = "1+1"}}:build():execute()
    """,
    )
    assert built["type"] == "parallel" and built["outputs"]["x"]["result"] == 2


def test_an_agent_step_fails_clearly_while_no_agent_exists(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        'return Workflow.sequential{name = "a", steps = {{name = "w", type = "agent", agent = "writer"}}}:execute()',
    )
    assert out["success"] is False and "no agent named 'writer'" in out["error"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            '{name = "x", steps = {{name = "a", fn = print}, {name = "a", fn = print}}}',
            "'a' is used twice",
        ),
        ('{name = "x", steps = {{name = "a", type = "robot"}}}', "type must be one of tool, lua"),
        (
            '{name = "x", steps = {{name = "a", tool = "calculator", colour = 1}}}',
            "unknown field 'colour'",
        ),
        ('{name = "x", steps = {}}', "at least one step"),
        ('{name = "x y", steps = {{fn = print}}}', "workflow name must be"),
        (
            '{name = "x", steps = {{fn = print}}, error_strategy = "panic"}',
            "error_strategy must be",
        ),
        ('{name = "x", steps = {{fn = print}}, timeout = 3}', "unknown option 'timeout'"),
    ],
)
def test_bad_definitions_raise_when_made(lua: ScriptRuntime, spec: str, message: str) -> None:
    err = error_of(lua, f"Workflow.sequential{spec}")
    assert err.evalue.startswith("Workflow.sequential: ") and message in err.evalue


# --- placeholders -----------------------------------------------------------------------------


def test_placeholders_fill_nested_tables_and_keep_types_when_whole() -> None:
    outputs = {"calc": {"success": True, "result": {"n": 42, "list": [1, 2]}}}
    template = {
        "a": ["{{input.x}}", {"deep": "n={{step.calc.result.n}}"}],
        "b": "{{step.calc.result}}",
    }
    assert substitute(template, {"x": 3.5}, outputs) == {
        "a": [3.5, {"deep": "n=42"}],
        "b": {"n": 42, "list": [1, 2]},
    }
    assert (
        substitute("{{step.calc.result.list.2}} {{input.flag}}", {"flag": True}, outputs)
        == "2 true"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{input.missing}}", "the workflow input has no field 'missing'"),
        ("{{step.later.result}}", "names step 'later', which has no result"),
        ("{{step.calc.result.nope}}", "has no field 'nope'"),
        ("{{step.calc}}", "unknown placeholder {{step.calc}}"),
        ("{{input}}", "unknown placeholder {{input}}"),
    ],
)
def test_an_unknown_placeholder_raises_naming_it(text: str, message: str) -> None:
    with pytest.raises(PlaceholderError, match=message.replace("{", r"\{").replace("}", r"\}")):
        substitute({"x": [text]}, {}, {"calc": {"result": 1}})


def test_a_bad_placeholder_fails_its_step_naming_it(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      return Workflow.sequential{name = "p", steps = {
        {name = "t", type = "tool", tool = "calculator", input = {input = "{{input.nope}}"}}}}:execute{}
    """,
    )
    assert out["success"] is False and "{{input.nope}}" in out["error"]


# --- error strategies -------------------------------------------------------------------------

FLAKY = """
  calls = 0
  steps = {
    {name = "one", type = "lua", fn = function() return 1 end},
    {name = "flaky", type = "lua", fn = function() calls = calls + 1
        if calls < FAILS then error("boom " .. calls) end return calls end},
    {name = "three", type = "lua", fn = function() return 3 end},
  }
"""


def test_fail_fast_stops_at_the_first_failure(lua: ScriptRuntime) -> None:
    lua.execute("FAILS = 99" + FLAKY)
    out = value(lua, 'return Workflow.sequential{name = "f", steps = steps}:execute()')
    assert out["success"] is False and out["error"].startswith("step 'flaky' failed: ")
    assert "boom 1" in out["error"] and "three" not in out["outputs"]


def test_continue_runs_the_remaining_steps(lua: ScriptRuntime) -> None:
    lua.execute("FAILS = 99" + FLAKY)
    out = value(
        lua,
        'return Workflow.sequential{name = "f", steps = steps, error_strategy = "continue"}:execute()',
    )
    assert out["success"] is False and out["outputs"]["three"]["result"] == 3
    assert [s["status"] for s in out["steps"]] == ["completed", "failed", "completed"]


def test_retry_tries_again_with_backoff_until_it_succeeds_or_gives_up(lua: ScriptRuntime) -> None:
    lua.execute("FAILS = 3" + FLAKY)
    started = time.monotonic()
    out = value(
        lua,
        """return Workflow.sequential{name = "f", steps = steps,
        error_strategy = {type = "retry", max_attempts = 3, backoff_ms = 20}}:execute()""",
    )
    assert out["success"] is True and out["outputs"]["flaky"]["result"] == 3
    assert out["steps"][1]["attempts"] == 3
    assert time.monotonic() - started >= 0.06, "backoff 20 ms then 40 ms"
    lua.execute("FAILS = 99" + FLAKY)
    out = value(
        lua,
        """return Workflow.sequential{name = "f", steps = steps,
        error_strategy = {type = "retry", max_attempts = 2, backoff_ms = 0}}:execute()""",
    )
    assert out["success"] is False and "boom 2" in out["error"]


# --- resume -----------------------------------------------------------------------------------


def test_resume_a_sequential_run_from_the_failed_step_with_stored_outputs(
    lua: ScriptRuntime,
) -> None:
    lua.execute(
        "FAILS = 2"
        + FLAKY
        + """
      ones = 0
      steps[1].fn = function() ones = ones + 1 return "first" end
      wf = Workflow.sequential{name = "f", steps = steps}
      first = wf:execute()
    """
    )
    assert value(lua, "return first.success") is False
    again = value(lua, "return wf:resume(first.execution_id)")
    assert again["success"] is True and again["execution_id"] == value(
        lua, "return first.execution_id"
    )
    assert again["outputs"]["one"]["result"] == "first" and value(lua, "return ones") == 1
    assert [s["reused"] for s in again["steps"]] == [True, False, False]
    err = error_of(lua, "wf:resume(first.execution_id)")
    assert "completed successfully; there is nothing to resume" in err.evalue
    other = error_of(
        lua, 'Workflow.sequential{name = "g", steps = steps}:resume(first.execution_id)'
    )
    assert "is a run of workflow 'f'" in other.evalue
    assert "no workflow execution nope" in error_of(lua, 'wf:resume("nope")').evalue


def test_resume_a_parallel_run_reruns_only_the_failed_steps(lua: ScriptRuntime) -> None:
    lua.execute("""
      runs = {a = 0, b = 0}
      wf = Workflow.parallel{name = "p", error_strategy = "continue", steps = {
        {name = "a", type = "lua", fn = function() runs.a = runs.a + 1 return "a" end},
        {name = "b", type = "lua", fn = function() runs.b = runs.b + 1
            if runs.b == 1 then error("first time") end return "b" end},
      }}
      first = wf:execute()
    """)
    assert value(lua, "return first.success") is False
    again = value(lua, "return wf:resume(first.execution_id)")
    assert again["success"] and again["outputs"] == {
        "a": {"success": True, "result": "a"},
        "b": {"success": True, "result": "b"},
    }
    assert value(lua, "return runs") == {"a": 1, "b": 2}


def test_resume_a_loop_continues_from_the_failed_iteration(lua: ScriptRuntime) -> None:
    lua.execute("""
      seen = {}
      broken = true
      wf = Workflow.loop{name = "l", collection = {"x", "y", "z"}, body = {
        {name = "s", type = "lua", fn = function(i)
            seen[#seen + 1] = i.item
            if i.item == "y" and broken then error("bad y") end
            return i.item .. i.index end},
      }}
      first = wf:execute()
      broken = false
    """)
    error = value(lua, "return first.error")
    assert error.startswith("step 's' (iteration 2) failed: ") and "bad y" in error
    again = value(lua, "return wf:resume(first.execution_id)")
    assert again["success"] is True
    assert [o["result"] for o in again["outputs"]["s"]] == ["x1", "y2", "z3"]
    assert value(lua, "return seen") == ["x", "y", "y", "z"], "x was not run again"
    assert (
        value(lua, f'return State.workflow_get("{again["execution_id"]}", "s")[3].result') == "z3"
    )


# --- persistence and State --------------------------------------------------------------------


def test_steps_are_persisted_while_the_run_goes(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        """
      local wf
      wf = Workflow.sequential{name = "live", steps = {
        {name = "first", type = "tool", tool = "calculator", input = {input = "2+3"}},
        {name = "peek", type = "lua", fn = function()
            local running = Workflow.executions{name = "live", status = "running"}
            local id = running[1].execution_id
            return {id = id, steps = State.workflow_list(id), first = State.workflow_get(id, "first").result,
                    current = running[1].current_step}
        end},
      }}
      return wf:execute()
    """,
    )
    peek = out["outputs"]["peek"]["result"]
    assert peek["id"] == out["execution_id"]
    assert peek["steps"] == ["first", "peek"] and peek["first"] == 5
    assert peek["current"] == "peek"
    done = value(lua, 'return Workflow.executions{name = "live"}[1]')
    assert done["status"] == "completed" and done["duration_ms"] >= 0
    assert value(lua, f'return State.workflow_get("{out["execution_id"]}", "nope")') is None
    assert value(lua, 'return #State.workflow_list("no-such-run")') == 0


def test_executions_filter_by_name_status_and_limit(lua: ScriptRuntime) -> None:
    lua.execute("""
      ok = Workflow.sequential{name = "ok", steps = {{fn = function() return 1 end}}}
      bad = Workflow.sequential{name = "bad", steps = {{fn = function() error("x") end}}}
      ok:execute() ok:execute() bad:execute()
    """)
    assert len(value(lua, 'return Workflow.executions{name = "ok"}')) == 2
    failed = value(lua, 'return Workflow.executions{status = "failed"}')
    assert [r["workflow"] for r in failed] == ["bad"] and "failed: " in failed[0]["error"]
    assert len(value(lua, "return Workflow.executions{limit = 1}")) == 1
    err = error_of(lua, 'Workflow.executions{status = "odd"}')
    assert "status must be one of pending, running" in err.evalue


def test_an_output_that_cannot_be_stored_fails_its_step(lua: ScriptRuntime) -> None:
    out = value(
        lua,
        'return Workflow.sequential{name = "f", steps = {{fn = function() return print end}}}:execute()',
    )
    assert out["success"] is False and "cannot be stored" in out["error"]


# --- hooks ------------------------------------------------------------------------------------


def test_workflow_hook_points_fire_and_can_modify(lua: ScriptRuntime) -> None:
    hooks = lua.infrastructure.get(HookRegistry)
    points: list[str] = []
    for point in (
        "BeforeWorkflowStart",
        "BeforeWorkflowStage",
        "AfterWorkflowStage",
        "AfterWorkflowComplete",
        "WorkflowError",
    ):
        hooks.register(point, lambda ctx: points.append(ctx["point"]))
    hooks.register("BeforeWorkflowStart", lambda ctx: {"type": "modified", "data": {"x": 10}})
    hooks.register(
        "AfterWorkflowStage",
        lambda ctx: {
            "type": "modified",
            "data": {**ctx["data"], "output": {"success": True, "result": "changed"}},
        },
        "low",
    )
    out = value(
        lua,
        """return Workflow.sequential{name = "h", steps = {
        {name = "a", type = "lua", fn = function(i) return i.x end}}}:execute{x = 1}""",
    )
    assert out["outputs"]["a"]["result"] == "changed"
    assert points == [
        "BeforeWorkflowStart",
        "BeforeWorkflowStage",
        "AfterWorkflowStage",
        "AfterWorkflowComplete",
    ]
    assert hooks.history("BeforeWorkflowStage")[0].correlation_id == out["execution_id"]


def test_a_cancelling_stage_hook_fails_the_step_and_workflow_error_fires(
    lua: ScriptRuntime,
) -> None:
    hooks = lua.infrastructure.get(HookRegistry)
    errors: list[Any] = []
    hooks.register("BeforeWorkflowStage", lambda ctx: {"type": "cancel", "reason": "no"})
    hooks.register("WorkflowError", lambda ctx: errors.append(ctx["data"]))
    out = value(
        lua, 'return Workflow.sequential{name = "h", steps = {{name = "a", fn = print}}}:execute()'
    )
    assert out["success"] is False and "cancelled by hook: no" in out["error"]
    assert errors[0]["step"] == "a"


def test_a_cancelled_start_raises_and_is_recorded(lua: ScriptRuntime) -> None:
    lua.infrastructure.get(HookRegistry).register(
        "BeforeWorkflowStart", lambda ctx: {"type": "cancel", "reason": "closed"}
    )
    err = error_of(lua, 'Workflow.sequential{name = "h", steps = {{fn = print}}}:execute()')
    assert err.evalue == "Workflow.execute: cancelled by hook: closed"
    assert value(lua, 'return Workflow.executions{name = "h"}[1].status') == "cancelled"


def test_workflow_tool_steps_go_through_tool_hooks(lua: ScriptRuntime) -> None:
    hooks = lua.infrastructure.get(HookRegistry)
    hooks.register(
        "BeforeToolExecution", lambda ctx: {"type": "modified", "data": {"input": "100"}}
    )
    out = value(
        lua,
        """return Workflow.parallel{name = "t", steps = {
        {name = "c", type = "tool", tool = "calculator", input = {input = "1"}}}}:execute()""",
    )
    assert out["outputs"]["c"]["result"] == 100


# --- rendering --------------------------------------------------------------------------------


def test_a_workflow_result_renders_as_a_step_table_and_an_svg_timeline(lua: ScriptRuntime) -> None:
    bundle = lua.execute("""
      return Workflow.sequential{name = "shown", steps = {
        {name = "calc", type = "tool", tool = "calculator", input = {input = "6*7"}},
        {name = "bad", type = "lua", fn = function() error("nope") end}}}:execute()
    """).bundle
    markup = bundle["text/html"]
    assert "<table>" in markup and "<td>calc</td>" in markup and "<td>42</td>" in markup
    assert "<svg" in markup and markup.count("<rect") == 2 and "<script" not in markup
    assert "nope" in markup and "failed" in markup
    assert bundle["text/plain"].startswith("{")


# --- stopping ---------------------------------------------------------------------------------


@pytest.fixture
def interrupt_after() -> Iterator[Any]:
    timers: list[threading.Timer] = []

    def start(rt: ScriptRuntime, seconds: float) -> None:
        timer = threading.Timer(seconds, rt.interrupt)
        timers.append(timer)
        timer.start()

    yield start
    for timer in timers:
        timer.cancel()


def test_an_interrupt_inside_a_lua_step_stops_the_run_and_records_it_failed(
    lua: ScriptRuntime, interrupt_after: Any
) -> None:
    lua.execute("""wf = Workflow.sequential{name = "spin", steps = {
        {name = "ok", fn = function() return 1 end},
        {name = "loop", fn = function() while true do end end},
        {name = "never", fn = function() return 3 end}}}""")
    interrupt_after(lua, 0.3)
    err = error_of(lua, "wf:execute()")
    assert err.ename == "KeyboardInterrupt"
    run = value(lua, 'return Workflow.executions{name = "spin"}[1]')
    assert run["status"] == "failed" and run["error"] == "interrupted"
    steps = value(lua, f'return State.workflow_list("{run["execution_id"]}")')
    assert steps == ["loop", "ok"]
    assert value(lua, f'return State.workflow_get("{run["execution_id"]}", "ok").result') == 1
    assert value(lua, "return 1 + 1") == 2, "the runtime stays usable"


def test_an_interrupt_between_python_side_steps_stops_before_the_next(
    make_runtime: MakeRuntime, interrupt_after: Any, engine: str
) -> None:
    rt = make_runtime(engine)
    calls: list[int] = []
    add_python_tool(rt, "nap", lambda p: calls.append(1) or time.sleep(0.2) or True)
    code = {
        "lua": 'steps = {} for i = 1, 10 do steps[i] = {name = "s" .. i, tool = "nap"} end '
        'Workflow.sequential{name = "naps", steps = steps}:execute()',
        "python": 'Workflow.sequential({"name": "naps", "steps": '
        '[{"name": f"s{i}", "tool": "nap"} for i in range(10)]}).execute()',
    }[engine]
    interrupt_after(rt, 0.3)
    err = error_of(rt, code)
    assert err.ename == "KeyboardInterrupt"
    assert len(calls) < 10
    from llmspell.runtime.workflows import WorkflowManager

    [run] = rt.infrastructure.get(WorkflowManager).executions("naps")
    assert run.status == "failed" and run.error == "interrupted"
    assert value(rt, "return 1 + 1" if engine == "lua" else "1 + 1") == 2, "the runtime goes on"


def test_an_interrupt_while_parallel_steps_wait_stops_the_run(
    lua: ScriptRuntime, interrupt_after: Any
) -> None:
    release = threading.Event()  # the steps would wait 60 s; the run must not wait for them
    add_python_tool(lua, "nap", lambda p: release.wait(60) or True)
    interrupt_after(lua, 0.1)
    started = time.monotonic()
    try:
        err = error_of(
            lua,
            """steps = {} for i = 1, 4 do steps[i] = {name = "s" .. i, tool = "nap"} end
            Workflow.parallel{name = "waits", steps = steps}:execute()""",
        )
    finally:
        release.set()
    assert err.ename == "KeyboardInterrupt" and time.monotonic() - started < 10
    assert value(lua, 'return Workflow.executions{name = "waits"}[1].status') == "failed"


def test_a_loop_update_in_the_python_engine_changes_the_context(py: ScriptRuntime) -> None:
    result = py.execute(
        """
def update(context, result):
    context["left"] -= 1
    context["seen"].append(result["result"])

w = Workflow.loop({"name": "countdown", "max_iterations": 10, "update": update,
                   "while_fn": lambda context, index, previous: context["left"] > 0,
                   "body": [{"name": "n", "fn": lambda input: input["left"]}]})
r = w.execute({"left": 3, "seen": []})
[o["result"] for o in r["outputs"]["n"]]
"""
    ).value
    assert result == [3, 2, 1]
