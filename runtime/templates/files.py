"""Templates over local files (inside `tools.allowed_paths`): `data-analysis` (statistics of a
CSV or JSON table, a Vega-Lite chart spec, the model's insights), `document-processor` (each
document extracted, summarised/translated/... by the model) and `file-classification` (files
sorted into category folders by rules, the model, or both)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.templates.run import MAX_FILE_BYTES, TemplateRun
from llmspell.runtime.templates.schema import MODEL, Parameter, TemplateSchema
from llmspell.runtime.templates.template import Template

ANALYSES = ("descriptive", "correlation", "regression", "timeseries")
CHARTS = {"bar": "bar", "line": "line", "scatter": "point", "heatmap": "rect"}
# extension presets of rule-based classification, used when no categories are given
PRESETS = {
    "documents": {".pdf", ".doc", ".docx", ".txt", ".md", ".odt", ".rtf", ".html"},
    "code": {".py", ".rs", ".js", ".ts", ".go", ".java", ".c", ".cpp", ".h", ".lua", ".rb", ".sh"},
    "media": {".png", ".jpg", ".jpeg", ".gif", ".svg", ".mp3", ".wav", ".mp4", ".mov"},
    "data": {".csv", ".json", ".xlsx", ".xls", ".parquet", ".yaml", ".yml", ".toml", ".xml"},
    "archives": {".zip", ".tar", ".gz", ".bz2", ".xz", ".7z"},
}
UNSORTED = "uncategorized"
MAX_CLASSIFIED = 1000


# --- data-analysis --------------------------------------------------------------------------


def _table(path: Path, text: str) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".xlsx", ".xls", ".parquet"):
        raise InvalidArgument(
            f"data_file {path.name!r}: {path.suffix} files need a reader llmspell does not "
            "include; export the table as CSV or JSON"
        )
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidArgument(f"data_file {path.name!r} must hold a JSON array of objects")
        return rows
    return list(csv.DictReader(io.StringIO(text)))


def _numeric_columns(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    columns: dict[str, list[float]] = {}
    for name in rows[0] if rows else {}:
        values = []
        for row in rows:
            try:
                values.append(float(row.get(name)))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                break
        else:
            columns[name] = values
    return columns


def _pearson(x: list[float], y: list[float]) -> float | None:
    try:
        return round(statistics.correlation(x, y), 4)
    except statistics.StatisticsError:
        return None


def _statistics(kind: str, columns: dict[str, list[float]]) -> dict[str, Any]:
    names = list(columns)
    if kind == "descriptive":
        return {
            n: {
                "count": len(v),
                "mean": round(statistics.fmean(v), 4),
                "min": min(v),
                "max": max(v),
                "stdev": round(statistics.stdev(v), 4) if len(v) > 1 else 0.0,
            }
            for n, v in columns.items()
        }
    if kind == "correlation":
        return {
            f"{a}~{b}": _pearson(columns[a], columns[b])
            for i, a in enumerate(names)
            for b in names[i + 1 :]
        }
    if kind == "regression":
        if len(names) < 2:
            raise InvalidArgument("regression needs two numeric columns")
        x, y = columns[names[0]], columns[names[-1]]
        fit = statistics.linear_regression(x, y)
        return {
            "x": names[0],
            "y": names[-1],
            "slope": round(fit.slope, 4),
            "intercept": round(fit.intercept, 4),
        }
    # timeseries: the trend of each column over row order
    out = {}
    for n, v in columns.items():
        trend = statistics.linear_regression(list(range(len(v))), v) if len(v) > 1 else None
        out[n] = {
            "trend_per_row": round(trend.slope, 4) if trend else 0.0,
            "first": v[0],
            "last": v[-1],
        }
    return out


def _analysis(ctx: TemplateRun, p: dict[str, Any]) -> dict[str, Any]:
    path, text = ctx.read_text(p["data_file"])
    rows = _table(path, text)
    columns = _numeric_columns(rows)
    if not rows or not columns:
        raise InvalidArgument(f"data_file {p['data_file']!r} has no numeric column")
    stats = _statistics(p["analysis_type"], columns)
    insights = ctx.ask(
        f"Give the key insights of this {p['analysis_type']} analysis of {path.name} "
        f"({len(rows)} rows):\n{json.dumps(stats)}"
    )
    result = {
        "rows": len(rows),
        "columns": list(columns),
        "statistics": stats,
        "insights": insights,
    }
    ctx.extra["phase_results"] = {"statistics": stats, "insights": insights}
    if p["output_format"] == "json":
        report = json.dumps(result, indent=2)
    else:
        shown = json.dumps(stats, indent=2)
        title = f"{p['analysis_type'].title()} analysis of {path.name}"
        report = f"# {title}\n\n```json\n{shown}\n```\n\n{insights}\n"
    ctx.artifact(f"analysis.{'json' if p['output_format'] == 'json' else 'md'}", "document", report)
    if p["include_visualizations"] and p["chart_type"] != "none":
        names = list(columns)
        spec = {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {
                "values": [{n: columns[n][i] for n in names} | {"row": i} for i in range(len(rows))]
            },
            "mark": CHARTS[p["chart_type"]],
            "encoding": {
                "x": {"field": names[0] if len(names) > 1 else "row", "type": "quantitative"},
                "y": {"field": names[-1], "type": "quantitative"},
            },
        }
        ctx.artifact("chart.vl.json", "chart", json.dumps(spec), format="vega-lite")
    return result


DATA_ANALYSIS = Template(
    name="data-analysis",
    category="analysis",
    description="Statistics of a CSV or JSON table, a chart spec and the model's insights",
    schema=TemplateSchema(
        [
            Parameter(
                "data_file",
                "string",
                "CSV or JSON file (inside tools.allowed_paths)",
                required=True,
                constraints={"min_length": 1},
            ),
            Parameter(
                "analysis_type",
                "string",
                "Analysis",
                required=True,
                constraints={"allowed_values": list(ANALYSES)},
            ),
            Parameter(
                "chart_type",
                "string",
                "Chart (a Vega-Lite spec artifact)",
                default="bar",
                constraints={"allowed_values": [*CHARTS, "none"]},
            ),
            MODEL,
            Parameter(
                "output_format",
                "string",
                "Report format",
                default="markdown",
                constraints={"allowed_values": ["markdown", "json", "html"]},
            ),
            Parameter("include_visualizations", "boolean", "Add the chart", default=True),
        ]
    ),
    run=_analysis,
    model_calls=lambda p: 1,
    words_out=300,
    tags=("data", "statistics", "charts"),
)


# --- document-processor ---------------------------------------------------------------------

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp"}
ASKS = {
    "extract": "Extract the key information and entities of this document as a list",
    "summarize": "Summarise this document concisely",
    "translate": "Translate this document into the language with ISO 639-1 code {lang}",
    "transform": "Rewrite this document following these instructions: {instructions}",
}


def _documents(ctx: TemplateRun, p: dict[str, Any]) -> list[dict[str, Any]]:
    from llmspell.runtime.tools.paths import resolve_allowed_path

    kind = p["transformation_type"]
    if kind == "translate" and not p["target_language"]:
        raise InvalidArgument(
            "parameter 'target_language' is required for transformation 'translate'"
        )
    if kind == "transform" and not p["instructions"]:
        raise InvalidArgument("parameter 'instructions' is required for transformation 'transform'")
    results = []
    for given in p["document_paths"]:
        if not isinstance(given, str):
            raise InvalidArgument(f"document_paths must hold strings, got {given!r}")
        path = resolve_allowed_path(given, ctx.allowed_paths)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise InvalidArgument(
                f"{given!r} is an image: llmspell includes no OCR engine; convert it to text first"
            )
        if not path.is_file():
            raise InvalidArgument(f"{given!r} is not a file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidArgument(f"{given!r} is larger than {MAX_FILE_BYTES} bytes")
        # the RAG package (numpy, SQLAlchemy) loads when a template reads a document, not
        # at every runtime start (the Template global imports this module)
        from llmspell.runtime.rag.extract import extract, format_of

        text = extract(path.read_bytes(), format_of(path), repr(given)).text
        ask = ASKS[kind].format(lang=p["target_language"], instructions=p["instructions"])
        out = ctx.ask(f"{ask}. Answer in {p['output_format']}.\n\n{text}")
        results.append({"source": str(path), "output": out})
        ext = {"markdown": "md", "json": "json", "text": "txt", "html": "html"}[p["output_format"]]
        ctx.artifact(f"{path.stem}.{kind}.{ext}", "document", out, source=str(path))
    ctx.extra["documents_processed"] = len(results)
    return results


DOCUMENT_PROCESSOR = Template(
    name="document-processor",
    category="document",
    description="Documents (text, Markdown, HTML, PDF) extracted, summarised, translated or "
    "transformed",
    schema=TemplateSchema(
        [
            Parameter(
                "document_paths",
                "array",
                "Files (inside tools.allowed_paths)",
                required=True,
                constraints={"min_length": 1},
            ),
            Parameter(
                "transformation_type",
                "string",
                "Transformation",
                required=True,
                constraints={"allowed_values": list(ASKS)},
            ),
            Parameter(
                "target_language",
                "string",
                "ISO 639-1 code (for translate)",
                constraints={"pattern": "[a-z]{2}"},
            ),
            Parameter("instructions", "string", "What to do (for transform)"),
            MODEL,
            Parameter(
                "output_format",
                "string",
                "Output format",
                default="markdown",
                constraints={"allowed_values": ["markdown", "json", "text", "html"]},
            ),
            Parameter(
                "ocr_enabled",
                "boolean",
                "Accepted for compatibility: images are refused either way (no OCR engine)",
                default=True,
            ),
        ]
    ),
    run=_documents,
    model_calls=lambda p: len(p.get("document_paths") or []) or 1,
    words_out=300,
    tags=("documents", "summarize", "translate"),
)


# --- file-classification --------------------------------------------------------------------


def _by_rule(path: Path, categories: list[str] | None) -> str | None:
    if categories:
        lowered = str(path.name).lower()
        return next((c for c in categories if c.lower() in lowered), None)
    suffix = path.suffix.lower()
    return next((name for name, suffixes in PRESETS.items() if suffix in suffixes), None)


def _classify(ctx: TemplateRun, p: dict[str, Any]) -> dict[str, Any]:
    from llmspell.runtime.tools.paths import resolve_allowed_path

    root = resolve_allowed_path(p["source_path"], ctx.allowed_paths)
    if not root.is_dir():
        raise InvalidArgument(f"source_path {p['source_path']!r} is not a directory")
    categories = p["categories"] or None
    names = categories or list(PRESETS)
    extensions = {
        e.lower() if e.startswith(".") else f".{e.lower()}" for e in p["file_extensions"] or []
    }
    files = sorted(
        f
        for f in root.iterdir()
        if f.is_file() and (not extensions or f.suffix.lower() in extensions)
    )[:MAX_CLASSIFIED]
    strategy = p["classification_strategy"]
    plan: list[dict[str, Any]] = []
    for f in files:
        category = None if strategy == "llm" else _by_rule(f, categories)
        how = "rule"
        if category is None and strategy != "rule-based":
            answer = ctx.ask(
                f"Which one of these categories fits the file {f.name!r}: {', '.join(names)}? "
                "Answer with the category name only."
            )
            category = next((c for c in names if c.lower() in answer.lower()), None)
            how = "llm"
        plan.append({"file": f.name, "category": category or UNSORTED, "by": how})
    moved = 0
    if not p["dry_run"]:
        for item in plan:
            target = root / item["category"]
            if not target.is_dir():
                if not p["create_destination_dirs"]:
                    continue
                target.mkdir()
            shutil.move(str(root / item["file"]), str(target / item["file"]))
            moved += 1
    summary = {"files": len(plan), "moved": moved, "dry_run": p["dry_run"], "plan": plan}
    ctx.extra["categories"] = sorted({i["category"] for i in plan})
    ctx.artifact("classification_plan.json", "data", json.dumps(plan, indent=2), format="json")
    return summary


FILE_CLASSIFICATION = Template(
    name="file-classification",
    category="workflow",
    description="Files of a directory sorted into category folders by rules, the model, or both",
    schema=TemplateSchema(
        [
            Parameter(
                "source_path",
                "string",
                "Directory (inside tools.allowed_paths)",
                required=True,
                constraints={"min_length": 1},
            ),
            Parameter(
                "classification_strategy",
                "string",
                "How files are classified",
                required=True,
                constraints={"allowed_values": ["rule-based", "llm", "hybrid"]},
            ),
            Parameter(
                "categories",
                "array",
                "Category names (rules match them in file names); default: the presets "
                "documents, code, media, data, archives",
            ),
            Parameter("dry_run", "boolean", "Only plan; move nothing", default=False),
            MODEL,
            Parameter(
                "create_destination_dirs",
                "boolean",
                "Create missing category folders (else leave those files)",
                default=True,
            ),
            Parameter("file_extensions", "array", "Only files with these extensions"),
        ]
    ),
    run=_classify,
    model_calls=lambda p: 0 if p.get("classification_strategy") == "rule-based" else 10,
    words_out=5,
    tags=("files", "organize", "classification"),
)
