"""An agent's save when other runtimes keep changing its stored state."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.runtime.agents.agent import SAVE_ATTEMPTS, Agent, AgentStateChurn
from llmspell.runtime.agents.spec import AgentSpec
from llmspell.storage import AgentStateConflict


class AlwaysNewer:
    """A store another writer always got to first: every put meets a newer version."""

    def __init__(self) -> None:
        self.puts = 0

    def put(self, agent_id: str, state: Any, **options: Any) -> Any:
        self.puts += 1
        raise AgentStateConflict(
            agent_id, stored=self.puts + 1, expected=options["expected_version"]
        )

    def get(self, agent_id: str) -> Any:
        return None


def test_a_save_that_always_meets_a_newer_version_gives_up_with_a_clear_error() -> None:
    store = AlwaysNewer()
    agent = Agent(AgentSpec(name="helper", model="mock"), lambda: store)
    with pytest.raises(AgentStateChurn, match=r"'helper'.*kept changing.*5 attempts"):
        agent.set_data({"k": 1})
    assert store.puts == SAVE_ATTEMPTS
    assert agent.data == {"k": 1}  # the change stays in this runtime
