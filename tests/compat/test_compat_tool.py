"""`Tool` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented argument forms (the appendix's examples run as written) and returns the
documented fields; the reference's built-in tools are known by their names, the offline ones
run with its parameter names, the others fail saying why. See docs/reference/compatibility.md."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides
from llmspell.runtime.tools import Tool, ToolRegistry

APPENDIX_FUNCTIONS = [
    "list", "execute", "get", "discover", "get_info", "get_schema", "exists", "categories",
    "register", "batch",
]  # fmt: skip
# The reference's 37 built-in tools (its tool reference), by the names its scripts use.
REFERENCE_TOOLS = [
    "file-operations", "archive-handler", "file-watcher", "file-converter", "file-search",
    "json-processor", "csv-analyzer", "http-request", "graphql-query", "web-scraper",
    "url-analyzer", "api-tester", "webhook-caller", "webpage-monitor", "sitemap-crawler",
    "email-sender", "environment-reader", "process-executor", "service-checker",
    "system-monitor", "uuid-generator", "base64-encoder", "hash-calculator", "text-manipulator",
    "calculator", "date-time-handler", "diff-calculator", "data-validation", "template-engine",
    "database-connector", "audio-processor", "video-processor", "image-processor", "web-search",
    "pdf-processor", "citation-formatter", "graph-builder",
]  # fmt: skip
DISABLED = [
    "file-watcher", "graphql-query", "web-scraper", "api-tester", "webhook-caller",
    "webpage-monitor", "sitemap-crawler", "email-sender", "process-executor", "service-checker",
    "database-connector", "audio-processor", "video-processor", "image-processor", "web-search",
    "pdf-processor",
]  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[ScriptRuntime, Path]]:
    """A Lua runtime whose tools.allowed_paths is `tmp_path/data`."""
    data = tmp_path / "data"
    data.mkdir()
    config = with_overrides(
        load_config(profile="memory", env={}).config, {"tools.allowed_paths": [str(data)]}
    )
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        yield rt, data
    finally:
        rt.close()


def test_every_function_of_the_appendix_is_there(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(Tool.{name})") == "function", name


def test_list_example_prints_name_and_category(lua: ScriptRuntime) -> None:
    out = lua.execute(
        """
        local tools = Tool.list()
        for i, tool in ipairs(tools) do
            print(tool.name, tool.category)
        end
        """
    )
    assert "calculator\tmath\n" in out.stdout
    assert "process-executor\tsystem\n" in out.stdout


def test_execute_example_with_operation_a_and_b(lua: ScriptRuntime) -> None:
    result = run(lua, 'return Tool.execute("calculator", {operation = "add", a = 5, b = 3})')
    assert result["success"] is True
    assert result["result"] == 8 and result["value"] == 8 and result["text"] == "8"


def test_the_two_operand_form_names_what_is_wrong(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="operation 'add' needs numbers a and b; b is nil"):
        run(lua, 'return Tool.execute("calculator", {operation = "add", a = 5})')
    with pytest.raises(ScriptError, match="operation must be one of 'evaluate', 'add'"):
        run(lua, 'return Tool.execute("calculator", {operation = "sqrt", a = 5})')


def test_the_error_handling_pattern_sees_the_error_of_a_division_by_zero(
    lua: ScriptRuntime,
) -> None:
    out = lua.execute(
        """
        local result = Tool.execute("calculator", {operation = "divide", a = 10, b = 0})
        if not result then
            print("Operation failed")
        elseif result.error then
            print("Error:", result.error)
        else
            print("Result:", result.value)
        end
        """
    )
    assert out.stdout == "Error:\tdivision by zero\n"
    assert (
        run(lua, 'return Tool.execute("calculator", {operation = "divide", a = 9, b = 2}).value')
        == 4.5
    )


def test_get_example_executes_with_dot_and_has_get_schema(lua: ScriptRuntime) -> None:
    out = lua.execute(
        """
        local tool = Tool.get("calculator")
        if tool then
            local result = tool.execute({operation = "add", a = 5, b = 3})
            print(result.result)
        end
        return tool:getSchema().properties.input.type, tool.get_schema().type
        """
    )
    assert out.stdout == "8\n" and out.value == ["string", "object"]


def test_discover_example_with_category_and_capabilities(lua: ScriptRuntime) -> None:
    names = run(
        lua,
        """
        local tools = Tool.discover({
            category = "data",
            capabilities = {"json"}
        })
        local names = {}
        for _, t in ipairs(tools) do names[#names + 1] = t.name end
        return names
        """,
    )
    assert names == ["data-validation", "json-processor"]
    with pytest.raises(ScriptError, match="capabilities must be a list of strings"):
        run(lua, 'return Tool.discover{capabilities = "json"}')


def test_get_info_example_has_description_and_parameters(lua: ScriptRuntime) -> None:
    out = lua.execute(
        """
        local info = Tool.get_info("calculator")
        print(info.description)
        return info.parameters.properties.input.type, info.enabled
        """
    )
    assert out.stdout.startswith("Evaluates an arithmetic expression")
    assert out.value == ["string", True]


def test_get_schema_returns_the_parameter_schema(lua: ScriptRuntime) -> None:
    schema = run(lua, 'return Tool.get_schema("file_operations")')
    assert schema["type"] == "object" and "operation" in schema["properties"]
    with pytest.raises(ScriptError, match="no tool named 'file-reader'"):
        run(lua, 'return Tool.get_schema("file-reader")')


def test_exists_example(lua: ScriptRuntime) -> None:
    assert lua.execute('if Tool.exists("calculator") then print("yes") end').stdout == "yes\n"
    assert run(lua, 'return Tool.exists("no-such-tool")') is False


def test_categories_example(lua: ScriptRuntime) -> None:
    out = lua.execute(
        """
        local categories = Tool.categories()
        for i, category in ipairs(categories) do
            print("Category:", category)
        end
        """
    )
    assert "Category:\tmath\n" in out.stdout and "Category:\tfilesystem\n" in out.stdout


def test_register_with_name_and_function_and_the_tool_step_pattern(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        Tool.register("my-transformer", function(params)
            local result = params.input:upper()
            return { text = result }
        end)
        local r = Tool.execute("my-transformer", {input = "hello"})
        return {r.success, r.result.text, r.text, Tool.exists("my-transformer")}
        """,
    )
    assert out == [True, "HELLO", "HELLO", True]
    with pytest.raises(ScriptError, match=r"Tool.register\(name, fn\) needs a function"):
        run(lua, 'Tool.register("x", 42)')


def test_batch_runs_calls_in_order(lua: ScriptRuntime) -> None:
    results = run(
        lua,
        """
        return Tool.batch({
            {name = "calculator", params = {expression = "2+2"}},
            {name = "uuid-generator", params = {operation = "v4"}},
        })
        """,
    )
    assert results[0]["result"] == 4 and len(results[1]["uuid"]) == 36


def test_the_configuration_table_pattern_retries_and_caches(lua: ScriptRuntime) -> None:
    out = run(
        lua,
        """
        local first = Tool.execute("calculator", {input = "6 * 7"},
            {timeout = 5000, retry = 3, cache = true})
        local again = Tool.execute("calculator", {input = "6 * 7"}, {cache = true})
        local failing = Tool.execute("calculator", {input = "6 +* 7"}, {retry = 2})
        return {first.result, first.metadata.attempts, again.result, again.metadata.cached,
                failing.success, failing.metadata.attempts}
        """,
    )
    assert out == [42, 1, 42, True, False, 3]


def test_a_built_in_tool_past_its_call_timeout_fails_saying_so(lua: ScriptRuntime) -> None:
    lua.infrastructure.get(ToolRegistry).add(
        Tool(
            name="slow-sleeper",
            description="sleeps",
            category="test",
            schema={"type": "object"},
            run=lambda params: time.sleep(2) or "woke",
            builtin=False,
        )
    )
    out = run(lua, 'local r = Tool.execute("slow-sleeper", {}, {timeout = 100}) return r')
    assert out["success"] is False and out["error"] == "timed out after 100 ms"


def test_call_options_are_checked(lua: ScriptRuntime) -> None:
    for options, message in [
        ("{timeout = 0}", "timeout must be milliseconds >= 1, got 0"),
        ("{retry = 11}", "retry must be an integer from 0 to 10, got 11"),
        ('{cache = "yes"}', "cache must be true or false, got 'yes'"),
        ("{ttl = 5}", "unknown option 'ttl'; options: timeout, retry, cache"),
    ]:
        with pytest.raises(ScriptError, match=rf"Tool\.execute: {re.escape(message)}"):
            run(lua, f'return Tool.execute("calculator", {{input = "1"}}, {options})')
    run(lua, 'Tool.register{name = "luafn", description = "d", fn = function() return 1 end}')
    with pytest.raises(ScriptError, match=r"timeout applies to built-in tools; 'luafn'"):
        run(lua, 'return Tool.execute("luafn", {}, {timeout = 100})')


# --- the reference's tools ---------------------------------------------------------------------


def test_all_37_reference_tools_are_known_by_their_names(lua: ScriptRuntime) -> None:
    assert len(REFERENCE_TOOLS) == 37
    for name in REFERENCE_TOOLS:
        if name == "http-request":
            continue  # only with tools.network_allowed (test_tools_builtin covers it)
        assert run(lua, f'return Tool.exists("{name}")') is True, name
        assert run(lua, f'return Tool.exists("{name.replace("-", "_")}")') is True, name


@pytest.mark.parametrize("name", DISABLED)
def test_a_disabled_tool_fails_saying_why(lua: ScriptRuntime, name: str) -> None:
    info = run(lua, f'return Tool.get_info("{name}")')
    assert info["enabled"] is False and "disabled in llmspell" in info["disabled_reason"]
    result = run(lua, f'return Tool.execute("{name}", {{operation = "run"}})')
    assert result["success"] is False
    assert result["error"] == info["disabled_reason"]


def test_process_executor_says_no_setting_enables_it(lua: ScriptRuntime) -> None:
    error = run(lua, 'return Tool.execute("process-executor", {executable = "echo"}).error')
    assert "never start processes" in error and "no setting enables it" in error


def test_uuid_generator_puts_the_uuid_at_the_top(lua: ScriptRuntime) -> None:
    result = run(
        lua, 'return Tool.execute("uuid-generator", {operation = "v4", format = "simple"})'
    )
    assert len(result["uuid"]) == 32 and result["result"] == result["uuid"] == result["text"]
    v7 = run(lua, 'return Tool.execute("uuid-generator", {operation = "v7", prefix = "job"})')
    assert v7["uuid"].startswith("job-") and v7["uuid"][4:][14] == "7"
    valid = run(
        lua, 'return Tool.execute("uuid-generator", {operation = "validate", input = "nope"})'
    )
    assert valid["valid"] is False


def test_hash_calculator_with_the_reference_parameters(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        'return Tool.execute("hash-calculator", {operation = "hash", algorithm = "sha256",'
        ' data = "abc"})',
    )
    assert result["hash"].startswith("ba7816bf") and result["algorithm"] == "sha256"


def test_text_manipulator_takes_text(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        'return Tool.execute("text-manipulator", {operation = "replace", text = "Hello World",'
        ' pattern = "World", replacement = "Lua"})',
    )
    assert result["result"] == "Hello Lua"
    with pytest.raises(ScriptError, match="give 'input' or 'text'"):
        run(
            lua,
            'return Tool.execute("text-manipulator",'
            ' {operation = "trim", text = "a", input = "b"})',
        )


def test_template_engine_renders_template_with_data(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        """
        return Tool.get("template_engine"):execute({
            operation = "render",
            template = "Hello {{name}}! You have {{count}} messages.",
            data = {name = "Alice", count = 5},
            engine = "handlebars"
        })
        """,
    )
    assert result["result"] == "Hello Alice! You have 5 messages."


def test_date_time_handler_is_the_datetime_handler(lua: ScriptRuntime) -> None:
    result = run(lua, 'return Tool.execute("date-time-handler", {operation = "now"})')
    assert result["success"] is True and result["metadata"]["tool"] == "datetime-handler"


def test_diff_calculator_text_and_json(lua: ScriptRuntime) -> None:
    text = run(
        lua,
        'return Tool.execute("diff_calculator", {operation = "text", old_text = "Hello world",'
        ' new_text = "Hello World!", format = "unified"})',
    )
    assert "-Hello world" in text["diff"] and "+Hello World!" in text["diff"]
    assert text["lines_added"] == 1 and text["lines_removed"] == 1
    changes = run(
        lua,
        'return Tool.execute("diff-calculator", {operation = "json",'
        ' old_json = {a = 1, b = 2}, new_json = \'{"a": 1, "b": 3, "c": true}\'}).changes',
    )
    assert changes == [
        {"path": "$.b", "kind": "changed", "old": 2, "new": 3},
        {"path": "$.c", "kind": "added", "new": True},
    ]


def test_data_validation_example(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        """
        return Tool.get("data_validation"):execute({
            operation = "validate",
            input = {name = "Alice", age = 300},
            schema = {
                type = "object",
                properties = {
                    name = {type = "string", minLength = 1},
                    age = {type = "number", minimum = 0, maximum = 150}
                },
                required = {"name", "age"}
            }
        })
        """,
    )
    assert result["valid"] is False
    assert result["errors"] == [
        {"path": "age", "message": "300 is greater than the maximum of 150"}
    ]


def test_url_analyzer_parses_without_fetching(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        'return Tool.execute("url-analyzer", {operation = "analyze",'
        ' url = "https://example.com/path?query=value#anchor"})',
    )
    assert (result["scheme"], result["host"], result["path"]) == ("https", "example.com", "/path")
    assert result["query_params"] == {"query": "value"} and result["valid"] is True
    bad = run(lua, 'return Tool.execute("url-analyzer", {operation = "validate", url = "ftp:x"})')
    assert bad["valid"] is False and "scheme must be http or https" in bad["reason"]


def test_environment_reader_never_shows_secrets(
    lua: ScriptRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_MODE", "test")
    monkeypatch.setenv("APP_API_KEY", "sk-123")
    monkeypatch.setenv("APP_DB", "postgres://u:pw@host/db")
    got = run(
        lua, 'return Tool.execute("environment-reader", {operation = "get", key = "APP_MODE"})'
    )
    assert got["value"] == "test"
    listed = run(
        lua, 'return Tool.execute("environment-reader", {operation = "list", filter = "^APP_"})'
    )
    assert listed["variables"] == {"APP_MODE": "test"}
    refused = run(
        lua, 'return Tool.execute("environment-reader", {operation = "get", key = "APP_API_KEY"})'
    )
    assert refused["success"] is False and "withheld" in refused["error"]
    assert "sk-123" not in str(refused)


def test_system_monitor_metrics(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        'return Tool.execute("system-monitor",'
        ' {operation = "get_metrics", metrics = {"cpu", "disk"}})',
    )
    assert set(result["result"]) == {"cpu", "disk"}
    assert result["cpu"]["cores"] >= 1 and result["disk"]["total_bytes"] > 0


def test_citation_formatter_formats_bibtex_in_apa(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        """
        return Tool.execute("citation-formatter", {
            operation = "format_citation",
            input = "@article{smith24, author = {Smith, John}, title = {Test Article}, "
                .. "year = 2024}",
            format = "bibtex",
            style = "apa"
        })
        """,
    )
    assert result["reference_list"] == ["Smith, J. (2024). Test Article."]
    assert result["citations"] == [{"id": "smith24", "text": "(Smith, 2024)"}]
    styles = run(
        lua, 'return Tool.execute("citation-formatter", {operation = "list_styles"}).styles'
    )
    assert "mla" in styles and "ieee" in styles


def test_graph_builder_example_round_trips_through_json(lua: ScriptRuntime) -> None:
    result = run(
        lua,
        """
        local graph = Tool.get("graph_builder")
        local result = graph:execute({operation = "create_graph", graph_type = "directed"})
        local g = graph:execute({operation = "add_node", graph = JSON.stringify(result.result),
            node_id = "node1", label = "First Node", data = {value = 42}}).result
        g = graph:execute({operation = "add_node", graph = g, node_id = "node2"}).result
        g = graph:execute({operation = "add_edge", graph = g, from = "node1", to = "node2"}).result
        return graph:execute({operation = "analyze", graph = g})
        """,
    )
    assert (result["node_count"], result["edge_count"], result["is_connected"]) == (2, 1, True)
    assert result["degrees"] == {"node1": 1, "node2": 1}


def test_file_operations_with_content_copy_and_move(files: tuple[ScriptRuntime, Path]) -> None:
    rt, data = files
    root = str(data)
    result = run(
        rt,
        f"""
        local f = Tool.get("file_operations")
        f:execute({{operation = "write", path = "{root}/a.txt", content = "hello"}})
        f:execute({{operation = "copy", source_path = "{root}/a.txt",
                    target_path = "{root}/b.txt"}})
        f:execute({{operation = "create_directory", path = "{root}/sub"}})
        f:execute({{operation = "move", path = "{root}/b.txt", target_path = "{root}/sub"}})
        return f:execute({{operation = "read", path = "{root}/sub/b.txt"}})
        """,
    )
    assert result["result"] == "hello" and result["text"] == "hello"
    outside = run(
        rt,
        f'return pcall(Tool.execute, "file-operations", {{operation = "copy",'
        f' path = "{root}/a.txt", target_path = "/etc/x"}})',
    )
    assert outside[0] is False and "outside tools.allowed_paths" in outside[1]


def test_file_search_finds_lines(files: tuple[ScriptRuntime, Path]) -> None:
    rt, data = files
    (data / "notes.md").write_text("one\nTODO: two\nthree TODO\n")
    (data / "skip.txt").write_text("TODO elsewhere\n")
    result = run(
        rt,
        f'return Tool.execute("file-search", {{operation = "search", path = "{data}",'
        ' pattern = "TODO", recursive = true, file_pattern = "*.md"})',
    )
    assert [(m["line"], m["text"]) for m in result["matches"]] == [
        (2, "TODO: two"),
        (3, "three TODO"),
    ]
    regex = run(
        rt,
        f'return Tool.execute("file-search", {{operation = "search_regex", path = "{data}",'
        ' pattern = "^three"})',
    )
    assert regex["total_matches"] == 1


def test_archive_handler_creates_lists_and_extracts(files: tuple[ScriptRuntime, Path]) -> None:
    rt, data = files
    (data / "reports").mkdir()
    (data / "reports" / "r1.txt").write_text("first")
    for fmt in ("zip", "tar.gz"):
        created = run(
            rt,
            f'return Tool.execute("archive-handler", {{operation = "create", format = "{fmt}",'
            f' source_path = "{data}/reports", output_path = "{data}/out.{fmt}"}})',
        )
        assert created["files"] == ["reports/r1.txt"], fmt
        listed = run(
            rt,
            f'return Tool.execute("archive-handler", {{operation = "list",'
            f' archive_path = "{data}/out.{fmt}"}})',
        )
        assert [e["name"] for e in listed["entries"] if not e["is_dir"]] == ["reports/r1.txt"]
        run(
            rt,
            f'return Tool.execute("archive-handler", {{operation = "extract",'
            f' archive_path = "{data}/out.{fmt}", output_path = "{data}/x-{fmt}"}})',
        )
        assert (data / f"x-{fmt}" / "reports" / "r1.txt").read_text() == "first"


def test_archive_handler_refuses_a_member_that_climbs_out(
    files: tuple[ScriptRuntime, Path],
) -> None:
    import zipfile

    rt, data = files
    with zipfile.ZipFile(data / "evil.zip", "w") as zf:
        zf.writestr("../escaped.txt", "x")
    result = run(
        rt,
        f'return Tool.execute("archive-handler", {{operation = "extract",'
        f' archive_path = "{data}/evil.zip", output_path = "{data}/out"}})',
    )
    assert result["success"] is False and "outside the output folder" in result["error"]
    assert not (data / "escaped.txt").exists()


def test_file_converter_converts_encoding(files: tuple[ScriptRuntime, Path]) -> None:
    rt, data = files
    (data / "legacy.txt").write_bytes("café".encode("latin-1"))
    result = run(
        rt,
        f'return Tool.execute("file-converter", {{operation = "convert_encoding",'
        f' source_path = "{data}/legacy.txt", target_path = "{data}/utf8.txt",'
        ' from_encoding = "latin1", to_encoding = "utf8"})',
    )
    assert result["success"] is True
    assert (data / "utf8.txt").read_text(encoding="utf-8") == "café"
