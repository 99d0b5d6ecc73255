"""The Artifact global through both engines: binary-safe content, versions, dedup, listing,
queries, deletes, files from allowed paths only, the size limit from config, rich display."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error

from llmspell.runtime import ScriptRuntime

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def session(rt: ScriptRuntime, **options: Any) -> str:
    session_id: str = call(rt, "Session.create", options)
    return session_id


def store(rt: ScriptRuntime, session_id: str, name: str, content: str, **options: Any) -> Any:
    return call(rt, "Artifact.store", session_id, "tool_result", name, content, options)


def test_store_returns_the_id_table_and_get_returns_record_and_content(rt: ScriptRuntime) -> None:
    sid = session(rt)
    art = store(rt, sid, "report.txt", "hello", mime_type="text/plain", tags=["r"])
    assert art == {
        "session_id": sid,
        "sequence": 1,
        "content_hash": hashlib.sha256(b"hello").hexdigest(),
    }
    got = call(rt, "Artifact.get", sid, art)
    assert got["content"] in ("hello", b"hello")
    meta = got["metadata"]
    assert meta["id"] == art
    assert (meta["name"], meta["type"], meta["mime_type"], meta["size"], meta["version"]) == (
        "report.txt",
        "tool_result",
        "text/plain",
        5,
        1,
    )
    assert meta["tags"] == ["r"]
    assert call(rt, "Artifact.get", sid, 1)["metadata"]["id"] == art, "a sequence is an id too"


def test_nul_bytes_and_invalid_utf8_round_trip_exactly_from_lua(lua: ScriptRuntime) -> None:
    sid = session(lua)
    result = lua.execute(
        f"""
        local bin = string.char(0, 255, 10, 13, 0, 195, 40) .. "tail"
        local id = Artifact.store("{sid}", "user_input", "blob.bin", bin)
        local back = Artifact.get("{sid}", id).content
        return {{same = back == bin, n = #back, hash = id.content_hash, back = back}}
        """
    ).value
    body = b"\x00\xff\n\r\x00\xc3\x28tail"
    assert result["same"] is True and result["n"] == len(body)
    assert result["hash"] == hashlib.sha256(body).hexdigest()
    assert result["back"] == body


def test_bytes_round_trip_from_python(py: ScriptRuntime) -> None:
    sid = session(py)
    body = bytes(range(256)) * 3
    py.execute(f"art = Artifact.store({sid!r}, 'user_input', 'b.bin', {body!r})")
    assert py.execute(f"Artifact.get({sid!r}, art)['content']").value == body


def test_utf8_text_is_stored_as_its_bytes(rt: ScriptRuntime) -> None:
    sid = session(rt)
    art = store(rt, sid, "t.txt", "héllo ✓ 日本")
    content = call(rt, "Artifact.get", sid, art)["content"]
    expected = "héllo ✓ 日本".encode()
    assert content == expected or content == expected.decode()
    assert art["content_hash"] == hashlib.sha256(expected).hexdigest()


def test_the_same_name_again_is_a_new_version_and_get_version_finds_each(
    rt: ScriptRuntime,
) -> None:
    sid = session(rt)
    store(rt, sid, "report.txt", "one")
    second = store(rt, sid, "report.txt", "two")
    assert call(rt, "Artifact.get", sid, second)["metadata"]["version"] == 2
    latest = call(rt, "Artifact.get_version", sid, "report.txt")
    first = call(rt, "Artifact.get_version", sid, "report.txt", 1)
    assert latest["content"] in ("two", b"two") and first["content"] in ("one", b"one")
    error = call_error(rt, "Artifact.get_version", sid, "report.txt", 3)
    assert (
        error.evalue
        == f"Artifact.get_version: no artifact 'report.txt' (version 3) in session {sid}"
    )


def test_identical_content_shares_one_hash_and_survives_deleting_a_copy(rt: ScriptRuntime) -> None:
    sid = session(rt)
    a = store(rt, sid, "a.txt", "same")
    b = store(rt, sid, "b.txt", "same")
    assert a["content_hash"] == b["content_hash"]
    assert call(rt, "Artifact.delete", sid, a) is True
    assert call(rt, "Artifact.get", sid, b)["content"] in ("same", b"same")
    error = call_error(rt, "Artifact.get", sid, a)
    assert error.evalue == f"Artifact.get: no artifact 1 in session {sid}"
    assert call_error(rt, "Artifact.delete", sid, a).evalue.startswith(
        "Artifact.delete: no artifact"
    )


def test_an_id_with_another_hash_or_session_is_refused(rt: ScriptRuntime) -> None:
    sid = session(rt)
    other = session(rt)
    art = store(rt, sid, "a.txt", "x")
    wrong_hash = {**art, "content_hash": "0" * 64}
    assert call_error(rt, "Artifact.get", sid, wrong_hash).evalue.startswith(
        "Artifact.get: no artifact 1"
    )
    error = call_error(rt, "Artifact.get", other, art)
    assert error.evalue.startswith("Artifact.get: the id belongs to session")


def test_list_is_in_sequence_order_and_defaults_to_the_current_session(rt: ScriptRuntime) -> None:
    sid = session(rt)
    for name in ("z", "a", "m"):
        store(rt, sid, name, name)
    error = call_error(rt, "Artifact.list")
    assert "no session_id given and no current session" in error.evalue
    call(rt, "Session.set_current", sid)
    assert [a["name"] for a in call(rt, "Artifact.list")] == ["z", "a", "m"]
    assert [a["id"]["sequence"] for a in call(rt, "Artifact.list", sid)] == [1, 2, 3]
    assert call(rt, "Session.get", sid)["artifact_count"] == 3


def test_query_filters_across_sessions_newest_first(rt: ScriptRuntime) -> None:
    s1 = session(rt)
    s2 = session(rt)
    store(rt, s1, "report-1", "1", tags=["r"])
    middle = time.time()
    time.sleep(0.01)
    store(rt, s1, "report-2", "22", tags=["r", "x"])
    call(rt, "Artifact.store", s2, "user_input", "note", "333", {})

    def names(options: dict[str, Any]) -> list[str]:
        return [a["name"] for a in as_list(call(rt, "Artifact.query", options))]

    assert names({}) == ["note", "report-2", "report-1"]
    assert names({"session_id": s1, "name": "report*"}) == ["report-2", "report-1"]
    assert names({"type": "user_input"}) == ["note"]
    assert names({"tags": ["r", "x"]}) == ["report-2"]
    assert names({"min_size": 2, "max_size": 2}) == ["report-2"]
    assert names({"created_after": middle}) == ["note", "report-2"]
    assert names({"created_before": middle, "limit": 5}) == ["report-1"]
    first = call(rt, "Artifact.query", {"name": "report-1"})[0]["created_at"]
    assert names({"created_after": first, "name": "report-?"}) == ["report-2", "report-1"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "x"}, "unknown option 'kind'"),
        ({"created_after": "yesterday"}, "created_after must be an RFC 3339 time"),
        ({"min_size": -1}, "min_size must be >= 0"),
        ({"session_id": "nope"}, "session id must be a UUID string"),
    ],
)
def test_bad_query_options_are_refused(
    rt: ScriptRuntime, options: dict[str, Any], message: str
) -> None:
    error = call_error(rt, "Artifact.query", options)
    assert error.evalue.startswith("Artifact.query: ") and message in error.evalue


def test_options_beyond_the_known_ones_are_kept_in_the_metadata(rt: ScriptRuntime) -> None:
    sid = session(rt)
    art = store(rt, sid, "a.json", "{}", metadata={"k": 1}, source="web", created_by="agent:x")
    meta = call(rt, "Artifact.get", sid, art)["metadata"]
    assert meta["metadata"] == {"k": 1, "source": "web"}
    assert meta["created_by"] == "agent:x"
    assert meta["mime_type"] == "application/json", "guessed from the name"


def test_the_mime_type_defaults_to_text_or_binary_by_content(rt: ScriptRuntime) -> None:
    sid = session(rt)
    text = store(rt, sid, "notes", "plain text")
    assert call(rt, "Artifact.get", sid, text)["metadata"]["mime_type"] == "text/plain"
    if rt.engine_name == "python":
        binary = call(rt, "Artifact.store", sid, "user_input", "blob", b"\xff\x00", {})
    else:
        binary = rt.execute(
            f'return Artifact.store("{sid}", "user_input", "blob", string.char(255, 0))'
        ).value
    meta = call(rt, "Artifact.get", sid, binary)["metadata"]
    assert meta["mime_type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tool result", "a", "x", {}), "type must be one of agent_output, tool_result"),
        (("tool_result", "", "x", {}), "name must be a non-empty string"),
        (("tool_result", "a", "x", {"mime_type": "text"}), "mime_type must look like type/subtype"),
        (("tool_result", "a", {"not": "content"}, {}), "content must be a string, got table"),
        (("tool_result", "a", "x", {"tags": [1]}), "tag must be a string"),
    ],
)
def test_bad_store_arguments_are_refused_and_nothing_is_stored(
    rt: ScriptRuntime, args: tuple[Any, ...], message: str
) -> None:
    sid = session(rt)
    error = call_error(rt, "Artifact.store", sid, *args)
    assert error.evalue.startswith("Artifact.store: ") and message in error.evalue
    assert as_list(call(rt, "Artifact.list", sid)) == []


def test_storing_into_an_unknown_or_archived_session_is_refused(rt: ScriptRuntime) -> None:
    sid = session(rt)
    missing = "00000000-0000-4000-8000-000000000000"
    assert call_error(rt, "Artifact.store", missing, "tool_result", "a", "x").evalue == (
        f"Artifact.store: no session {missing}"
    )
    art = store(rt, sid, "a", "x")
    call(rt, "Session.complete", sid)
    store(rt, sid, "after-completion", "still allowed")
    call(rt, "Session.archive", sid)
    error = call_error(rt, "Artifact.store", sid, "tool_result", "b", "x")
    assert error.evalue == f"Artifact.store: session {sid} is archived (read-only)"
    assert call_error(rt, "Artifact.delete", sid, art).evalue.endswith("archived (read-only)")


def test_the_size_limit_comes_from_config(make_runtime: MakeRuntime, engine: str) -> None:
    rt = make_runtime(engine, storage__max_artifact_mb=0.001)  # 1048 bytes
    sid = session(rt)
    store(rt, sid, "ok", "x" * 1048)
    error = call_error(rt, "Artifact.store", sid, "tool_result", "big", "x" * 1049)
    assert "limit is 1048 bytes" in error.evalue and "storage.max_artifact_mb" in error.evalue


# --- store_file -----------------------------------------------------------------------------


@pytest.fixture
def files_rt(make_runtime: MakeRuntime, engine: str) -> ScriptRuntime:
    """A runtime whose file access (`tools.allowed_paths`) is the working directory."""
    return make_runtime(engine, tools__allowed_paths=["."])


def test_store_file_reads_a_file_inside_the_allowed_paths(files_rt: ScriptRuntime) -> None:
    rt = files_rt
    Path("data.bin").write_bytes(b"\x00file\xff" * 100)
    sid = session(rt)
    art = call(rt, "Artifact.store_file", sid, "data.bin", "user_input")
    got = call(rt, "Artifact.get", sid, art)
    assert got["content"] == b"\x00file\xff" * 100
    assert got["metadata"]["name"] == "data.bin"
    renamed = call(rt, "Artifact.store_file", sid, "./data.bin", "user_input", {"name": "copy"})
    assert call(rt, "Artifact.get", sid, renamed)["metadata"]["name"] == "copy"
    assert renamed["content_hash"] == art["content_hash"]


def test_store_file_without_allowed_paths_refuses_even_the_working_directory(
    make_runtime: MakeRuntime, engine: str
) -> None:
    rt = make_runtime(engine, tools__allowed_paths=[])
    Path("here.txt").write_text("here")
    error = call_error(rt, "Artifact.store_file", session(rt), "here.txt", "user_input")
    assert error.ename == "PermissionError"
    assert "tools.allowed_paths is empty" in error.evalue


def test_store_file_refuses_paths_outside_the_allowed_ones(
    files_rt: ScriptRuntime, tmp_path: Path
) -> None:
    rt = files_rt
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("secret")
    Path("link.txt").symlink_to(secret)
    Path("linkdir").symlink_to(outside)
    sid = session(rt)
    for path in (str(secret), "../outside/secret.txt", "link.txt", "linkdir/secret.txt"):
        error = call_error(rt, "Artifact.store_file", sid, path, "user_input")
        assert error.evalue.startswith("Artifact.store_file: ")
        assert error.ename == "PermissionError"
        assert "is outside tools.allowed_paths" in error.evalue, path
    error = call_error(rt, "Artifact.store_file", sid, "a\x00b", "user_input")
    assert "must not contain a NUL byte" in error.evalue
    assert as_list(call(rt, "Artifact.list", sid)) == []


def test_store_file_reads_from_tools_allowed_paths(
    make_runtime: MakeRuntime, engine: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "doc.md").write_text("# doc")
    rt = make_runtime(engine, tools__allowed_paths=[str(shared)])
    sid = session(rt)
    art = call(rt, "Artifact.store_file", sid, str(shared / "doc.md"), "user_input")
    meta = call(rt, "Artifact.get", sid, art)["metadata"]
    assert (meta["name"], meta["size"]) == ("doc.md", 5)
    error = call_error(rt, "Artifact.store_file", sid, str(shared / "missing.txt"), "user_input")
    assert error.evalue == (
        f"Artifact.store_file: {str(shared / 'missing.txt')!r} is not a readable file"
    )


# --- display ------------------------------------------------------------------------------


def test_an_artifact_list_displays_as_a_table(lua: ScriptRuntime) -> None:
    sid = session(lua)
    store(lua, sid, "a.txt", "1")
    store(lua, sid, "b.txt", "22", tags=["t"])
    html = lua.execute(f'return Artifact.list("{sid}")').bundle["text/html"]
    assert html.count("<tr>") == 3
    for column in ("sequence", "name", "version", "mime_type", "size", "created_at"):
        assert f"<th>{column}</th>" in html


def test_an_image_artifact_displays_as_the_image(files_rt: ScriptRuntime) -> None:
    rt = files_rt
    Path("dot.png").write_bytes(PNG)
    sid = session(rt)
    art = call(rt, "Artifact.store_file", sid, "dot.png", "tool_result")
    lua_code = f'return Artifact.get("{sid}", {art["sequence"]})'
    py_code = f"Artifact.get({sid!r}, {art['sequence']})"
    bundle = rt.execute(lua_code if rt.engine_name == "lua" else py_code).bundle
    assert base64.b64decode(bundle["image/png"]) == PNG
    assert bundle["text/plain"] == f"<image/png artifact 'dot.png', {len(PNG)} bytes>"


def test_a_text_artifact_does_not_display_as_an_image(lua: ScriptRuntime) -> None:
    sid = session(lua)
    store(lua, sid, "a.txt", "text")
    bundle = lua.execute(f'return Artifact.get("{sid}", 1)').bundle
    assert not any(mime.startswith("image/") for mime in bundle)


def test_large_content_round_trips_through_lua(lua: ScriptRuntime) -> None:
    sid = session(lua)
    result = lua.execute(
        f"""
        local parts = {{}}
        for i = 1, 3 * 1024 do parts[i] = string.char(i % 256):rep(1024) end
        local body = table.concat(parts)
        local id = Artifact.store("{sid}", "tool_result", "big.bin", body)
        return Artifact.get("{sid}", id).content == body and #body
        """
    ).value
    assert result == 3 * 1024 * 1024


def test_python_callers_can_stream_an_artifact_to_a_file(py: ScriptRuntime) -> None:
    from llmspell.runtime.sessions.artifacts import ArtifactManager

    sid = session(py)
    py.execute(f"art = Artifact.store({sid!r}, 'user_input', 'b.bin', bytearray(b'\\x00' * 3000))")
    with Path("out.bin").open("wb") as out:
        written = py.infrastructure.get(ArtifactManager).copy_to(sid, 1, out)
    assert written == 3000 and Path("out.bin").read_bytes() == b"\x00" * 3000
