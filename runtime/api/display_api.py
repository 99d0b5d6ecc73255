"""`Display` and `display()`: rich output (HTML, Markdown, JSON, images, tables) for notebooks;
in the CLI these degrade to text."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from llmspell.runtime.api.arguments import require_str, type_name
from llmspell.runtime.api.base import ApiError, ApiNamespace, ValidationError, raw_args, raw_of
from llmspell.runtime.display import html_table, json_safe, text_table
from llmspell.runtime.tools.paths import PathNotAllowed, check_path_length, resolve_allowed_path
from llmspell.storage.values import shown

IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp")
_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


class DisplayApi(ApiNamespace):
    """Rich output for notebooks: HTML, Markdown, JSON, images, tables."""

    api_name = "Display"

    def html(self, markup: str) -> None:
        """Show HTML markup (text/html; the CLI prints the markup)."""
        markup = require_str("Display.html", "markup", markup, allow_empty=True)
        self._emit({"text/html": markup, "text/plain": markup})

    def markdown(self, text: str) -> None:
        """Show Markdown (text/markdown; the CLI prints the text)."""
        text = require_str("Display.markdown", "text", text, allow_empty=True)
        self._emit({"text/markdown": text, "text/plain": text})

    def json(self, value: Any) -> None:
        """Show a table or value as indented JSON text (arrays as `[...]`, never as a tree
        with 0-based indices; the data itself in the display's metadata under `llmspell.json`)."""
        plain = json_safe(value)
        if plain is None:
            raise ValidationError(
                f"Display.json: value must be JSON-able data, got {type_name(value)}"
            )
        text = json.dumps(plain, indent=2, ensure_ascii=False, sort_keys=True)
        # Not application/json: Lab and VS Code show that as a tree whose array indices start
        # at 0, which misreads a Lua array; the text is what every frontend shows the same.
        self._ctx.sink.display({"text/plain": text}, {"llmspell": {"json": plain}})

    def image(self, data_or_path: str | bytes, mime: str | None = None) -> None:
        """Show an image from raw bytes or a file path; `mime` is one of image/png, image/jpeg,
        image/gif, image/svg+xml, image/webp (guessed from the bytes or file extension if omitted).
        Under a sandboxed engine (Lua in safe mode) a path must lie under the working directory
        or `tools.allowed_paths`."""
        data = self._image_bytes(data_or_path)
        mime = mime or _guess_mime(data, data_or_path)
        if mime not in IMAGE_MIMES:
            raise ValidationError(
                f"Display.image: mime must be one of {', '.join(IMAGE_MIMES)}, got {mime!r}"
            )
        payload: str = data.decode() if mime == "image/svg+xml" else base64.b64encode(data).decode()
        self._emit({mime: payload, "text/plain": f"<{mime} image, {len(data)} bytes>"})

    def table(self, rows: Any) -> None:
        """Show a list of records (tables with named fields) as a table."""
        if rows == {}:
            rows = []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValidationError(
                "Display.table: rows must be a list of tables with named fields, "
                f"got {type_name(rows)}"
            )
        self._emit({"text/html": html_table(rows), "text/plain": text_table(rows)})

    def clear(self, wait: bool = False) -> None:
        """Clear this cell's output (with `wait`, when the next output arrives)."""
        self._ctx.sink.clear(bool(wait))

    def _emit(self, bundle: dict[str, Any]) -> None:
        self._ctx.sink.display(bundle, {})

    def _image_bytes(self, data_or_path: str | bytes) -> bytes:
        if isinstance(data_or_path, bytes):
            return data_or_path
        text = require_str("Display.image", "data_or_path", data_or_path)
        if text.lstrip().startswith("<svg") or text.lstrip().startswith("<?xml"):
            return text.encode()
        check_path_length("data_or_path", text)
        path = Path(text)
        if not self._ctx.engine_trusted:
            roots = [str(Path.cwd()), *self._ctx.config.tools.allowed_paths]
            try:
                path = resolve_allowed_path(text, roots)
            except PathNotAllowed:
                raise ValidationError(
                    f"Display.image: {shown(text)} is outside the working directory and "
                    "tools.allowed_paths (safe mode)"
                ) from None
        try:
            return path.expanduser().read_bytes()
        except OSError as exc:
            raise ApiError(f"Display.image: cannot read {shown(text)}: {exc.strerror}") from None


class DisplayFunction(ApiNamespace):
    """Holds the `display(value)` global."""

    api_name = ""

    @raw_args("value")
    def display(self, value: Any) -> None:
        """Show any value as rich output: lists of records as a table, values with a picture of
        their own (workflow results, image artifacts...) as that picture, other values in their
        readable form."""
        self._ctx.sink.display(self._ctx.bundle_for(raw_of(value)), {})


def _guess_mime(data: bytes, source: str | bytes) -> str:
    for magic, mime in _MAGIC.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.lstrip().startswith((b"<svg", b"<?xml")):
        return "image/svg+xml"
    what = repr(source) if isinstance(source, str) else "the data"
    raise ValidationError(
        f"Display.image: cannot tell the image type of {what}; "
        f"pass mime (one of {', '.join(IMAGE_MIMES)})"
    )
