"""Workflows: definitions (sequential, parallel, conditional, loop), the runner that executes
them step by step into workflow state, and their notebook rendering."""

from llmspell.runtime.workflows.definition import WorkflowDefinition, parse_workflow
from llmspell.runtime.workflows.manager import WorkflowManager
from llmspell.runtime.workflows.runner import WorkflowInterrupted

__all__ = ["WorkflowDefinition", "WorkflowInterrupted", "WorkflowManager", "parse_workflow"]
