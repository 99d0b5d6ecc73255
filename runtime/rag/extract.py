"""Text out of files: plain text and markdown as they are, HTML through a real parser (scripts,
styles and other non-content elements dropped, block elements as paragraph breaks), PDF page by
page with `pypdf` when it is installed (`pip install 'llmspell[pdf]'`)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from llmspell.runtime.errors import InvalidArgument, ServiceError

FORMATS = ("text", "markdown", "html", "pdf")
EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".csv": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
# Elements whose text is not content.
_SKIPPED = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th",
    "tr", "ul",
}  # fmt: skip
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source"}


@dataclass
class Extracted:
    """A file's text and what was learnt about it (`title`, `pages` for PDF)."""

    text: str
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)


def format_of(path: Path, given: str | None = None) -> str:
    """The format to read `path` as: `given`, else by its extension (unknown: text)."""
    if given is not None:
        if given not in FORMATS:
            raise InvalidArgument(f"format must be one of {', '.join(FORMATS)}, got {given!r}")
        return given
    return EXTENSIONS.get(path.suffix.lower(), "text")


def extract(data: bytes, fmt: str, name: str) -> Extracted:
    """The text of a file's bytes read as `fmt` (`name` is how errors call the file)."""
    if fmt == "pdf":
        return _pdf(data, name)
    text = _decoded(data, name)
    if fmt == "html":
        parser = _HtmlText()
        parser.feed(text)
        parser.close()
        meta = {"title": parser.title} if parser.title else {}
        return Extracted(parser.text(), fmt, meta)
    meta = {}
    if fmt == "markdown":
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
        if heading:
            meta["title"] = heading.group(1)
    return Extracted(text, fmt, meta)


def _decoded(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise InvalidArgument(
            f"{name} is binary (it holds NUL bytes); readable formats: {', '.join(FORMATS)}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML document and its <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skipping: list[str] = []
        self._in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIPPED and tag not in _VOID:
            self._skipping.append(tag)
        if tag in _BLOCKS:
            self._parts.append("\n\n" if tag not in ("br", "td", "th") else "\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()
        if tag in _BLOCKS:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        if not self._skipping:
            self._parts.append(data)

    def text(self) -> str:
        raw = "".join(self._parts)
        lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in raw.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _pdf(data: bytes, name: str) -> Extracted:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise ServiceError(
            f"{name} is a PDF, and reading PDF needs the pypdf package, which is not installed: "
            "pip install 'llmspell[pdf]'"
        ) from None
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"{name} is not a readable PDF: {exc}") from None
    title = ""
    if reader.metadata is not None and reader.metadata.title:
        title = str(reader.metadata.title)
    meta: dict[str, Any] = {"pages": len(pages)}
    if title:
        meta["title"] = title
    return Extracted("\n\n".join(page for page in pages if page), "pdf", meta)


__all__ = ["EXTENSIONS", "FORMATS", "Extracted", "extract", "format_of"]
