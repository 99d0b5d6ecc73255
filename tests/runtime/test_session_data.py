"""The session-delete cascade as a hook point: storage components name the runtime manager
that deletes what they keep per session, and `Session.delete` asks each of them."""

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import call, call_error

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.sessions import manager as session_manager
from llmspell.runtime.sessions.artifacts import ArtifactManager
from llmspell.runtime.sessions.data import owner_class, session_data_owners
from llmspell.runtime.sessions.vectors import SessionVectors
from llmspell.runtime.state import StateManager


class Recorder:
    """A manager keeping data per session (what a Memory or RAG manager does)."""

    deleted: list[str] = []
    fail = False

    @classmethod
    def from_infrastructure(cls, infra: Any) -> Recorder:
        return cls()

    def delete_session_data(self, session_id: str) -> int:
        if Recorder.fail:
            raise RuntimeError("storage went away")
        Recorder.deleted.append(session_id)
        return 7


@pytest.fixture
def declared(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    """Recorder as one more owner (as a component naming it would make it)."""
    owners = session_data_owners()
    monkeypatch.setattr(session_manager, "session_data_owners", lambda: [*owners, Recorder])
    monkeypatch.setattr(Recorder, "deleted", [])
    monkeypatch.setattr(Recorder, "fail", False)
    return Recorder


def test_the_components_name_state_artifacts_and_vectors_as_owners() -> None:
    owners = session_data_owners()
    assert owners == [ArtifactManager, StateManager, SessionVectors]  # artifacts, kv, vectors


def test_deleting_a_session_deletes_its_episodic_memory_and_session_vectors(
    lua: ScriptRuntime,
) -> None:
    result = lua.execute(
        """
        local doomed = Session.create{name = "doomed"}
        local kept = Session.create{name = "kept"}
        Memory.episodic.add(doomed, "user", "the launch code is aurora-7")
        Memory.episodic.add(kept, "user", "tomatoes need sun")
        Session.delete(doomed)
        return {#Memory.episodic.session(doomed), #Memory.episodic.session(kept),
                Memory.stats().episodic_count}
        """
    )
    assert result.value == [0, 1, 1]


def test_a_declared_owner_joins_the_session_delete_cascade(
    rt: ScriptRuntime, declared: type[Recorder]
) -> None:
    session_id = call(rt, "Session.create")
    assert call(rt, "Session.delete", session_id) is True
    assert declared.deleted == [session_id]


def test_an_owner_that_fails_leaves_the_session_to_delete_again(
    rt: ScriptRuntime, declared: type[Recorder]
) -> None:
    session_id = call(rt, "Session.create")
    declared.fail = True
    error = call_error(rt, "Session.delete", session_id)
    assert "storage went away" in error.evalue
    assert call(rt, "Session.get", session_id)["id"] == session_id
    declared.fail = False
    assert call(rt, "Session.delete", session_id) is True
    assert declared.deleted == [session_id]


class Incomplete:
    @classmethod
    def from_infrastructure(cls, infra: Any) -> Incomplete:
        return cls()


def test_a_class_without_the_cascade_method_cannot_be_an_owner() -> None:
    with pytest.raises(TypeError, match=r"test_session_data:Incomplete .* no delete_session_data"):
        owner_class("test_session_data:Incomplete")


def test_the_cascade_reaches_artifacts_kept_on_another_backend(
    make_runtime: Any, tmp_path: Any, engine: str
) -> None:
    rt = make_runtime(
        engine,
        storage__backend="sqlite",
        storage__path=str(tmp_path / "sessions.db"),
        storage__components={"artifacts": "memory"},
    )
    assert rt.infrastructure.storage.database("artifacts").backend.name == "memory"
    session_id = call(rt, "Session.create")
    call(rt, "Artifact.store", session_id, "tool_result", "a.txt", "x")
    assert call(rt, "Session.get", session_id)["artifact_count"] == 1
    call(rt, "Session.delete", session_id)
    assert rt.infrastructure.storage.artifacts.count_by_session([session_id]) == {session_id: 0}
