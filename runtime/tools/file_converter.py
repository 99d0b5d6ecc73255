"""The `file-converter` tool: a text file rewritten in another encoding or with other line
endings, both files inside `tools.allowed_paths`."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Any

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_FILE_BYTES = 50 * 1024 * 1024
LINE_ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["convert_encoding", "convert_line_endings"]},
        "input_path": {"type": "string", "minLength": 1},
        "output_path": {"type": "string", "minLength": 1},
        "from_encoding": {"type": "string", "minLength": 1},
        "to_encoding": {"type": "string", "minLength": 1},
        "line_ending": {"enum": list(LINE_ENDINGS)},
    },
    "required": ["operation", "input_path"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"const": "convert_encoding"}}},
            "then": {"required": ["to_encoding"]},
        },
        {
            "if": {"properties": {"operation": {"const": "convert_line_endings"}}},
            "then": {"required": ["line_ending"]},
        },
    ],
}


def _codec(name: str, what: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ToolFailure(
            f"{what} {name!r} is not a known text encoding (utf-8, latin-1, ...)"
        ) from None


def make_tool(allowed_paths: Sequence[str], limits: HostLimits = UNLIMITED) -> Tool:
    """file-converter inside `allowed_paths`, within the `limits` of the script."""

    def convert(params: dict[str, Any]) -> dict[str, Any]:
        source = resolve_allowed_path(params["input_path"], allowed_paths)
        target = resolve_allowed_path(
            params.get("output_path", params["input_path"]), allowed_paths
        )
        source_codec = _codec(params.get("from_encoding", "utf-8"), "from_encoding")
        target_codec = _codec(params.get("to_encoding", source_codec), "to_encoding")
        try:
            size = source.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ToolFailure(f"{params['input_path']!r} is larger than {MAX_FILE_BYTES} bytes")
            limits.check_size("file", size)
            text = source.read_bytes().decode(source_codec)
        except FileNotFoundError:
            raise ToolFailure(f"{params['input_path']!r} does not exist") from None
        except UnicodeDecodeError as exc:
            raise ToolFailure(
                f"{params['input_path']!r} is not {source_codec} text (byte {exc.start}); "
                "give from_encoding"
            ) from None
        except OSError as exc:
            raise ToolFailure(
                f"reading {params['input_path']!r} failed: {exc.strerror or exc}"
            ) from None
        if params["operation"] == "convert_line_endings":
            text = LINE_ENDINGS[params["line_ending"]].join(text.splitlines()) + (
                LINE_ENDINGS[params["line_ending"]] if text.endswith(("\n", "\r")) else ""
            )
        try:
            data = text.encode(target_codec)
        except UnicodeEncodeError as exc:
            raise ToolFailure(
                f"character {exc.object[exc.start]!r} cannot be written in {target_codec}"
            ) from None
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise ToolFailure(f"writing {str(target)!r} failed: {exc.strerror or exc}") from None
        return {
            "input_path": str(source),
            "output_path": str(target),
            "from_encoding": source_codec,
            "to_encoding": target_codec,
            "bytes_written": len(data),
        }

    return Tool(
        name="file-converter",
        description="Rewrites a text file (inside tools.allowed_paths) in another encoding or "
        "with other line endings",
        category="filesystem",
        schema=SCHEMA,
        run=convert,
        tags=("files", "encoding", "offline"),
        aliases={"source_path": "input_path", "target_path": "output_path"},
    )
