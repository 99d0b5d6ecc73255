"""How values show in a notebook: mime bundles for every value (`bundles`), and the pictures of
values that have their own — memory graphs (`graph`), RAG results and ingest progress (`rag`),
assembled context (`context`)."""

from llmspell.runtime.display.bundles import (
    MAX_HTML_ROWS,
    Records,
    Renderer,
    data_bundle,
    html_table,
    json_safe,
    picture_first,
    records_columns,
    register_renderer,
    text_table,
)

__all__ = [
    "MAX_HTML_ROWS",
    "Records",
    "Renderer",
    "data_bundle",
    "html_table",
    "json_safe",
    "picture_first",
    "records_columns",
    "register_renderer",
    "text_table",
]
