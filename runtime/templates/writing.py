"""Templates that write with the model: `interactive-chat` (one turn of a conversation kept in
State), `code-generator`, `code-review` and `content-generation`."""

from __future__ import annotations

import json
import re
from typing import Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.state import StateManager
from llmspell.runtime.templates.run import TemplateRun
from llmspell.runtime.templates.schema import MODEL, Parameter, TemplateSchema
from llmspell.runtime.templates.template import Template

CHAT_SCOPE = "template:interactive-chat"  # State scope of the conversations, keyed by session_name
LANGUAGES = {
    "rust": "rs",
    "python": "py",
    "javascript": "js",
    "typescript": "ts",
    "go": "go",
    "java": "java",
    "cpp": "cpp",
    "csharp": "cs",
    "ruby": "rb",
    "php": "php",
    "lua": "lua",
}
ASPECTS = (
    "security",
    "quality",
    "performance",
    "practices",
    "dependencies",
    "architecture",
    "documentation",
)
CODE_SUFFIXES = {f".{ext}" for ext in LANGUAGES.values()} | {".c", ".h", ".hpp", ".kt", ".swift"}
MAX_REVIEW_FILES = 50
_SCORE = re.compile(r"\bSCORE:\s*(\d+(?:\.\d+)?)", re.I)


def _chat(ctx: TemplateRun, p: dict[str, Any]) -> str:
    if p["message"] == "repl":
        raise InvalidArgument(
            "REPL mode needs an interactive terminal, which a script does not have: call "
            "Template.execute once per message with the same session_name"
        )
    state = ctx.infra.get(StateManager)
    name = p["session_name"]
    history: list[dict[str, str]] = []
    if name and p["enable_memory"]:
        history = state.load(CHAT_SCOPE, name) or []
    kept = history[-2 * p["max_history"] :]
    reply = ctx.ask(p["message"], p["system_prompt"], kept, temperature=p["temperature"])
    history = [
        *history,
        {"role": "user", "content": p["message"]},
        {"role": "assistant", "content": reply},
    ][-2 * p["max_history"] :]
    if name:
        state.save(CHAT_SCOPE, name, history)
    ctx.extra["session_name"] = name
    ctx.extra["turns"] = len(history) // 2
    ctx.artifact("conversation.json", "data", json.dumps(history, indent=2), format="json")
    return reply


INTERACTIVE_CHAT = Template(
    name="interactive-chat",
    category="chat",
    description="Conversation with context kept per session_name (in State) across calls",
    schema=TemplateSchema(
        [
            Parameter(
                "message",
                "string",
                'User message ("repl" is refused: a script has no terminal)',
                required=True,
                constraints={"min_length": 1},
            ),
            Parameter("session_name", "string", "Name under which the conversation is kept"),
            Parameter(
                "system_prompt", "string", "System prompt", default="You are a helpful assistant."
            ),
            MODEL,
            Parameter(
                "enable_memory",
                "boolean",
                "Answer with the earlier turns of session_name",
                default=True,
            ),
            Parameter(
                "max_history",
                "integer",
                "Conversation turns kept",
                default=10,
                constraints={"min_value": 1, "max_value": 100},
            ),
            Parameter(
                "temperature",
                "number",
                "Response randomness",
                default=0.7,
                constraints={"min_value": 0.0, "max_value": 2.0},
            ),
        ]
    ),
    run=_chat,
    model_calls=lambda p: 1,
    words_out=150,
    tags=("chat", "conversation", "session"),
)


def _codegen(ctx: TemplateRun, p: dict[str, Any]) -> str:
    lang, ext = p["language"], LANGUAGES[p["language"]]
    code = ctx.ask(
        f"Write {p['code_style']} {lang} code for: {p['description']}"
        + ("\nInclude usage examples." if p["include_examples"] else ""),
        f"You are an expert {lang} programmer. Answer with code only.",
    )
    ctx.artifact(f"main.{ext}", "code", code, language=lang)
    outputs = {"code": code}
    if p["generate_tests"]:
        outputs["tests"] = ctx.ask(f"Write unit tests in {lang} for this code:\n{code}")
        ctx.artifact(f"test_main.{ext}", "code", outputs["tests"], language=lang)
    if p["generate_docs"]:
        outputs["docs"] = ctx.ask(f"Write API documentation in Markdown for this code:\n{code}")
        ctx.artifact("README.md", "document", outputs["docs"], format="markdown")
    ctx.extra["agent_outputs"] = outputs
    return code


CODE_GENERATOR = Template(
    name="code-generator",
    category="codegen",
    description="Code from a description, with tests and documentation (three model calls)",
    schema=TemplateSchema(
        [
            Parameter(
                "description",
                "string",
                "What the code should do",
                required=True,
                constraints={"min_length": 1},
            ),
            Parameter(
                "language",
                "string",
                "Programming language",
                required=True,
                constraints={"allowed_values": list(LANGUAGES)},
            ),
            MODEL,
            Parameter("generate_tests", "boolean", "Also write unit tests", default=True),
            Parameter("generate_docs", "boolean", "Also write documentation", default=True),
            Parameter(
                "code_style",
                "string",
                "Style",
                default="idiomatic",
                constraints={"allowed_values": ["idiomatic", "simple", "production"]},
            ),
            Parameter("include_examples", "boolean", "Include usage examples", default=True),
        ]
    ),
    run=_codegen,
    model_calls=lambda p: (
        1 + bool(p.get("generate_tests", True)) + bool(p.get("generate_docs", True))
    ),
    words_out=400,
    tags=("code", "generation", "tests"),
)


def _review(ctx: TemplateRun, p: dict[str, Any]) -> dict[str, Any]:
    from llmspell.runtime.tools.paths import resolve_allowed_path

    root = resolve_allowed_path(p["code_path"], ctx.allowed_paths)
    if root.is_dir():
        files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix in CODE_SUFFIXES)
    elif root.is_file():
        files = [root]
    else:
        raise InvalidArgument(f"code_path {p['code_path']!r} is neither a file nor a directory")
    if not files:
        raise InvalidArgument(f"code_path {p['code_path']!r} holds no source files")
    files = files[:MAX_REVIEW_FILES]
    code = "\n\n".join(f"// {f.name}\n{ctx.read_text(str(f))[1]}" for f in files)
    language = p["language"] or _language_of(files[0].suffix)
    findings: dict[str, Any] = {}
    for aspect in p["aspects"]:
        answer = ctx.ask(
            f"Review this {language} code for {aspect}. List findings with severity, and end "
            f"with 'SCORE: n' (0-10)."
            + (" Suggest a fix for each finding." if p["generate_fixes"] else "")
            + f"\n\n{code}"
        )
        match = _SCORE.search(answer)
        findings[aspect] = {
            "analysis": answer,
            "score": float(match.group(1)) if match else None,
        }
    scores = [f["score"] for f in findings.values() if f["score"] is not None]
    overall = round(sum(scores) / len(scores), 2) if scores else None
    ctx.extra["files_reviewed"] = [str(f) for f in files]
    ctx.extra["overall_score"] = overall
    ctx.extra["passed"] = None if overall is None else overall >= p["quality_threshold"]
    report = "\n\n".join(f"## {a}\n\n{f['analysis']}" for a, f in findings.items())
    ctx.artifact("code_review.md", "document", f"# Code review\n\n{report}\n", format="markdown")
    return {"aspects": findings, "overall_score": overall, "language": language}


def _language_of(suffix: str) -> str:
    for lang, ext in LANGUAGES.items():
        if suffix == f".{ext}":
            return lang
    return suffix.lstrip(".") or "unknown"


CODE_REVIEW = Template(
    name="code-review",
    category="codegen",
    description="Review of a file or directory for chosen aspects, with scores and fixes",
    schema=TemplateSchema(
        [
            Parameter(
                "code_path",
                "string",
                "File or directory (inside tools.allowed_paths)",
                required=True,
                constraints={"min_length": 1},
            ),
            Parameter(
                "aspects",
                "array",
                "Review aspects",
                required=True,
                constraints={"min_length": 1, "allowed_values": list(ASPECTS)},
            ),
            Parameter(
                "language", "string", "Programming language (from the file suffix if omitted)"
            ),
            MODEL,
            Parameter("generate_fixes", "boolean", "Suggest fixes", default=False),
            Parameter(
                "quality_threshold",
                "number",
                "Score (0-10) the average must reach to pass",
                default=7.0,
                constraints={"min_value": 0.0, "max_value": 10.0},
            ),
        ]
    ),
    run=_review,
    model_calls=lambda p: len(p.get("aspects") or []) or 1,
    words_out=300,
    tags=("code", "review", "quality"),
)


def _content(ctx: TemplateRun, p: dict[str, Any]) -> str:
    brief = (
        f"Write {p['content_type']} content of about {p['word_count']} words on {p['topic']!r} "
        f"in a {p['tone']} tone"
        + (f" for {p['target_audience']}" if p["target_audience"] else "")
        + (f". Style guide: {p['style_guide']}" if p["style_guide"] else "")
        + "."
    )
    draft = ctx.ask(brief)
    revisions: list[dict[str, Any]] = []
    for iteration in range(1, p["max_iterations"] + 1):
        verdict = ctx.ask(
            "Rate this text for clarity, relevance, grammar and style; end with 'SCORE: n' "
            f"(0-10):\n{draft}"
        )
        match = _SCORE.search(verdict)
        score = float(match.group(1)) if match else None
        revisions.append({"iteration": iteration, "score": score, "feedback": verdict})
        # an unscored verdict gives nothing to improve towards: stop rather than guess
        if score is None or score >= p["quality_threshold"] or iteration == p["max_iterations"]:
            break
        draft = ctx.ask(
            f"Improve this text following the feedback.\nFeedback: {verdict}\n\n{draft}"
        )
    ctx.extra["revision_history"] = revisions
    ctx.extra["quality_score"] = revisions[-1]["score"]
    ctx.artifact("content.md", "document", draft, format="markdown", content_type=p["content_type"])
    return draft


CONTENT_GENERATION = Template(
    name="content-generation",
    category="document",
    description="Content written, scored and edited until it reaches a quality threshold",
    schema=TemplateSchema(
        [
            Parameter(
                "topic", "string", "Content topic", required=True, constraints={"min_length": 1}
            ),
            Parameter(
                "content_type",
                "string",
                "Kind of content",
                required=True,
                constraints={
                    "allowed_values": [
                        "blog",
                        "documentation",
                        "marketing",
                        "technical",
                        "creative",
                    ]
                },
            ),
            Parameter("target_audience", "string", "Who it is for"),
            Parameter(
                "tone",
                "string",
                "Tone",
                default="professional",
                constraints={"allowed_values": ["professional", "casual", "formal", "friendly"]},
            ),
            Parameter(
                "word_count",
                "integer",
                "Target word count",
                default=500,
                constraints={"min_value": 10, "max_value": 20000},
            ),
            MODEL,
            Parameter(
                "quality_threshold",
                "number",
                "Score (0-10) that ends the editing",
                default=7.5,
                constraints={"min_value": 0.0, "max_value": 10.0},
            ),
            Parameter(
                "max_iterations",
                "integer",
                "Most evaluate-and-edit rounds",
                default=3,
                constraints={"min_value": 1, "max_value": 10},
            ),
            Parameter("style_guide", "string", "Style guidelines"),
        ]
    ),
    run=_content,
    model_calls=lambda p: 2 * int(p.get("max_iterations") or 3),
    words_out=500,
    tags=("content", "writing", "quality"),
)
