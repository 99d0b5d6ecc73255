"""How the Python engine shows an object richly: IPython's display protocol
(`_repr_mimebundle_`, `_repr_html_`, `_repr_png_`...), so objects made for Jupyter (pandas
frames, matplotlib figures, small classes of the user's) look as they do under ipykernel."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable
from typing import Any

# IPython's formatters in its order: method name → mime type
REPR_METHODS = {
    "_repr_html_": "text/html",
    "_repr_markdown_": "text/markdown",
    "_repr_svg_": "image/svg+xml",
    "_repr_png_": "image/png",
    "_repr_pdf_": "application/pdf",
    "_repr_jpeg_": "image/jpeg",
    "_repr_latex_": "text/latex",
    "_repr_json_": "application/json",
    "_repr_javascript_": "application/javascript",
}
# binary formats travel base64-encoded in Jupyter messages
BINARY_MIMES = {"image/png", "image/jpeg", "application/pdf"}


def rich_bundle(value: Any, report: Callable[[str], None]) -> dict[str, Any]:
    """The mime types `value` offers besides text/plain (empty for a plain value). A method that
    fails is skipped, and `report` gets one line saying so (IPython prints a traceback)."""
    if inspect.isclass(value):  # a class's _repr_html_ is an unbound function, not its display
        return {}
    bundle: dict[str, Any] = {}
    mimebundle = _call_repr(value, "_repr_mimebundle_", report, include=None, exclude=None)
    if isinstance(mimebundle, dict):
        bundle.update(mimebundle)  # as in IPython, it wins over the single-format methods
    elif mimebundle is not None:
        report(f"_repr_mimebundle_ of {_kind(value)} returned {_kind(mimebundle)}, not a dict")
    for method, mime in REPR_METHODS.items():
        if mime not in bundle:
            data = _call_repr(value, method, report)
            if data is not None:
                bundle[mime] = data
    return {mime: _encoded(mime, data) for mime, data in bundle.items()}


def _call_repr(value: Any, method: str, report: Callable[[str], None], **kwargs: Any) -> Any:
    try:
        function = getattr(value, method, None)
    except Exception:
        return None  # a __getattr__ that fails for unknown names: the object has no such method
    if not callable(function):
        return None
    try:
        data = function(**kwargs)
    except Exception as exc:
        report(f"{method} of {_kind(value)} failed: {type(exc).__name__}: {exc}")
        return None
    if isinstance(data, tuple) and len(data) == 2:
        data = data[0]  # (data, metadata): the metadata (image size...) is not kept
    return data


def _encoded(mime: str, data: Any) -> Any:
    if mime in BINARY_MIMES and isinstance(data, (bytes, bytearray)):
        return base64.b64encode(data).decode("ascii")
    return data


def _kind(value: Any) -> str:
    return type(value).__name__
