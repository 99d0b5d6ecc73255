"""`RAG`: documents in (chunked, embedded, stored per scope), relevant chunks out."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    ensure_data,
    optional_number,
    optional_str,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiContext, ApiNamespace, ValidationError
from llmspell.runtime.display import Records, register_renderer
from llmspell.runtime.display.rag import ingest_progress, render_rag_value
from llmspell.runtime.times import format_optional_time, format_time

if TYPE_CHECKING:
    from llmspell.runtime.rag import DocumentInfo, IngestReport, RagHit, RagManager
    from llmspell.runtime.rag.manager import Progress

# `collection` and `tenant_id` are rs-llmspell's ways to name where documents go (see _target)
TARGET_OPTIONS = frozenset({"scope", "scope_id", "collection", "tenant_id"})
INGEST_OPTIONS = TARGET_OPTIONS | {"chunk_size", "chunk_overlap", "ttl_s"}
FILE_OPTIONS = INGEST_OPTIONS | {"id", "metadata", "format"}
SEARCH_OPTIONS = TARGET_OPTIONS | {
    "k",
    "top_k",
    "limit",
    "threshold",
    "filters",
    "hybrid",
    "rerank",
}
COLLECTION_SCOPE = "collection"
CONFIGURE_OPTIONS = frozenset(
    {"provider", "embedding_model", "vector_dimensions", "chunk_size", "chunk_overlap"}
)
SESSION_OPTIONS = frozenset({"ttl", "ttl_s", "max_vectors"})
CONFIGURE_SESSION_OPTIONS = SESSION_OPTIONS | {"persist", "auto_ingest"}
DOCUMENT_COLUMNS = ["document_id", "chunks", "ingested_at", "expires_at", "scope", "scope_id",
                    "metadata"]  # fmt: skip
PROVIDER_COLUMNS = ["name", "active", "model", "default_model", "offline", "models",
                    "description"]  # fmt: skip


def _manager(ctx: ApiContext) -> RagManager:
    from llmspell.runtime.rag import RagManager

    return ctx.infrastructure.get(RagManager)


def report_record(report: IngestReport) -> dict[str, Any]:
    return {
        "success": True,
        "documents_processed": report.documents_processed,
        "chunks_created": report.chunks_created,
        "vectors_created": report.vectors_created,
        "total_tokens": report.total_tokens,
    }


def hit_record(hit: RagHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "document_id": hit.document_id,
        "content": hit.content,
        "score": hit.score,
        "metadata": hit.metadata,
    }


def document_record(doc: DocumentInfo) -> dict[str, Any]:
    return {
        "document_id": doc.document_id,
        "chunks": doc.chunks,
        "ingested_at": format_time(doc.ingested_at),
        "expires_at": format_optional_time(doc.expires_at),
        "scope": doc.scope,
        "scope_id": doc.scope_id,
        "metadata": doc.metadata,
    }


class RagApi(ApiNamespace):
    """Retrieval-augmented generation: ingest documents, search their chunks by meaning and
    keywords, per scope (global, a session, any named scope)."""

    api_name = "RAG"

    @property
    def _rag(self) -> RagManager:
        return _manager(self._ctx)

    def ingest(self, documents: Any, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Chunk, embed and store one document or a list of them; a document is a table
        `{content (or text), id?, metadata?}` (or a string). Options: `scope`/`scope_id` (no
        scope, or scope "global": the global collection), `collection` (a named collection:
        scope "collection"), `tenant_id` (must be this runtime's), `chunk_size`,
        `chunk_overlap` (tokens; defaults from `[rag]` or `RAG.configure`), `ttl_s` (the
        chunks expire then). A document's metadata may give its event time (`timestamp`,
        `created_at` or `event_time`: Unix seconds or RFC 3339) and its own lifetime (`ttl`,
        `ttl_seconds` or `expires_in`, seconds). Re-ingesting a document id replaces its
        chunks. Returns `{success, documents_processed, chunks_created, vectors_created,
        total_tokens}`."""
        fn = "RAG.ingest"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, INGEST_OPTIONS)
        docs = _documents(fn, documents)
        report = self._rag.ingest(
            docs, progress=self._progress(), **_ingest_options(fn, opts, self._ctx.tenant_id)
        )
        return report_record(report)

    def ingest_file(self, path: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ingest one file inside `tools.allowed_paths`: text, markdown, HTML (its visible
        text) or PDF (needs pypdf: `pip install 'llmspell[pdf]'`). Options: those of `ingest`
        plus `id` (default: the file's path), `metadata` and `format` (text, markdown, html,
        pdf; default from the extension). The metadata gets `source`, `format` and `title`."""
        fn = "RAG.ingest_file"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, FILE_OPTIONS)
        metadata = require_table(fn, "metadata", opts.get("metadata"))
        report = self._rag.ingest_file(
            require_str(fn, "path", path),
            document_id=optional_str(fn, "id", opts.get("id")) or None,
            metadata=ensure_data(fn, "metadata", metadata),
            format=optional_str(fn, "format", opts.get("format")),
            progress=self._progress(),
            **_ingest_options(
                fn, {k: v for k, v in opts.items() if k in INGEST_OPTIONS}, self._ctx.tenant_id
            ),
        )
        return report_record(report)

    def search(self, query: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The chunks most relevant to `query`: `{success, query, total, results = [{id,
        document_id, content, score, metadata}]}`, best first, `score` in [0, 1]. Options:
        `k` (default 10; aliases `top_k`, `limit`), `threshold` (drop scores below it),
        `filters` (exact metadata matches), `scope`/`scope_id` (no scope, or "global": only
        the global collection; "tenant": this runtime's tenant, whose collection is the global
        one), `collection` (a named collection), `tenant_id` (must be this runtime's),
        `hybrid` (default true: meaning and keywords fused by rank; false: meaning only),
        `rerank` (true: the best candidates re-ranked by aligning the query's words with each
        chunk's, offline with the bundled model)."""
        fn = "RAG.search"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, SEARCH_OPTIONS)
        given = {name: opts[name] for name in ("k", "top_k", "limit") if opts.get(name) is not None}
        if len(set(map(str, given.values()))) > 1:
            raise ValidationError(
                f"{fn}: k, top_k and limit are the same option; got different values "
                f"{', '.join(f'{n}={v}' for n, v in given.items())}"
            )
        k = require_int(fn, "k", next(iter(given.values()), 10), minimum=1, maximum=1000)
        hybrid = opts.get("hybrid", True)
        if not isinstance(hybrid, bool):
            raise ValidationError(f"{fn}: hybrid must be true or false, got {type_name(hybrid)}")
        rerank = opts.get("rerank", False)
        if not isinstance(rerank, bool):
            raise ValidationError(f"{fn}: rerank must be true or false, got {type_name(rerank)}")
        filters = require_table(fn, "filters", opts.get("filters"))
        scope, scope_id = _target(fn, opts, self._ctx.tenant_id)
        hits = self._rag.search(
            require_str(fn, "query", query),
            k=k,
            threshold=optional_number(fn, "threshold", opts.get("threshold")),
            filters=ensure_data(fn, "filters", filters) or None,
            scope=scope,
            scope_id=scope_id,
            hybrid=hybrid,
            rerank=rerank,
        )
        return {
            "success": True,
            "query": query,
            "total": len(hits),
            "results": [hit_record(h) for h in hits],
        }

    def delete(self, document_id: str, options: dict[str, Any] | None = None) -> int:
        """Delete a document's chunks from the global collection (or from `scope`/`scope_id`
        given as options); returns how many chunks went."""
        fn = "RAG.delete"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"scope", "scope_id"})
        return self._rag.delete(
            require_str(fn, "document_id", document_id),
            optional_str(fn, "scope", opts.get("scope")),
            optional_str(fn, "scope_id", opts.get("scope_id")),
        )

    def cleanup_scope(self, scope: str, scope_id: str | None = None) -> int:
        """Delete a scope's whole collection (`cleanup_scope("session", id)`, or as one string
        `cleanup_scope("session:" .. id)`); returns how many chunks went."""
        fn = "RAG.cleanup_scope"
        scope = require_str(fn, "scope", scope)
        if scope_id is None:
            if ":" not in scope:
                raise ValidationError(
                    f'{fn}: give the scope and its id: cleanup_scope("session", id) or '
                    f'cleanup_scope("session:" .. id); got only {scope!r}'
                )
            scope, scope_id = scope.split(":", 1)
        return self._rag.cleanup_scope(scope, require_str(fn, "scope_id", scope_id))

    def list_documents(self, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """`list_documents{scope?, scope_id?, limit?}`: the documents of a collection (every
        collection of `scope` when no scope_id is given; the global one when neither), most
        recently ingested first: `[{document_id, chunks, metadata, ingested_at, expires_at,
        scope, scope_id}]`."""
        fn = "RAG.list_documents"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"scope", "scope_id", "limit"})
        limit = opts.get("limit")
        docs = self._rag.list_documents(
            optional_str(fn, "scope", opts.get("scope")),
            optional_str(fn, "scope_id", opts.get("scope_id")),
            None if limit is None else require_int(fn, "limit", limit, minimum=0),
        )
        return Records([document_record(d) for d in docs], DOCUMENT_COLUMNS)

    def get_stats(self, scope: str | None = None, scope_id: str | None = None) -> dict[str, Any]:
        """`{documents, chunks, vectors, dimensions, storage_bytes, embedding_model,
        collections}` and rs-llmspell's `total_vectors` (= vectors), `namespace_count`
        (= collections): of the global collection (no scope, "global" or "tenant" with this
        runtime's tenant id), of one scope's collection, or of every collection of `scope`
        (no scope_id)."""
        fn = "RAG.get_stats"
        target = _target(fn, {"scope": scope, "scope_id": scope_id}, self._ctx.tenant_id)
        stats = self._rag.stats(*target)
        stats["total_vectors"] = stats["vectors"]
        stats["namespace_count"] = stats["collections"]
        return stats

    def create_session_collection(self, session_id: str, options: Any = None) -> dict[str, Any]:
        """Give a session's collection (scope "session") a lifetime: its chunks, those there
        and those ingested later, expire `ttl_s` seconds from now (nil: never), and
        optionally a size cap. The second argument is `ttl_s` or a table `{ttl (or ttl_s)?,
        max_vectors?}` (an ingest past `max_vectors` chunks is refused). Deleting the Session
        deletes the collection. Returns `{created (false: it existed), namespace, session_id,
        scope, ttl_s, expires_at, max_vectors}`."""
        fn = "RAG.create_session_collection"
        ttl_s, max_vectors = _session_settings(fn, options)
        return self._session_collection(fn, session_id, ttl_s, max_vectors)

    def configure_session(self, session_id: str, options: dict[str, Any] | None = None) -> Any:
        """Settings of a session's collection: `ttl` (or `ttl_s`) and `max_vectors` as in
        `create_session_collection`, `persist` (default true; false: the collection is
        deleted when this runtime closes) and `auto_ingest` (only false: nothing is ingested
        by itself here). Returns what `create_session_collection` returns, plus `persist`."""
        fn = "RAG.configure_session"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, CONFIGURE_SESSION_OPTIONS)
        if opts.get("auto_ingest") is not None:
            auto = opts["auto_ingest"]
            if not isinstance(auto, bool):
                raise ValidationError(f"{fn}: auto_ingest must be true or false")
            if auto:
                raise ValidationError(
                    f"{fn}: auto_ingest = true is not supported: nothing is ingested into a "
                    "session's collection by itself; ingest with RAG.ingest(doc, "
                    '{scope = "session", scope_id = id})'
                )
        persist = opts.get("persist", True)
        if not isinstance(persist, bool):
            raise ValidationError(f"{fn}: persist must be true or false, got {type_name(persist)}")
        ttl_s, max_vectors = _session_settings(
            fn, {k: v for k, v in opts.items() if k in SESSION_OPTIONS}
        )
        made = self._session_collection(fn, session_id, ttl_s, max_vectors)
        self._rag.sessions.keep(made["session_id"], persist)
        return {**made, "persist": persist}

    def _session_collection(
        self, fn: str, session_id: str, ttl_s: float | None, max_vectors: int | None
    ) -> dict[str, Any]:
        made = self._rag.sessions.create(
            require_str(fn, "session_id", session_id), ttl_s, max_vectors
        )
        return {
            "created": made.created,
            "namespace": f"session:{made.session_id}",
            "session_id": made.session_id,
            "scope": "session",
            "ttl_s": made.ttl_s,
            "expires_at": format_optional_time(made.expires_at),
            "max_vectors": made.max_vectors,
        }

    def configure(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """This runtime's RAG settings. `chunk_size` and `chunk_overlap` set the chunk window
        of later ingests here. `provider`, `embedding_model` and `vector_dimensions` are
        checked, not changed: the embedder is chosen in llmspell.toml `[embeddings]` (a
        script may not redirect documents to another service), so a value other than the
        active one is an error. Returns `{success, provider, embedding_model,
        vector_dimensions, chunk_size, chunk_overlap}`."""
        fn = "RAG.configure"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, CONFIGURE_OPTIONS)
        embedder = self._rag.embedder
        active = {
            "provider": embedder.provider.name,
            "embedding_model": embedder.model,
            "vector_dimensions": embedder.dimension,
        }
        for key, value in active.items():
            given = opts.get(key)
            if given is not None and given != value:
                raise ValidationError(
                    f"{fn}: {key} is {value!r} here and a script cannot change it (set it in "
                    f"llmspell.toml [embeddings]); got {given!r}"
                )
        size, overlap = opts.get("chunk_size"), opts.get("chunk_overlap")
        self._rag.set_chunk_window(
            None if size is None else require_int(fn, "chunk_size", size),
            None if overlap is None else require_int(fn, "chunk_overlap", overlap),
        )
        size, overlap = self._rag.chunk_window()
        return {"success": True, **active, "chunk_size": size, "chunk_overlap": overlap}

    def save(self) -> bool:
        """Kept for rs-llmspell scripts: every ingest is already in storage. Returns true."""
        _ = self._rag
        return True

    def list_providers(self) -> list[dict[str, Any]]:
        """The embedding providers (`[embeddings] provider`): which one is active, its model,
        and whether it works offline."""
        return Records(self._rag.list_providers(), PROVIDER_COLUMNS)

    def _progress(self) -> Progress:
        """Progress of a large ingest as one display that updates in place (frontends that
        cannot update ignore it)."""
        display_id = f"rag-ingest-{uuid.uuid4().hex}"
        shown = False

        def report(done: int, total: int) -> None:
            nonlocal shown
            bundle = ingest_progress(done, total)
            self._ctx.sink.display(bundle, {}, display_id=display_id, update=shown)
            shown = True

        return report


def _session_settings(fn: str, options: Any) -> tuple[float | None, int | None]:
    """(ttl_s, max_vectors) from `ttl_s` or `{ttl (or ttl_s)?, max_vectors?}`."""
    if options is None or (isinstance(options, int | float) and not isinstance(options, bool)):
        return optional_number(fn, "ttl_s", options), None
    opts = require_table(fn, "options", options)
    check_options(fn, opts, SESSION_OPTIONS)
    if opts.get("ttl") is not None and opts.get("ttl_s") is not None:
        raise ValidationError(f"{fn}: ttl and ttl_s are the same option; give one")
    ttl = opts.get("ttl", opts.get("ttl_s"))
    cap = opts.get("max_vectors")
    return (
        optional_number(fn, "ttl_s", ttl),
        None if cap is None else require_int(fn, "max_vectors", cap, minimum=1),
    )


def _documents(fn: str, value: Any) -> list[Any]:
    from llmspell.runtime.rag import Document

    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValidationError(f"{fn}: documents must not be empty")
    docs = []
    for i, item in enumerate(items, start=1):
        if isinstance(item, str):
            item = {"content": item}
        if not isinstance(item, dict):
            raise ValidationError(
                f"{fn}: document {i} must be a table {{content, id?, metadata?}} or a string, "
                f"got {type_name(item)}"
            )
        check_options(fn, item, {"content", "text", "id", "metadata"})
        if "content" in item and "text" in item:
            raise ValidationError(f"{fn}: document {i} has both content and text; give one")
        content = item.get("content", item.get("text"))
        if content is None:
            raise ValidationError(f"{fn}: document {i} needs content (or text)")
        metadata = require_table(fn, f"document {i} metadata", item.get("metadata"))
        docs.append(
            Document(
                require_str(fn, f"document {i} content", content),
                optional_str(fn, f"document {i} id", item.get("id")) or None,
                ensure_data(fn, f"document {i} metadata", metadata),
            )
        )
    return docs


def _own_tenant(fn: str, tenant_id: Any, own: str) -> None:
    if require_str(fn, "tenant_id", tenant_id) != own:
        raise ValidationError(
            f"{fn}: tenant_id {tenant_id!r} is not this runtime's tenant {own!r}; a runtime "
            "reads and writes only its own tenant's data"
        )


def _target(fn: str, opts: dict[str, Any], tenant: str) -> tuple[str | None, str | None]:
    """The (scope, scope_id) an ingest or search names. Besides `scope`/`scope_id`:
    `collection = name` (rs-llmspell's named collections: scope "collection"), `tenant_id`
    and `scope = "tenant"` (this runtime's own tenant, whose collections these all are;
    another tenant's is refused; alone it means the global collection) and `scope =
    "global"` (the global collection)."""
    scope = optional_str(fn, "scope", opts.get("scope"))
    scope_id = optional_str(fn, "scope_id", opts.get("scope_id"))
    if opts.get("tenant_id") is not None:
        _own_tenant(fn, opts["tenant_id"], tenant)
    if scope == "tenant":
        if scope_id is not None:
            _own_tenant(fn, scope_id, tenant)
        scope = scope_id = None
    name = opts.get("collection")
    if name is None:
        return scope, scope_id
    if scope is not None or scope_id is not None:
        raise ValidationError(
            f"{fn}: give collection or scope/scope_id, not both (collection = name is "
            f'scope = "{COLLECTION_SCOPE}", scope_id = name)'
        )
    return COLLECTION_SCOPE, require_str(fn, "collection", name)


def _ingest_options(fn: str, opts: dict[str, Any], tenant: str) -> dict[str, Any]:
    size, overlap = opts.get("chunk_size"), opts.get("chunk_overlap")
    scope, scope_id = _target(fn, opts, tenant)
    return {
        "scope": scope,
        "scope_id": scope_id,
        "chunk_size": None if size is None else require_int(fn, "chunk_size", size),
        "chunk_overlap": None if overlap is None else require_int(fn, "chunk_overlap", overlap),
        "ttl_s": optional_number(fn, "ttl_s", opts.get("ttl_s")),
    }


register_renderer(render_rag_value)
