"""`Workflow` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is
there, takes the documented arguments (the appendix's examples run as written, or fail with an
error that says why) and returns the documented fields; see docs/reference/compatibility.md."""

from __future__ import annotations

from compat_helpers import run

from llmspell.runtime import ScriptRuntime

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
