"""`Template` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments and returns the documented fields, and each of the ten built-in
templates runs offline with the `mock` model, its parameters checked against its schema; see
docs/reference/compatibility.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config

FUNCTIONS = ["list", "info", "execute", "search", "schema", "estimate_cost"]
TEMPLATES = {
    "research-assistant": "research",
    "interactive-chat": "chat",
    "data-analysis": "analysis",
    "code-generator": "codegen",
    "document-processor": "document",
    "workflow-orchestrator": "workflow",
    "code-review": "codegen",
    "content-generation": "document",
    "file-classification": "workflow",
    "knowledge-management": "research",
}
OUTPUT_FIELDS = {"success", "result", "artifacts", "metadata", "metrics"}
METADATA_FIELDS = {"template_id", "template_version", "execution_id", "started_at", "completed_at"}
METRIC_FIELDS = {"duration_ms", "tokens_used", "cost_usd", "api_calls"}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text("x,y\n1,2\n2,4\n3,7\n")
    (tmp_path / "main.rs").write_text('fn main() { println!("hi"); }\n')
    (tmp_path / "doc.txt").write_text("Rust ownership makes memory safety checkable.\n")
    sort = tmp_path / "inbox"
    sort.mkdir()
    for name in ("a.py", "b.png", "notes.txt"):
        (sort / name).write_text("x")
    return tmp_path


@pytest.fixture
def rt(isolated_env: Path, files: Path) -> Iterator[ScriptRuntime]:
    """Lua on memory storage whose tools may read and write `files`."""
    config = load_config(
        profile="memory", env={}, overrides={"tools.allowed_paths": [str(files)]}
    ).config
    runtime = ScriptRuntime.with_engine(config, "lua")
    try:
        yield runtime
    finally:
        runtime.close()


def execute(rt: ScriptRuntime, name: str, params: str) -> dict[str, Any]:
    out: dict[str, Any] = run(rt, f'return Template.execute("{name}", {params})')
    return out


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in FUNCTIONS:
        assert run(lua, f"return type(Template.{name})") == "function", name


def test_list_gives_the_ten_templates_with_name_category_description(lua: ScriptRuntime) -> None:
    listed = run(lua, "return Template.list()")
    assert {t["name"]: t["category"] for t in listed} == TEMPLATES
    assert all(t["description"] and t["version"] == "1.0.0" for t in listed)


@pytest.mark.parametrize("category", sorted(set(TEMPLATES.values())))
def test_list_by_category(lua: ScriptRuntime, category: str) -> None:
    names = {t["name"] for t in run(lua, f'return Template.list("{category}")')}
    assert names == {n for n, c in TEMPLATES.items() if c == category}


def test_info_with_and_without_schema(lua: ScriptRuntime) -> None:
    info, with_schema = run(
        lua,
        'return Template.info("research-assistant"), Template.info("research-assistant", true)',
    )
    assert info["metadata"]["name"] == "research-assistant"
    assert info["metadata"]["category"] == "research"
    assert info["metadata"]["version"] == "1.0.0"
    assert info["metadata"]["description"]
    assert "schema" not in info
    topic = with_schema["schema"]["parameters"][0]
    assert (topic["name"], topic["param_type"], topic["required"]) == ("topic", "string", True)


def test_schema_parameters_carry_type_required_and_constraints(lua: ScriptRuntime) -> None:
    params = {
        p["name"]: p for p in run(lua, 'return Template.schema("code-generator")')["parameters"]
    }
    assert params["description"]["required"] is True
    assert params["language"]["constraints"]["allowed_values"][:2] == ["rust", "python"]
    assert params["generate_tests"]["param_type"] == "boolean"
    assert params["generate_tests"]["default"] is True
    required = run(
        lua,
        """
        local schema = Template.schema("research-assistant")
        local required_params = {}
        for _, param in ipairs(schema.parameters) do
            if param.required then table.insert(required_params, param.name) end
            if param.constraints and param.constraints.min_value then
                assert(type(param.constraints.min_value) == "number")
            end
        end
        return table.concat(required_params, ", ")
        """,
    )
    assert required == "topic"


def test_search_by_keyword_and_within_a_category(lua: ScriptRuntime) -> None:
    everywhere, in_codegen, in_document = run(
        lua,
        'return Template.search("research"), Template.search("review", "codegen"), '
        'Template.search("content", "document")',
    )
    assert "research-assistant" in {t["name"] for t in everywhere}
    assert [t["name"] for t in in_codegen] == ["code-review"]
    assert "content-generation" in {t["name"] for t in in_document}
    assert run(lua, 'return #Template.search("nothing-like-this")') == 0


def test_estimate_cost_gives_tokens_cost_and_confidence(lua: ScriptRuntime) -> None:
    estimate = run(
        lua,
        """return Template.estimate_cost("research-assistant", {
            topic = "Climate change impacts", max_sources = 20, model = "mock"})""",
    )
    assert estimate["estimated_tokens"] > 0
    assert estimate["estimated_cost_usd"] == 0.0  # a local provider costs nothing
    assert estimate["confidence"] == "low"
    assert estimate["model_calls"] == 3
    fewer = run(
        lua,
        """return Template.estimate_cost("research-assistant", {
            topic = "Climate change impacts", enable_validation = false, model = "mock"})""",
    )
    assert fewer["model_calls"] == 2
    no_model = run(
        lua, 'return Template.estimate_cost("code-generator", {description = "x", language = "go"})'
    )
    assert "estimated_cost_usd" not in no_model  # unknown without a model


def check_output(out: dict[str, Any], name: str) -> None:
    assert set(out) >= OUTPUT_FIELDS
    assert out["success"] is True
    assert set(out["metadata"]) >= METADATA_FIELDS
    assert out["metadata"]["template_id"] == name
    assert set(out["metrics"]) >= METRIC_FIELDS
    assert out["metrics"]["cost_usd"] == 0.0
    for artifact in out["artifacts"] or []:
        assert {"filename", "artifact_type", "content"} <= set(artifact)


def test_research_assistant_with_the_documented_parameters(rt: ScriptRuntime) -> None:
    run(rt, 'RAG.ingest({content = "Rust async uses futures polled by an executor."})')
    out = execute(
        rt,
        "research-assistant",
        """{topic = "Rust async/await patterns", max_sources = 10, min_quality_score = 0.0,
            research_depth = "comprehensive", enable_validation = true,
            output_format = "markdown", model = "mock", save_sources = true}""",
    )
    check_output(out, "research-assistant")
    assert out["result"].startswith("# Rust async/await patterns")
    assert [a["filename"] for a in out["artifacts"]] == ["research_report.md", "sources.json"]
    sources = json.loads(out["artifacts"][1]["content"])
    assert "futures polled" in sources[0]["excerpt"]
    assert set(out["metadata"]["extra"]["phase_results"]) == {
        "discovery",
        "analysis",
        "synthesis",
        "validation",
    }
    assert out["metrics"]["api_calls"] == 3
    assert out["metrics"]["tokens_used"] > 0


def test_interactive_chat_keeps_the_conversation_per_session_name(rt: ScriptRuntime) -> None:
    first = execute(
        rt,
        "interactive-chat",
        """{message = "My favourite colour is teal", session_name = "my-chat",
            system_prompt = "You are a helpful coding assistant", model = "mock",
            enable_memory = true, max_history = 10, temperature = 0.7}""",
    )
    check_output(first, "interactive-chat")
    second = execute(
        rt,
        "interactive-chat",
        '{message = "What colour?", session_name = "my-chat", model = "mock"}',
    )
    assert second["metadata"]["extra"]["turns"] == 2
    assert "teal" in second["result"]  # the mock answers from the earlier turn


def test_interactive_chat_repl_mode_is_refused_with_the_reason(rt: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        execute(rt, "interactive-chat", '{message = "repl", model = "mock"}')
    assert "REPL mode needs an interactive terminal" in info.value.evalue


@pytest.mark.parametrize("kind", ["descriptive", "correlation", "regression", "timeseries"])
def test_data_analysis_computes_each_analysis(rt: ScriptRuntime, files: Path, kind: str) -> None:
    out = execute(
        rt,
        "data-analysis",
        f"""{{data_file = "{files / "data.csv"}", analysis_type = "{kind}", chart_type = "bar",
            model = "mock", output_format = "markdown", include_visualizations = true}}""",
    )
    check_output(out, "data-analysis")
    stats = out["result"]["statistics"]
    if kind == "descriptive":
        assert stats["y"]["mean"] == pytest.approx(13 / 3, abs=1e-3)
    elif kind == "regression":
        assert stats["slope"] == 2.5
    elif kind == "correlation":
        assert stats["x~y"] > 0.9
    else:
        assert stats["y"]["trend_per_row"] == 2.5
    assert [a["filename"] for a in out["artifacts"]] == ["analysis.md", "chart.vl.json"]


def test_data_analysis_refuses_a_spreadsheet_saying_what_to_do(
    rt: ScriptRuntime, files: Path
) -> None:
    (files / "t.xlsx").write_text("x")
    with pytest.raises(ScriptError) as info:
        execute(
            rt,
            "data-analysis",
            f'{{data_file = "{files / "t.xlsx"}", analysis_type = "descriptive", model = "mock"}}',
        )
    assert "export the table as CSV or JSON" in info.value.evalue


def test_code_generator_returns_code_tests_and_docs(rt: ScriptRuntime) -> None:
    out = execute(
        rt,
        "code-generator",
        """{description = "A function to calculate Fibonacci numbers", language = "rust",
            model = "mock", generate_tests = true, generate_docs = true,
            code_style = "idiomatic", include_examples = true}""",
    )
    check_output(out, "code-generator")
    assert [a["filename"] for a in out["artifacts"]] == ["main.rs", "test_main.rs", "README.md"]
    assert "Fibonacci" in out["artifacts"][0]["content"]  # the mock echoes the request
    assert out["metrics"]["api_calls"] == 3


def test_document_processor_summarises_each_document(rt: ScriptRuntime, files: Path) -> None:
    out = execute(
        rt,
        "document-processor",
        f"""{{document_paths = {{"{files / "doc.txt"}"}}, transformation_type = "translate",
            target_language = "es", model = "mock", output_format = "markdown",
            ocr_enabled = true}}""",
    )
    check_output(out, "document-processor")
    assert out["artifacts"][0]["filename"] == "doc.translate.md"
    assert "ownership" in out["result"][0]["output"]


def test_document_processor_refuses_images_and_paths_outside_the_allowed(
    rt: ScriptRuntime, files: Path
) -> None:
    (files / "scan.png").write_bytes(b"\x89PNG")
    with pytest.raises(ScriptError) as info:
        execute(
            rt,
            "document-processor",
            f'{{document_paths = {{"{files / "scan.png"}"}}, transformation_type = "extract", '
            'model = "mock"}',
        )
    assert "llmspell includes no OCR engine" in info.value.evalue
    with pytest.raises(ScriptError) as info:
        execute(
            rt,
            "document-processor",
            '{document_paths = {"/etc/hostname"}, transformation_type = "extract", model = "mock"}',
        )
    assert "/etc/hostname" in info.value.evalue


def test_workflow_orchestrator_runs_tool_and_agent_steps(rt: ScriptRuntime) -> None:
    out = execute(
        rt,
        "workflow-orchestrator",
        """{workflow_config = {name = "pipeline", steps = {
              {name = "calc", step_type = "tool", tool_name = "calculator",
               params = {input = "6*7"}},
              {name = "analyze", step_type = "agent", description = "Analyse",
               agent_config = {model = "mock", system_prompt = "Analyze this data"}}}},
            execution_mode = "sequential", model = "mock",
            collect_intermediate_results = true}""",
    )
    check_output(out, "workflow-orchestrator")
    outputs = out["metadata"]["extra"]["agent_outputs"]
    assert set(outputs) == {"calc", "analyze"}
    assert "42" in str(outputs["calc"])
    parallel = execute(
        rt,
        "workflow-orchestrator",
        """{workflow_config = {steps = {
              {name = "a", step_type = "agent"}, {name = "b", step_type = "agent"}}},
            execution_mode = "parallel", model = "mock", input = "same input"}""",
    )
    assert parallel["result"]["a"] == parallel["result"]["b"]


def test_workflow_orchestrator_refuses_a_malformed_step(rt: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        execute(
            rt,
            "workflow-orchestrator",
            '{workflow_config = {steps = {{name = "x", step_type = "robot"}}}, '
            'execution_mode = "sequential", model = "mock"}',
        )
    assert "step_type must be tool, agent or workflow, got 'robot'" in info.value.evalue


def test_code_review_reviews_each_aspect(rt: ScriptRuntime, files: Path) -> None:
    out = execute(
        rt,
        "code-review",
        f"""{{code_path = "{files}", aspects = {{"security", "quality", "performance"}},
            language = "rust", model = "mock", generate_fixes = true, quality_threshold = 7.0}}""",
    )
    check_output(out, "code-review")
    assert set(out["result"]["aspects"]) == {"security", "quality", "performance"}
    assert out["metrics"]["api_calls"] == 3
    assert out["metadata"]["extra"]["files_reviewed"] == [
        str(files / "inbox" / "a.py"),
        str(files / "main.rs"),
    ]


def test_content_generation_stops_when_the_verdict_has_no_score(rt: ScriptRuntime) -> None:
    out = execute(
        rt,
        "content-generation",
        """{topic = "Product launch announcement", content_type = "marketing",
            target_audience = "developers", tone = "professional", word_count = 800,
            model = "mock", quality_threshold = 8.0, max_iterations = 3,
            style_guide = "Follow AP style"}""",
    )
    check_output(out, "content-generation")
    history = out["metadata"]["extra"]["revision_history"]
    assert len(history) == 1 and "score" not in history[0]  # the mock gives no SCORE: n
    assert out["artifacts"][0]["filename"] == "content.md"


def test_file_classification_dry_run_plans_and_a_run_moves(rt: ScriptRuntime, files: Path) -> None:
    params = f"""source_path = "{files / "inbox"}", classification_strategy = "rule-based",
        model = "mock", create_destination_dirs = true"""
    plan = execute(rt, "file-classification", f"{{{params}, dry_run = true}}")
    check_output(plan, "file-classification")
    assert {i["file"]: i["category"] for i in plan["result"]["plan"]} == {
        "a.py": "code",
        "b.png": "media",
        "notes.txt": "documents",
    }
    assert (files / "inbox" / "a.py").exists()
    moved = execute(rt, "file-classification", f"{{{params}, dry_run = false}}")
    assert moved["result"]["moved"] == 3
    assert (files / "inbox" / "code" / "a.py").exists()


def test_file_classification_with_categories_and_extensions(rt: ScriptRuntime, files: Path) -> None:
    out = execute(
        rt,
        "file-classification",
        f"""{{source_path = "{files / "inbox"}", classification_strategy = "hybrid",
            categories = {{"notes", "work"}}, dry_run = true, model = "mock",
            file_extensions = {{".txt", ".py"}}}}""",
    )
    plan = {i["file"]: (i["category"], i["by"]) for i in out["result"]["plan"]}
    assert plan["notes.txt"] == ("notes", "rule")
    assert plan["a.py"][1] == "llm"
    assert "b.png" not in plan


def test_knowledge_management_ingest_query_update_delete(rt: ScriptRuntime, files: Path) -> None:
    ingest = execute(
        rt,
        "knowledge-management",
        f"""{{operation = "ingest", collection = "ai-research",
            document_paths = {{"{files / "doc.txt"}"}}, model = "mock", chunk_size = 512,
            chunk_overlap = 50}}""",
    )
    check_output(ingest, "knowledge-management")
    assert ingest["metadata"]["extra"]["chunks_created"] == 1
    query = execute(
        rt,
        "knowledge-management",
        """{operation = "query", collection = "ai-research", query = "What does ownership do?",
            top_k = 5, include_citations = true, model = "mock"}""",
    )
    citation = query["metadata"]["extra"]["citations"][0]
    assert citation["document_id"] == str(files / "doc.txt")
    execute(
        rt,
        "knowledge-management",
        f"""{{operation = "update", collection = "ai-research", document_id = "{files / "doc.txt"}",
            updated_content = "Borrowing rules replace a garbage collector."}}""",
    )
    hits = run(
        rt,
        'return RAG.search("garbage collector", {scope = "knowledge", scope_id = "ai-research"})',
    )
    assert "Borrowing" in hits["results"][0]["content"]
    deleted = execute(
        rt,
        "knowledge-management",
        f"""{{operation = "delete", collection = "ai-research",
            document_ids = {{"{files / "doc.txt"}", "doc-456"}}}}""",
    )
    assert deleted["metadata"]["extra"]["chunks_deleted"] == 1


def test_knowledge_management_needs_the_parameters_of_its_operation(rt: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        execute(rt, "knowledge-management", '{operation = "query", collection = "c"}')
    assert "parameter 'query' is required for operation 'query'" in info.value.evalue


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('Template.execute("nope", {})', "Template.execute: no template 'nope'; templates: "),
        (
            'Template.execute("research-assistant", {})',
            "Template.execute: parameter 'topic' is required",
        ),
        (
            'Template.execute("research-assistant", {topic = "t", depth = 1})',
            "Template.execute: unknown parameter 'depth'; allowed: ",
        ),
        (
            'Template.execute("research-assistant", {topic = "t", max_sources = "ten"})',
            "parameter 'max_sources' must be an integer, got string",
        ),
        (
            'Template.execute("research-assistant", {topic = "t", max_sources = 500})',
            "parameter 'max_sources' must be <= 50, got 500",
        ),
        (
            'Template.execute("code-generator", {description = "d", language = "cobol"})',
            "parameter 'language' must be one of rust, python,",
        ),
        (
            'Template.execute("code-review", {code_path = "x", aspects = {"style"}})',
            "parameter 'aspects' must be one of security, quality,",
        ),
        (
            'Template.execute("document-processor", {document_paths = {"a"}, '
            'transformation_type = "translate", target_language = "spanish"})',
            "parameter 'target_language' must match '[a-z]{2}', got 'spanish'",
        ),
        ('Template.list("games")', "Template.list: category must be one of research, chat,"),
        ("Template.search(1)", "Template.search: query must be a string, got integer"),
        ('Template.info("code-review", "yes")', "Template.info: show_schema must be a boolean"),
        (
            'Template.execute("code-generator", {description = "d", language = "go"})',
            "no model: pass the parameter model",
        ),
    ],
)
def test_bad_calls_are_refused_naming_what_is_allowed(
    lua: ScriptRuntime, code: str, message: str
) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, code)
    assert message in info.value.evalue


def test_the_appendix_error_pattern_catches_a_bad_call(lua: ScriptRuntime) -> None:
    caught = run(
        lua,
        """
        local success, result = pcall(function()
            return Template.execute("research-assistant", {})
        end)
        return success, tostring(result)
        """,
    )
    assert caught[0] is False
    assert "parameter 'topic' is required" in caught[1]
