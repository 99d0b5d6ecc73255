"""The `archive-handler` tool: create, list and extract zip and tar (gz, bz2, xz) archives,
only inside `tools.allowed_paths`. Extraction refuses members that would land outside the
output folder, links and device files, and stops at a member count and a total size."""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspell.runtime.host_limits import UNLIMITED, HostLimits
from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_MEMBERS = 10_000
MAX_EXTRACT_BYTES = 500 * 1024 * 1024  # what an extraction may write in all
CHUNK = 1024 * 1024
FORMATS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["create", "extract", "list"]},
        "format": {"enum": list(FORMATS)},
        "archive_path": {"type": "string", "minLength": 1},
        "source_path": {"type": "string", "minLength": 1},
        "files": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "output_path": {"type": "string", "minLength": 1},
    },
    "required": ["operation"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"const": "create"}}},
            "then": {
                "required": ["output_path"],
                "oneOf": [{"required": ["source_path"]}, {"required": ["files"]}],
            },
        },
        {
            "if": {"properties": {"operation": {"const": "extract"}}},
            "then": {"required": ["archive_path", "output_path"]},
        },
        {
            "if": {"properties": {"operation": {"const": "list"}}},
            "then": {"required": ["archive_path"]},
        },
    ],
}


def make_tool(allowed_paths: Sequence[str], limits: HostLimits = UNLIMITED) -> Tool:
    """archive-handler inside `allowed_paths`, within the `limits` of the script."""

    def allowed(path: str) -> Path:
        return resolve_allowed_path(path, allowed_paths)

    def handle(params: dict[str, Any]) -> dict[str, Any]:
        operation = params["operation"]
        try:
            if operation == "create":
                return _create(params, allowed, limits)
            archive = allowed(params["archive_path"])
            if not archive.is_file():
                raise ToolFailure(f"{params['archive_path']!r} is not a file")
            if operation == "list":
                entries = _entries(archive)
                return {"entries": entries, "count": len(entries)}
            return _extract(archive, allowed(params["output_path"]), limits)
        except (zipfile.BadZipFile, tarfile.TarError) as exc:
            raise ToolFailure(f"not a readable archive: {exc}") from None
        except OSError as exc:
            raise ToolFailure(f"{operation} failed: {exc.strerror or exc}") from None

    return Tool(
        name="archive-handler",
        description="Creates, lists and extracts zip and tar(.gz/.bz2/.xz) archives inside "
        "tools.allowed_paths",
        category="filesystem",
        schema=SCHEMA,
        run=handle,
        tags=("files", "archive", "offline"),
    )


def _format_of(params: dict[str, Any], path: str) -> str:
    if "format" in params:
        return str(params["format"])
    for fmt in sorted(FORMATS, key=len, reverse=True):
        if path.endswith("." + fmt):
            return fmt
    if path.endswith(".tgz"):
        return "tar.gz"
    raise ToolFailure(f"format is not given and {path!r} does not end in one of: {FORMATS}")


def _create(params: dict[str, Any], allowed: Any, limits: HostLimits) -> dict[str, Any]:
    output = allowed(params["output_path"])
    fmt = _format_of(params, params["output_path"])
    if "source_path" in params:
        source = allowed(params["source_path"])
        if not source.exists():
            raise ToolFailure(f"{params['source_path']!r} does not exist")
        base = source.parent
        sources = [source]
    else:
        sources = [allowed(p) for p in params["files"]]
        missing = [p for p, s in zip(params["files"], sources, strict=True) if not s.exists()]
        if missing:
            raise ToolFailure(f"{missing[0]!r} does not exist")
        base = Path(os.path.commonpath([s.parent for s in sources]))
    members: list[tuple[Path, str]] = []
    for source in sources:
        paths = [source] if source.is_file() else sorted(source.rglob("*"))
        for path in paths:
            if path.is_file() and not path.is_symlink() and path != output:
                allowed(str(path))
                members.append((path, path.relative_to(base).as_posix()))
    if len(members) > MAX_MEMBERS:
        raise ToolFailure(f"{len(members)} files; an archive may hold at most {MAX_MEMBERS}")
    total = sum(path.stat().st_size for path, _ in members)
    limits.check_size("archive contents", total)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "zip":
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, name in members:
                limits.check_stop()
                zf.write(path, name)
    else:
        with _tar_writer(output, fmt) as tf:
            for path, name in members:
                limits.check_stop()
                tf.add(path, name, recursive=False)
    return {
        "archive_path": str(output),
        "format": fmt,
        "files": [name for _, name in members],
        "count": len(members),
        "size": output.stat().st_size,
    }


def _tar_writer(output: Path, fmt: str) -> tarfile.TarFile:
    if fmt == "tar.gz":
        return tarfile.open(output, "w:gz")
    if fmt == "tar.bz2":
        return tarfile.open(output, "w:bz2")
    if fmt == "tar.xz":
        return tarfile.open(output, "w:xz")
    return tarfile.open(output, "w")


def _entries(archive: Path) -> list[dict[str, Any]]:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return [
                {"name": i.filename, "size": i.file_size, "is_dir": i.is_dir()}
                for i in zf.infolist()[: MAX_MEMBERS + 1]
            ]
    with tarfile.open(archive) as tf:
        return [
            {"name": m.name, "size": m.size, "is_dir": m.isdir()}
            for m in tf.getmembers()[: MAX_MEMBERS + 1]
        ]


def _target(output: Path, name: str) -> Path:
    target = (output / name).resolve()
    if target != output and not target.is_relative_to(output):
        raise ToolFailure(f"member {name!r} would be written outside the output folder; refused")
    return target


def _extract(archive: Path, output: Path, limits: HostLimits) -> dict[str, Any]:
    output.mkdir(parents=True, exist_ok=True)
    output = output.resolve()
    written: list[str] = []
    budget = [min(MAX_EXTRACT_BYTES, limits.max_value_bytes or MAX_EXTRACT_BYTES)]

    def copy(source: Any, target: Path, name: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            while chunk := source.read(CHUNK):
                limits.check_stop()
                budget[0] -= len(chunk)
                if budget[0] < 0:  # counted as written, so a lying header cannot pass
                    out.close()
                    target.unlink()
                    raise ToolFailure(
                        f"extracting {name!r} goes past {MAX_EXTRACT_BYTES} bytes in all "
                        "(or the script's memory limit); refused"
                    )
                out.write(chunk)
        written.append(name)

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _check_count(len(infos))
            for info in infos:
                target = _target(output, info.filename)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as source:
                    copy(source, target, info.filename)
    else:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            _check_count(len(members))
            for member in members:
                target = _target(output, member.name)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    raise ToolFailure(
                        f"member {member.name!r} is a link or special file; only files and "
                        "folders are extracted"
                    )
                content = tf.extractfile(member)
                if content is not None:
                    with content:
                        copy(content, target, member.name)
    return {"output_path": str(output), "files": written, "count": len(written)}


def _check_count(count: int) -> None:
    if count > MAX_MEMBERS:
        raise ToolFailure(f"the archive has {count} members; at most {MAX_MEMBERS} are extracted")
