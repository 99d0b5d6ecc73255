"""`Artifact` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is
there, takes the documented arguments (the appendix's examples run with a session made by
`Session.create`, or fail with an error that says why) and returns the documented fields; see
docs/reference/compatibility.md."""
# ruff: noqa: E501 - the Lua programs under test read best on one line each

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides


@pytest.fixture
def files(isolated_env: Path, tmp_path: Path) -> Iterator[ScriptRuntime]:
    """A Lua runtime on the memory profile whose file access is `tmp_path/allowed`."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    config = with_overrides(
        load_config(profile="memory", env={}).config, {"tools.allowed_paths": [str(allowed)]}
    )
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        yield rt
    finally:
        rt.close()


SESSION = 'local session_id = Session.create({name = "compat"})\n'
STORE_EXAMPLE = (
    SESSION
    + """
local artifact_id = Artifact.store(session_id, "data", "results.json",
    '{"data": "results"}', {
        created_by = "processor",
        version = "1.0"
    })
"""
)


def test_store_returns_an_id_and_get_gives_content_and_metadata(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        STORE_EXAMPLE
        + """
        local artifact = Artifact.get(session_id, artifact_id)
        return {session_id, artifact_id, artifact.content, artifact.metadata}
        """,
    )
    session_id, artifact_id, content, metadata = out
    assert artifact_id == {
        "session_id": session_id,
        "sequence": 1,
        "content_hash": artifact_id["content_hash"],
    }
    assert content == '{"data": "results"}'
    assert (metadata["name"], metadata["type"], metadata["mime_type"]) == (
        "results.json",
        "data",
        "application/json",
    )
    assert metadata["created_by"] == "processor" and metadata["metadata"] == {"version": "1.0"}
    assert (metadata["size"], metadata["version"]) == (19, 1)


def test_a_session_id_that_is_not_a_session_is_refused(lua: ScriptRuntime) -> None:
    with pytest.raises(
        ScriptError, match=r"Artifact\.store: session id must be a UUID string, got 'session-123'"
    ):
        run(lua, """return Artifact.store("session-123", "data", "results.json", '{}')""")


def test_store_file_stores_a_file_under_the_allowed_paths(
    files: ScriptRuntime, tmp_path: Path
) -> None:
    report = tmp_path / "allowed" / "report.pdf"
    report.write_bytes(b"%PDF-1.4\x00\xff binary")
    out = run(
        files,
        SESSION
        + f"""
        local artifact_id = Artifact.store_file(session_id,
            "{report}", "document", {{
                title = "Analysis Report"
            }})
        return Artifact.get(session_id, artifact_id)
        """,
    )
    assert out["content"] == b"%PDF-1.4\x00\xff binary"
    metadata = out["metadata"]
    assert (metadata["name"], metadata["type"], metadata["mime_type"]) == (
        "report.pdf",
        "document",
        "application/pdf",
    )
    assert metadata["metadata"] == {"title": "Analysis Report"}


def test_store_file_outside_the_allowed_paths_is_refused(
    files: ScriptRuntime, tmp_path: Path
) -> None:
    outside = tmp_path / "report.pdf"
    outside.write_bytes(b"secret")
    with pytest.raises(
        ScriptError,
        match=r"Artifact\.store_file: path .* is outside tools\.allowed_paths",
    ):
        run(
            files,
            SESSION + f'return Artifact.store_file(session_id, "{outside}", "document", {{}})',
        )


def test_list_gives_each_artifacts_record(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        STORE_EXAMPLE
        + """
        Artifact.store(session_id, "data", "more.txt", "more")
        local artifacts = Artifact.list(session_id)
        return artifacts
        """,
    )
    assert [(a["name"], a["id"]["sequence"]) for a in out] == [("results.json", 1), ("more.txt", 2)]
    assert {
        "id",
        "name",
        "type",
        "mime_type",
        "size",
        "tags",
        "metadata",
        "version",
        "created_at",
        "created_by",
    } <= set(out[0])


def test_query_with_the_appendix_filters(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        SESSION
        + """
        Artifact.store(session_id, "data", "results-1.json", "{}", {tags = {"processed"}})
        Artifact.store(session_id, "data", "results-2.json", "[]", {tags = {"raw"}})
        Artifact.store(session_id, "log", "results-3.json", "1", {tags = {"processed"}})
        Artifact.store(session_id, "data", "other.json", "2", {tags = {"processed"}})
        local artifacts = Artifact.query({
            session_id = session_id,
            type = "data",
            name_pattern = "results*",
            tags = {"processed"},
            created_after = "2024-01-01T00:00:00Z",
            limit = 10
        })
        local later = Artifact.query({session_id = session_id, created_after = "2999-01-01T00:00:00Z"})
        return {artifacts, #later}
        """,
    )
    artifacts, later = out
    assert [a["name"] for a in artifacts] == ["results-1.json"] and later == 0


def test_query_name_and_name_pattern_must_agree(lua: ScriptRuntime) -> None:
    with pytest.raises(
        ScriptError,
        match=r"Artifact\.query: name 'a\*' and name_pattern 'b\*' differ; give one of them",
    ):
        run(lua, 'return Artifact.query({name = "a*", name_pattern = "b*"})')
    assert run(lua, 'return #Artifact.query({name = "a*", name_pattern = "a*"})') == 0


def test_delete_removes_the_artifact(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        STORE_EXAMPLE
        + """
        local deleted = Artifact.delete(session_id, artifact_id)
        local found, err = pcall(Artifact.get, session_id, artifact_id)
        return {deleted, found, #Artifact.list(session_id), tostring(err), session_id}
        """,
    )
    deleted, found, left, err, session_id = out
    assert (deleted, found, left) == (True, False, 0)
    assert f"Artifact.get: no artifact 1 in session {session_id}" in err


APPENDIX_FUNCTIONS = ["store", "store_file", "get", "list", "query", "delete"]


def test_every_appendix_function_is_there(lua: ScriptRuntime) -> None:
    names = ", ".join(f'"{n}"' for n in APPENDIX_FUNCTIONS)
    missing = run(
        lua,
        f"""
        local missing = {{}}
        for _, n in ipairs({{{names}}}) do
            if type(Artifact[n]) ~= "function" then missing[#missing + 1] = n end
        end
        return missing
        """,
    )
    assert missing == {}
