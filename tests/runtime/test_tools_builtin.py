"""Every built-in tool's operations through `Tool.execute`, their failures (returned) and
their schema violations (raised), calculator abuse, and file access confined to
`tools.allowed_paths`."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.tools.paths import private_temp_path, private_temp_root


def run_tool(rt: ScriptRuntime, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """`Tool.execute(name, params)` in Lua, params passed as JSON so any value survives."""
    code = f"return Tool.execute({json.dumps(name)}, JSON.parse({json.dumps(json.dumps(params))}))"
    return rt.execute(code).value  # type: ignore[no-any-return]


def result_of(rt: ScriptRuntime, name: str, params: dict[str, Any]) -> Any:
    out = run_tool(rt, name, params)
    assert out["success"] is True, out
    return out["result"]


def failure_of(rt: ScriptRuntime, name: str, params: dict[str, Any]) -> str:
    out = run_tool(rt, name, params)
    assert out["success"] is False and out.get("result") is None, out
    assert out["metadata"]["tool"] == name
    return str(out["error"])


# --- calculator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 2 * 3", 8),
        ("6 * 7", 42),
        ("7 / 2", 3.5),
        ("6 / 3", 2),
        ("2 ^ 10", 1024),
        ("-(3 - 5) % 3", 2),
        ("7 // 2", 3),
        ("sqrt(16) + abs(-2)", 6.0),
        ("max(1, 5, 3) * pi / pi", 5.0),
    ],
)
def test_calculator_evaluates_and_integers_stay_integers(
    lua: ScriptRuntime, expression: str, value: Any
) -> None:
    result = result_of(lua, "calculator", {"input": expression})
    assert result == value and type(result) is type(value)


def test_calculator_uses_variables(lua: ScriptRuntime) -> None:
    assert result_of(lua, "calculator", {"input": "x * y + 1", "variables": {"x": 3, "y": 4}}) == 13


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9^9^9^9", "too large"),
        ("2 +* 3", "invalid expression"),
        ("1 / 0", "division by zero"),
        ("secret + 1", "unknown name 'secret'"),
        ('__import__("os")', "not available"),
        ("(1).real", "attribute is not allowed"),
        ("[1, 2]", "not allowed"),
        ("'text'", "only numbers"),
        ("10.0 ^ 400", "too large"),
        ("sqrt(-1)", "cannot evaluate"),
        ("(" * 500 + "1" + ")" * 500, "nested"),
    ],
)
def test_calculator_abuse_fails_cleanly_without_running_anything(
    lua: ScriptRuntime, expression: str, message: str
) -> None:
    assert message in failure_of(lua, "calculator", {"input": expression})


def test_a_one_megabyte_expression_is_refused_by_the_schema(lua: ScriptRuntime) -> None:
    lua.execute('big = string.rep("1+", 500000) .. "1"')
    err = error_of(lua, 'Tool.execute("calculator", {input = big})')
    assert "calculator: parameter 'input' must be at most 10000 characters" in err.evalue


# --- schema violations raise, naming tool, parameter and type ----------------------------------


@pytest.mark.parametrize(
    ("tool", "params", "message"),
    [
        (
            "calculator",
            "{input = 3}",
            "calculator: parameter 'input' must be a string, got integer",
        ),
        ("calculator", "{}", "calculator: parameter 'input' is required (a string)"),
        ("calculator", "{input = '1', extra = 1}", "unknown parameter 'extra'"),
        (
            "hash-calculator",
            "{input = 'x', algorithm = 'crc'}",
            "parameter 'algorithm' must be one of",
        ),
        (
            "text-manipulator",
            "{operation = 'replace', input = 'x'}",
            "parameter 'pattern' is required",
        ),
        ("file-operations", "{operation = 'write', path = 'x'}", "parameter 'input' is required"),
        ("csv-analyzer", "{operation = 'head'}", "exactly one of 'input', 'path'"),
        ("uuid-generator", "{version = 'v5'}", "parameter 'name' is required"),
        (
            "datetime-handler",
            "{operation = 'add', input = '2026-01-01T00:00:00Z'}",
            "'amount' is required",
        ),
        ("json-processor", "{operation = 'query', input = '{}'}", "'query' is required"),
    ],
)
def test_schema_violations_raise_naming_the_tool_parameter_and_expectation(
    lua: ScriptRuntime, tool: str, params: str, message: str
) -> None:
    err = error_of(lua, f'Tool.execute("{tool}", {params})')
    assert err.evalue.startswith("Tool.execute: ")
    assert message in err.evalue
    assert err.ename == "ValidationError"


def test_an_unknown_tool_raises_listing_the_tools(lua: ScriptRuntime) -> None:
    err = error_of(lua, 'Tool.execute("no-such-tool", {})')
    assert (
        "Tool.execute: no tool named 'no-such-tool'; tools: archive-handler, base64-encoder"
        in err.evalue
    )
    assert "process-executor" not in err.evalue  # only the tools that run are offered


# --- text, template, hash, base64, uuid -------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "value"),
    [
        ({"operation": "uppercase", "input": "abc"}, "ABC"),
        ({"operation": "lowercase", "input": "AbC"}, "abc"),
        ({"operation": "trim", "input": "  x \n"}, "x"),
        ({"operation": "reverse", "input": "abc"}, "cba"),
        ({"operation": "replace", "input": "a.b.c", "pattern": ".", "replacement": "-"}, "a-b-c"),
        ({"operation": "split", "input": "a,b,c", "pattern": ","}, ["a", "b", "c"]),
        ({"operation": "split", "input": " a  b "}, ["a", "b"]),
        ({"operation": "count", "input": "one two\nthree"}, 13),
        ({"operation": "count", "input": "one two\nthree", "count_type": "words"}, 3),
        ({"operation": "count", "input": "one two\nthree", "count_type": "lines"}, 2),
        ({"operation": "snake_case", "input": "helloBig World"}, "hello_big_world"),
        ({"operation": "camel_case", "input": "hello big_world"}, "helloBigWorld"),
    ],
)
def test_text_manipulator_operations(
    lua: ScriptRuntime, params: dict[str, Any], value: Any
) -> None:
    assert result_of(lua, "text-manipulator", params) == value


def test_template_creator_fills_names_and_dotted_paths_and_fails_on_missing(
    lua: ScriptRuntime,
) -> None:
    params = {
        "input": "Hi {{user.name}}, you have {{ n }} items",
        "context": {"user": {"name": "Ada"}, "n": 3},
    }
    assert result_of(lua, "template-creator", params) == "Hi Ada, you have 3 items"
    assert "context does not have" in failure_of(lua, "template-creator", {"input": "{{x}}"})


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "sha512"])
def test_hash_calculator_hashes_and_verifies(lua: ScriptRuntime, algorithm: str) -> None:
    digest = hashlib.new(algorithm, "héllo".encode()).hexdigest()
    params = {"operation": "hash", "algorithm": algorithm, "input": "héllo"}
    assert result_of(lua, "hash-calculator", params) == digest
    verify = {"operation": "verify", "algorithm": algorithm, "input": "héllo"}
    assert result_of(lua, "hash-calculator", {**verify, "expected": digest.upper()}) is True
    assert result_of(lua, "hash-calculator", {**verify, "expected": "00"}) is False


def test_base64_round_trips_and_rejects_garbage(lua: ScriptRuntime) -> None:
    encoded = result_of(lua, "base64-encoder", {"operation": "encode", "input": "hi?>"})
    assert encoded == "aGk/Pg=="
    safe = result_of(
        lua, "base64-encoder", {"operation": "encode", "input": "hi?>", "url_safe": True}
    )
    assert safe == "aGk_Pg=="
    assert (
        result_of(lua, "base64-encoder", {"operation": "decode", "input": safe, "url_safe": True})
        == "hi?>"
    )
    assert "not valid base64" in failure_of(
        lua, "base64-encoder", {"operation": "decode", "input": "@@@"}
    )


def test_uuid_generator_v4_is_random_and_v5_is_name_based(lua: ScriptRuntime) -> None:
    a = result_of(lua, "uuid-generator", {"operation": "generate", "version": "v4"})
    b = result_of(lua, "uuid-generator", {})
    assert uuid.UUID(a).version == 4 and a != b
    v5 = result_of(lua, "uuid-generator", {"version": "v5", "namespace": "url", "name": "x"})
    assert v5 == str(uuid.uuid5(uuid.NAMESPACE_URL, "x"))
    assert "namespace must be" in failure_of(
        lua, "uuid-generator", {"version": "v5", "namespace": "?", "name": "x"}
    )


# --- datetime ---------------------------------------------------------------------------------


def test_datetime_handler_operations(lua: ScriptRuntime) -> None:
    now = result_of(lua, "datetime-handler", {"operation": "now"})
    assert now.endswith("Z") and len(now) == 27
    assert (
        result_of(
            lua, "datetime-handler", {"operation": "parse", "input": "2026-03-01T10:00:00+02:00"}
        )
        == "2026-03-01T08:00:00.000000Z"
    )
    assert (
        result_of(
            lua,
            "datetime-handler",
            {
                "operation": "parse",
                "input": "01/03/2026 10:00",
                "format": "%d/%m/%Y %H:%M",
                "timezone": "Europe/Paris",
            },
        )
        == "2026-03-01T10:00:00.000000+01:00"
    )
    assert (
        result_of(
            lua,
            "datetime-handler",
            {
                "operation": "format",
                "input": 0,
                "format": "%Y-%m-%d %H:%M",
                "timezone": "Asia/Tokyo",
            },
        )
        == "1970-01-01 09:00"
    )
    assert (
        result_of(
            lua,
            "datetime-handler",
            {"operation": "add", "input": "2026-01-31T00:00:00Z", "amount": 36, "unit": "hours"},
        )
        == "2026-02-01T12:00:00.000000Z"
    )
    assert (
        result_of(
            lua,
            "datetime-handler",
            {
                "operation": "diff",
                "input": "2026-01-01T00:00:00Z",
                "other": "2026-01-02T12:00:00Z",
                "unit": "hours",
            },
        )
        == 36
    )
    assert "unknown time zone" in failure_of(
        lua, "datetime-handler", {"operation": "now", "timezone": "Mars/Base"}
    )
    assert "cannot parse" in failure_of(
        lua, "datetime-handler", {"operation": "parse", "input": "yesterday"}
    )


# --- json, csv --------------------------------------------------------------------------------


def test_json_processor_queries_transforms_validates_and_formats(lua: ScriptRuntime) -> None:
    doc = {"people": [{"name": "a", "age": 30}, {"name": "b", "age": 20}]}
    assert result_of(
        lua,
        "json-processor",
        {"operation": "query", "input": json.dumps(doc), "query": "people[?age > `25`].name"},
    ) == ["a"]
    assert result_of(
        lua,
        "json-processor",
        {"operation": "query", "input": doc, "query": "{names: people[*].name}"},
    ) == {"names": ["a", "b"]}
    schema = {"type": "object", "required": ["people"]}
    assert (
        result_of(lua, "json-processor", {"operation": "validate", "input": doc, "schema": schema})
        is True
    )
    invalid = run_tool(
        lua, "json-processor", {"operation": "validate", "input": {"x": 1}, "schema": schema}
    )
    assert (
        invalid["result"] is False
        and "'people' is a required property" in invalid["metadata"]["errors"][0]
    )
    assert (
        result_of(lua, "json-processor", {"operation": "format", "input": '{"b":1,"a":2}'})
        == '{\n  "a": 2,\n  "b": 1\n}'
    )
    assert "not valid JSON" in failure_of(
        lua, "json-processor", {"operation": "format", "input": "{nope"}
    )
    assert "invalid JMESPath" in failure_of(
        lua, "json-processor", {"operation": "query", "input": "{}", "query": "[["}
    )


CSV = "city,temp\nParis,12\nOslo,3\nParis,14\n"


def test_csv_analyzer_stats_filter_and_head(lua: ScriptRuntime) -> None:
    stats = result_of(lua, "csv-analyzer", {"operation": "stats", "input": CSV})
    assert stats["rows"] == 3 and stats["columns"] == ["city", "temp"]
    assert stats["stats"]["temp"] == {
        "count": 3,
        "missing": 0,
        "type": "number",
        "min": 3,
        "max": 14,
        "sum": 29,
        "mean": 29 / 3,
        "median": 12,
    }
    assert stats["stats"]["city"]["unique"] == 2
    assert result_of(
        lua,
        "csv-analyzer",
        {"operation": "filter", "input": CSV, "where": {"city": "Paris", "temp": 14}},
    ) == [{"city": "Paris", "temp": "14"}]
    assert result_of(lua, "csv-analyzer", {"operation": "head", "input": CSV, "n": 1}) == [
        {"city": "Paris", "temp": "12"}
    ]
    assert "no column 'x'" in failure_of(
        lua, "csv-analyzer", {"operation": "stats", "input": CSV, "column": "x"}
    )


def test_csv_analyzer_reads_files_only_inside_allowed_paths(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    (tmp_path / "t.csv").write_text(CSV)
    rt = make_runtime(tools__allowed_paths=[str(tmp_path)])
    assert (
        result_of(rt, "csv-analyzer", {"operation": "head", "path": str(tmp_path / "t.csv")})[0][
            "city"
        ]
        == "Paris"
    )
    err = error_of(rt, 'Tool.execute("csv-analyzer", {operation = "head", path = "/etc/passwd"})')
    assert "outside tools.allowed_paths" in err.evalue and err.ename == "PermissionError"


# --- file-operations --------------------------------------------------------------------------


@pytest.fixture
def files(make_runtime: MakeRuntime, tmp_path: Path) -> tuple[ScriptRuntime, Path]:
    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    return make_runtime(tools__allowed_paths=[str(root)]), root


def test_file_operations_inside_the_allowed_root(files: tuple[ScriptRuntime, Path]) -> None:
    rt, root = files
    p = str(root / "notes.txt")
    assert result_of(rt, "file-operations", {"operation": "exists", "path": p}) is False
    assert (
        result_of(rt, "file-operations", {"operation": "write", "path": p, "input": "one\n"})
        is True
    )
    assert (
        result_of(rt, "file-operations", {"operation": "append", "path": p, "input": "two\n"})
        is True
    )
    assert result_of(rt, "file-operations", {"operation": "read", "path": p}) == "one\ntwo\n"
    assert (
        result_of(rt, "file-operations", {"operation": "mkdir", "path": str(root / "a" / "b")})
        is True
    )
    assert result_of(rt, "file-operations", {"operation": "list", "path": str(root)}) == [
        "a",
        "notes.txt",
    ]
    assert result_of(rt, "file-operations", {"operation": "delete", "path": p}) is True
    assert not (root / "notes.txt").exists()
    assert "does not exist" in failure_of(rt, "file-operations", {"operation": "read", "path": p})
    assert "failed" in failure_of(
        rt, "file-operations", {"operation": "delete", "path": str(root / "a")}
    )


@pytest.mark.parametrize(
    "escape",
    ["{root}/../secret.txt", "/etc/passwd", "{root}/link.txt", "{root}/ok\\0.txt"],
    ids=["dot-dot", "absolute", "symlink", "nul-byte"],
)
def test_file_operations_refuse_every_path_escape(
    files: tuple[ScriptRuntime, Path], escape: str
) -> None:
    rt, root = files
    os.symlink(root.parent / "secret.txt", root / "link.txt")
    path = escape.format(root=root)
    for operation in ("read", "exists", "write"):
        params = f'{{operation = "{operation}", path = "{path}", input = "x"}}'
        code = f'Tool.execute("file-operations", {params})'
        err = error_of(rt, code)
        assert err.ename == "PermissionError", err.evalue
        assert err.evalue.startswith("Tool.execute: ")
    assert (root.parent / "secret.txt").read_text() == "secret"


def test_file_operations_are_refused_when_no_path_is_allowed(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    closed = make_runtime(tools__allowed_paths=[])
    err = error_of(
        closed, f'Tool.execute("file-operations", {{operation = "exists", path = "{tmp_path}"}})'
    )
    assert "tools.allowed_paths is empty" in err.evalue


def test_the_default_allowed_path_is_a_private_temporary_directory(lua: ScriptRuntime) -> None:
    private = private_temp_path()
    assert lua.execute("return Config.getTools().allowed_paths").value == [private]
    assert os.stat(private).st_mode & 0o777 == 0o700
    path = f"{private}/default-path-test.txt"
    try:
        run_tool(lua, "file-operations", {"operation": "write", "path": path, "input": "x"})
        assert Path(path).read_text() == "x"
    finally:
        Path(path).unlink(missing_ok=True)


def test_a_default_directory_someone_else_prepared_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    target = tmp_path / "elsewhere"
    target.mkdir()
    Path(private_temp_path()).symlink_to(target)  # a link planted where the default goes
    assert private_temp_root() is None
    Path(private_temp_path()).unlink()
    Path(private_temp_path()).mkdir(mode=0o777)
    os.chmod(private_temp_path(), 0o777)  # a directory others may write
    assert private_temp_root() is None
    os.chmod(private_temp_path(), 0o700)
    assert private_temp_root() == private_temp_path()


def test_archive_extraction_refuses_links_and_stops_at_the_size_limit(
    files: tuple[ScriptRuntime, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import tarfile

    from llmspell.runtime.tools import archive_tool

    rt, root = files
    with tarfile.open(root / "link.tar", "w") as tf:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    failed = failure_of(
        rt,
        "archive-handler",
        {"operation": "extract", "archive_path": f"{root}/link.tar", "output_path": f"{root}/o"},
    )
    assert "is a link or special file" in failed
    assert not (root / "o" / "passwd").exists()
    with tarfile.open(root / "big.tar", "w") as tf:
        data = b"x" * 5000
        info = tarfile.TarInfo("big.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(archive_tool, "MAX_EXTRACT_BYTES", 4096)
    failed = failure_of(
        rt,
        "archive-handler",
        {"operation": "extract", "archive_path": f"{root}/big.tar", "output_path": f"{root}/b"},
    )
    assert "goes past 4096 bytes" in failed and not (root / "b" / "big.bin").exists()


def test_an_agent_cannot_be_given_a_disabled_tool(lua: ScriptRuntime) -> None:
    err = error_of(
        lua, 'Agent.builder():name("x"):model("mock"):allow_tool("process-executor"):build()'
    )
    assert "process-executor is disabled in llmspell" in err.evalue


# --- http-request -----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the timeout test)

    def do_GET(self) -> None:
        if self.path == "/big":
            body = b"x" * (11 * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/slow":
            import time

            time.sleep(1.0)
        payload = json.dumps({"path": self.path, "agent": self.headers.get("X-Test")}).encode()
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        echoed = self.rfile.read(length)
        self.send_response(503 if self.path == "/down" else 201)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(echoed)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_request_exists_only_when_the_network_is_allowed(make_runtime: MakeRuntime) -> None:
    assert make_runtime().execute('return Tool.exists("http-request")').value is False
    assert (
        make_runtime(tools__network_allowed=True)
        .execute('return Tool.exists("http-request")')
        .value
        is True
    )


def test_http_request_gets_posts_and_reports_any_status(
    make_runtime: MakeRuntime, server: str
) -> None:
    rt = make_runtime(tools__network_allowed=True)
    got = result_of(rt, "http-request", {"input": f"{server}/hello", "headers": {"X-Test": "yes"}})
    assert got["status"] == 200 and got["json"] == {"path": "/hello", "agent": "yes"}
    assert result_of(rt, "http-request", {"input": f"{server}/missing"})["status"] == 404
    posted = result_of(rt, "http-request", {"input": server, "method": "POST", "json": {"a": 1}})
    assert posted["status"] == 201 and json.loads(posted["body"]) == {"a": 1}


def test_api_tester_and_webhook_caller_exist_only_with_the_network(
    make_runtime: MakeRuntime, server: str
) -> None:
    closed = make_runtime()
    assert "tools.network_allowed is false" in failure_of(
        closed, "api-tester", {"url": f"{server}/hello"}
    )
    rt = make_runtime(tools__network_allowed=True)
    # the appendix's form: method and url
    assert (
        run_tool(rt, "http-request", {"method": "GET", "url": f"{server}/hello"})["status"] == 200
    )
    tested = run_tool(rt, "api-tester", {"url": f"{server}/hello", "expected_status": 200})
    assert tested["passed"] is True and tested["status"] == 200 and tested["response_time_ms"] >= 0
    assert run_tool(rt, "api-tester", {"endpoint": f"{server}/missing"})["passed"] is False
    sent = run_tool(rt, "webhook-caller", {"url": server, "payload": {"event": "test"}})
    assert sent["delivered"] is True and sent["attempts"] == 1
    assert json.loads(sent["body"]) == {"event": "test"}
    failed = failure_of(
        rt,
        "webhook-caller",
        {"operation": "call_with_retry", "url": f"{server}/down", "max_retries": 2,
         "retry_delay": 0},
    )  # fmt: skip
    assert failed == "webhook not delivered after 3 attempt(s): the server answered 503"


def test_http_request_enforces_the_timeout_and_the_size_cap(
    make_runtime: MakeRuntime, server: str
) -> None:
    rt = make_runtime(tools__network_allowed=True)
    assert "timed out" in failure_of(
        rt, "http-request", {"input": f"{server}/slow", "timeout_s": 0.2}
    )
    assert "larger than" in failure_of(rt, "http-request", {"input": f"{server}/big"})
    assert "failed" in failure_of(rt, "http-request", {"input": "http://127.0.0.1:1/"})
    err = error_of(rt, 'Tool.execute("http-request", {input = "file:///etc/passwd"})')
    assert "parameter 'input'" in err.evalue
