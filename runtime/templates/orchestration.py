"""`workflow-orchestrator`: steps (a tool, the model as an agent, or a nested workflow) run
sequentially, side by side on the same input, conditionally, or in a loop."""

from __future__ import annotations

import json
from typing import Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.templates.run import TemplateRun
from llmspell.runtime.templates.schema import MODEL, Parameter, TemplateSchema
from llmspell.runtime.templates.template import Template

MODES = ("sequential", "parallel", "conditional", "loop")
STEP_KEYS = {
    "name",
    "step_type",
    "description",
    "tool_name",
    "params",
    "agent_config",
    "workflow_config",
    "condition",
}
CONFIG_KEYS = {"name", "steps", "max_iterations", "until"}
MAX_ITERATIONS = 100


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _check(config: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(config, dict):
        raise InvalidArgument(f"{where} must be a table, got {type(config).__name__}")
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(CONFIG_KEYS))}"
        )
    steps = config.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InvalidArgument(f"{where}.steps must be a non-empty list of steps")
    for i, step in enumerate(steps, start=1):
        at = f"{where}.steps[{i}]"
        if not isinstance(step, dict):
            raise InvalidArgument(f"{at} must be a table")
        bad = sorted(set(step) - STEP_KEYS)
        if bad:
            raise InvalidArgument(
                f"{at}: unknown key {bad[0]!r}; allowed: {', '.join(sorted(STEP_KEYS))}"
            )
        kind = step.get("step_type")
        if kind not in ("tool", "agent", "workflow"):
            raise InvalidArgument(f"{at}.step_type must be tool, agent or workflow, got {kind!r}")
        if kind == "tool" and not isinstance(step.get("tool_name"), str):
            raise InvalidArgument(f"{at}: a tool step needs tool_name")
        if kind == "workflow":
            _check(step.get("workflow_config"), f"{at}.workflow_config")
    return steps


def _run_step(ctx: TemplateRun, step: dict[str, Any], given: Any, mode: str) -> Any:
    from llmspell.runtime.tools.registry import ToolRegistry

    kind = step["step_type"]
    if kind == "tool":
        params = dict(step.get("params") or {})
        result = ctx.infra.get(ToolRegistry).execute(step["tool_name"], params)
        if not result.get("success", True):
            raise InvalidArgument(
                f"step {step.get('name')!r}: tool {step['tool_name']!r} failed: "
                f"{result.get('error')}"
            )
        return result.get("result", result)
    if kind == "agent":
        agent = step.get("agent_config") or {}
        saved = ctx.model
        ctx.model = agent.get("model") or ctx.model
        try:
            return ctx.ask(_text(given), agent.get("system_prompt") or step.get("description"))
        finally:
            ctx.model = saved
    return _run_flow(ctx, step["workflow_config"], given, mode)


def _run_flow(ctx: TemplateRun, config: dict[str, Any], given: Any, mode: str) -> Any:
    steps = _check(config, "workflow_config")
    outputs: dict[str, Any] = ctx.extra.setdefault("agent_outputs", {})
    rounds = 1
    if mode == "loop":
        rounds = config.get("max_iterations", 3)
        if (
            isinstance(rounds, bool)
            or not isinstance(rounds, int)
            or not 1 <= rounds <= MAX_ITERATIONS
        ):
            raise InvalidArgument(
                f"workflow_config.max_iterations must be an integer from 1 to {MAX_ITERATIONS}"
            )
    current = given
    for _ in range(rounds):
        for i, step in enumerate(steps, start=1):
            name = step.get("name") or f"step{i}"
            condition = step.get("condition")
            # conditional: a step with a condition runs when the last output contains it
            if mode == "conditional" and condition and str(condition) not in _text(current):
                outputs[name] = None
                continue
            out = _run_step(ctx, step, given if mode == "parallel" else current, mode)
            outputs[name] = out
            if mode != "parallel":
                current = out
        until = config.get("until")
        if mode == "loop" and until and str(until) in _text(current):
            break
    return outputs if mode == "parallel" else current


def _orchestrate(ctx: TemplateRun, p: dict[str, Any]) -> Any:
    config = p["workflow_config"]
    result = _run_flow(ctx, config, p["input"], p["execution_mode"])
    if not p["collect_intermediate_results"] and p["execution_mode"] != "parallel":
        ctx.extra["agent_outputs"] = {}
    ctx.extra["workflow_name"] = config.get("name")
    return result


WORKFLOW_ORCHESTRATOR = Template(
    name="workflow-orchestrator",
    category="workflow",
    description="A workflow of tool, agent and nested workflow steps, run sequentially, in "
    "parallel, conditionally or in a loop",
    schema=TemplateSchema(
        [
            Parameter(
                "workflow_config",
                "object",
                "{name?, steps = {{name, step_type = tool|agent|workflow, tool_name?, params?, "
                "agent_config?, workflow_config?, condition?}}, max_iterations? (loop), "
                "until? (loop)}",
                required=True,
            ),
            Parameter(
                "execution_mode",
                "string",
                "How the steps run",
                required=True,
                constraints={"allowed_values": list(MODES)},
            ),
            MODEL,
            Parameter(
                "collect_intermediate_results",
                "boolean",
                "Keep every step's output in metadata.extra.agent_outputs",
                default=False,
            ),
            Parameter(
                "input",
                "string",
                "What the first step (every step, in parallel) is given",
                default="",
            ),
        ]
    ),
    run=_orchestrate,
    model_calls=lambda p: sum(
        1
        for s in ((p.get("workflow_config") or {}).get("steps") or [])
        if isinstance(s, dict) and s.get("step_type") == "agent"
    ),
    words_out=300,
    tags=("workflow", "orchestration", "multi-step"),
)
