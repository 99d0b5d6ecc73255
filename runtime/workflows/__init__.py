"""Workflows: definitions (sequential, parallel, conditional, loop), the runner that executes
them step by step into workflow state, and their notebook rendering."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.workflows.definition import WorkflowDefinition, parse_workflow
    from llmspell.runtime.workflows.manager import WorkflowManager
    from llmspell.runtime.workflows.runner import WorkflowInterrupted

# imported on first use: the `Workflow` global needs only the definitions and the rendering
# until a workflow runs, and every `llmspell exec` builds that global
_WHERE = {
    "WorkflowDefinition": "definition",
    "parse_workflow": "definition",
    "WorkflowManager": "manager",
    "WorkflowInterrupted": "runner",
}

__all__ = ["WorkflowDefinition", "WorkflowInterrupted", "WorkflowManager", "parse_workflow"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
