"""Research templates over the RAG store: `research-assistant` (sources from a RAG collection,
then analysis, synthesis and validation by the model) and `knowledge-management` (a named
collection: ingest, query with citations, update, delete)."""

from __future__ import annotations

import json
from typing import Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.templates.run import TemplateRun
from llmspell.runtime.templates.schema import MODEL, Parameter, TemplateSchema
from llmspell.runtime.templates.template import Template

FORMATS = ("markdown", "json", "html")
KNOWLEDGE_SCOPE = "knowledge"  # RAG scope of knowledge-management collections


def _research(ctx: TemplateRun, p: dict[str, Any]) -> str:
    # RAG (numpy, SQLAlchemy) loads when a template runs, not at every runtime start
    from llmspell.runtime.rag.manager import RagManager

    rag = ctx.infra.get(RagManager)
    scope = ("research", p["collection"]) if p["collection"] else (None, None)
    hits = rag.search(p["topic"], k=p["max_sources"], scope=scope[0], scope_id=scope[1])
    sources = [h for h in hits if h.score >= p["min_quality_score"]]
    listed = [
        {"id": h.document_id, "score": round(h.score, 4), "excerpt": h.content[:500]}
        for h in sources
    ]
    notes = "\n".join(f"[{i}] {s['excerpt']}" for i, s in enumerate(listed, start=1))
    analysis = ctx.ask(
        f"Analyse these sources on {p['topic']!r} and list the key findings:\n{notes}"
        if listed
        else f"No stored sources were found on {p['topic']!r}; list what is known about it."
    )
    report = ctx.ask(
        f"Write a {p['research_depth']} research report on {p['topic']!r} from these findings, "
        f"citing sources as [n]:\n{analysis}"
    )
    phases = {"discovery": len(listed), "analysis": analysis, "synthesis": report}
    if p["enable_validation"]:
        phases["validation"] = ctx.ask(f"Check this report for unsupported claims:\n{report}")
    ctx.extra["phase_results"] = phases
    ctx.extra["sources_found"] = len(hits)
    ctx.extra["sources_used"] = len(listed)
    body = _formatted(p["output_format"], p["topic"], report, listed)
    ctx.artifact(f"research_report.{_ext(p['output_format'])}", "document", body, source="research")
    if p["save_sources"]:
        ctx.artifact("sources.json", "data", json.dumps(listed, indent=2), format="json")
    return body


def _formatted(fmt: str, topic: str, report: str, sources: list[dict[str, Any]]) -> str:
    if fmt == "json":
        return json.dumps({"topic": topic, "report": report, "sources": sources})
    if fmt == "html":
        from html import escape

        return f"<h1>{escape(topic)}</h1>\n<p>{escape(report)}</p>"
    cited = "\n".join(f"{i}. {s['id']}" for i, s in enumerate(sources, start=1))
    return f"# {topic}\n\n{report}\n\n## Sources\n\n{cited or '(none found)'}\n"


def _ext(fmt: str) -> str:
    return {"markdown": "md", "json": "json", "html": "html"}[fmt]


RESEARCH_ASSISTANT = Template(
    name="research-assistant",
    category="research",
    description="Multi-phase research: sources from a RAG collection, analysis, synthesis with "
    "citations and validation",
    schema=TemplateSchema(
        [
            Parameter(
                "topic", "string", "Research topic", required=True, constraints={"min_length": 1}
            ),
            Parameter(
                "max_sources",
                "integer",
                "Most sources to use",
                default=10,
                constraints={"min_value": 1, "max_value": 50},
            ),
            Parameter(
                "min_quality_score",
                "number",
                "Lowest relevance score a source needs (0-1)",
                default=0.0,
                constraints={"min_value": 0.0, "max_value": 1.0},
            ),
            Parameter(
                "research_depth",
                "string",
                "How deep the report goes",
                default="standard",
                constraints={"allowed_values": ["basic", "standard", "comprehensive"]},
            ),
            Parameter(
                "enable_validation",
                "boolean",
                "Check the report for unsupported claims",
                default=True,
            ),
            Parameter(
                "output_format",
                "string",
                "Report format",
                default="markdown",
                constraints={"allowed_values": list(FORMATS)},
            ),
            MODEL,
            Parameter(
                "save_sources", "boolean", "Add the source list as an artifact", default=True
            ),
            Parameter(
                "collection",
                "string",
                "RAG collection (scope `research`, this id) to search; default: the global "
                "collection",
                constraints={"pattern": r"[A-Za-z0-9_.-]+"},
            ),
        ]
    ),
    run=_research,
    model_calls=lambda p: 3 if p.get("enable_validation", True) else 2,
    words_out=600,
    tags=("research", "rag", "citations"),
)


def _knowledge(ctx: TemplateRun, p: dict[str, Any]) -> Any:
    # RAG (numpy, SQLAlchemy) loads when a template runs, not at every runtime start
    from llmspell.runtime.rag.manager import Document, RagManager

    rag = ctx.infra.get(RagManager)
    op, where = p["operation"], {"scope": KNOWLEDGE_SCOPE, "scope_id": p["collection"]}
    ctx.extra["operation"] = op
    ctx.extra["collection"] = p["collection"]
    if op == "ingest":
        paths = _need(p, "document_paths", op)
        reports = [
            rag.ingest_file(
                path, chunk_size=p["chunk_size"], chunk_overlap=p["chunk_overlap"], **where
            )
            for path in paths
        ]
        chunks = sum(r.chunks_created for r in reports)
        ctx.extra["chunks_created"] = chunks
        return f"ingested {len(reports)} documents ({chunks} chunks) into {p['collection']}"
    if op == "query":
        query = _need(p, "query", op)
        hits = rag.search(query, k=p["top_k"], **where)
        context = "\n".join(f"[{i}] {h.content}" for i, h in enumerate(hits, start=1))
        answer = ctx.ask(
            f"Answer from these passages, citing them as [n]:\n{context}\n\nQuestion: {query}"
        )
        citations = [
            {
                "index": i,
                "document_id": h.document_id,
                "score": round(h.score, 4),
                "text": h.content,
            }
            for i, h in enumerate(hits, start=1)
        ]
        if p["include_citations"]:
            ctx.extra["citations"] = citations
            ctx.artifact("citations.json", "data", json.dumps(citations, indent=2), format="json")
        return answer
    if op == "update":
        doc_id = _need(p, "document_id", op)
        content = _need(p, "updated_content", op)
        rag.delete(doc_id, **where)
        rag.ingest(
            [Document(content, doc_id)],
            chunk_size=p["chunk_size"],
            chunk_overlap=p["chunk_overlap"],
            **where,
        )
        return f"updated {doc_id} in {p['collection']}"
    ids = _need(p, "document_ids", op)
    removed = sum(rag.delete(str(i), **where) for i in ids)
    ctx.extra["chunks_deleted"] = removed
    return f"deleted {len(ids)} documents ({removed} chunks) from {p['collection']}"


def _need(p: dict[str, Any], name: str, op: str) -> Any:
    if p.get(name) in (None, [], ""):
        raise InvalidArgument(f"parameter {name!r} is required for operation {op!r}")
    return p[name]


KNOWLEDGE_MANAGEMENT = Template(
    name="knowledge-management",
    category="research",
    description="RAG knowledge base: ingest, query with citations, update and delete documents "
    "of a named collection",
    schema=TemplateSchema(
        [
            Parameter(
                "operation",
                "string",
                "What to do",
                required=True,
                constraints={"allowed_values": ["ingest", "query", "update", "delete"]},
            ),
            Parameter(
                "collection",
                "string",
                "Collection name",
                required=True,
                constraints={"pattern": r"[A-Za-z0-9_.-]+"},
            ),
            Parameter(
                "document_paths",
                "array",
                "Files to ingest (inside tools.allowed_paths; for ingest)",
            ),
            Parameter("query", "string", "Question (for query)"),
            Parameter("document_id", "string", "Document to replace (for update)"),
            Parameter("updated_content", "string", "Its new text (for update)"),
            Parameter("document_ids", "array", "Documents to delete (for delete)"),
            Parameter(
                "top_k",
                "integer",
                "Passages to answer from",
                default=5,
                constraints={"min_value": 1, "max_value": 100},
            ),
            Parameter(
                "include_citations", "boolean", "Return the passages as citations", default=True
            ),
            MODEL,
            Parameter(
                "chunk_size",
                "integer",
                "Tokens per chunk",
                default=512,
                constraints={"min_value": 16, "max_value": 8192},
            ),
            Parameter(
                "chunk_overlap",
                "integer",
                "Tokens shared by neighbouring chunks",
                default=50,
                constraints={"min_value": 0, "max_value": 4096},
            ),
        ]
    ),
    run=_knowledge,
    model_calls=lambda p: 1 if p.get("operation") == "query" else 0,
    words_out=200,
    tags=("rag", "knowledge-base", "citations"),
)
